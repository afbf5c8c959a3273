// The transformer: counts, cache parity (MLA absorbed/naive, GQA), MoE dispatch, gradients,
// checkpoints and every bad-input path of config/safetensors loading.
#include <doctest/doctest.h>
#include <torch/torch.h>

#include <fstream>

#include "policy/checkpoint.h"
#include "policy/cpu_decode.h"
#include "policy/model_config.h"
#include "policy/safetensors.h"
#include "policy/transformer.h"
#include "tests/policy/tiny_configs.h"
#include "tests/test_util.h"

using namespace r1::policy;
using r1::test::TempDir;

namespace {

// Incremental decoding through a cache of `slots` rows, prompt prefilled in one call, then one
// token at a time; returns the logits of every position, [1, T, V].
torch::Tensor decode_with_cache(CausalLM& m, const torch::Tensor& ids, bool absorb, int64_t prefill) {
  const auto& c = m->config();
  const int64_t T = ids.size(1), L = T + 2;
  std::vector<LayerKv> layers;
  auto o = torch::TensorOptions().dtype(torch::kFloat64);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    if (c.mla()) layers.push_back({torch::zeros({2, L, c.kv_lora_rank}, o), torch::zeros({2, L, c.qk_rope_head_dim}, o)});
    else layers.push_back({torch::zeros({2, L, c.num_key_value_heads, c.gqa_head_dim()}, o),
                           torch::zeros({2, L, c.num_key_value_heads, c.gqa_head_dim()}, o)});
  }
  // Use slot 1 (not 0) so the gather path is exercised.
  CacheBatch cb;
  cb.layers = &layers;
  cb.slots = torch::tensor({int64_t{1}});
  cb.absorb = absorb;
  std::vector<torch::Tensor> outs;
  int64_t pos = 0;
  while (pos < T) {
    int64_t n = pos == 0 ? prefill : 1;
    cb.lengths = torch::tensor({pos});
    cb.span = pos + n;
    outs.push_back(m->forward(ids.narrow(1, pos, n), {}, &cb));
    pos += n;
  }
  return torch::cat(outs, 1);
}

// The same in float32, one token at a time from the first (the decode kernel's path), in slot
// `slot` of a cache of `slots` rows; [1, T, V].
torch::Tensor decode_fp32_token_by_token(CausalLM& m, const torch::Tensor& ids, int64_t slots, int64_t slot) {
  const auto& c = m->config();
  const int64_t T = ids.size(1), L = T + 2;
  std::vector<LayerKv> layers;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    if (c.mla()) layers.push_back({torch::zeros({slots, L, c.kv_lora_rank}), torch::zeros({slots, L, c.qk_rope_head_dim})});
    else layers.push_back({torch::zeros({slots, L, c.num_key_value_heads, c.gqa_head_dim()}),
                           torch::zeros({slots, L, c.num_key_value_heads, c.gqa_head_dim()})});
  }
  CacheBatch cb;
  cb.layers = &layers;
  cb.slots = torch::tensor({slot});
  std::vector<torch::Tensor> outs;
  for (int64_t t = 0; t < T; ++t) {
    cb.lengths = torch::tensor({t});
    cb.span = t + 1;
    outs.push_back(m->forward(ids.narrow(1, t, 1), {}, &cb));
  }
  return torch::cat(outs, 1);
}

}  // namespace

TEST_CASE("DeepSeek-V3 671B: 671B total and 37.55B activated parameters, counted from config.json") {
  R1_REQUIRE_SHARED(shared);
  ModelConfig c = ModelConfig::load(shared + "/models/deepseek-v3-671b/config.json");
  ModelCounts n = count_model(c);
  MESSAGE("total " << n.total_params / 1e9 << "B, activated " << n.activated_params / 1e9 << "B");
  CHECK(n.total_params == doctest::Approx(671.03e9).epsilon(0.001));
  CHECK(n.total_params == doctest::Approx(671e9).epsilon(0.01));
  CHECK(n.activated_params == doctest::Approx(37.55e9).epsilon(0.01));
  CHECK(n.attention_params_per_layer == doctest::Approx(187.11e6).epsilon(0.001));
  CHECK(n.kv_cache_bytes_per_token == 61 * 576 * 2);  // latent + rope key, bf16
  // Written back, the file keeps the keys we do not model and loads to the same model.
  r1::text::Value written = c.to_json();
  CHECK(written["num_nextn_predict_layers"].as_int() == 1);
  CHECK(written["hidden_act"].as_string() == "silu");
  CHECK(count_model(ModelConfig::from_json(written, "written")).total_params == n.total_params);
}

TEST_CASE("config.json binds through the field list both ways: every field, unknown keys and HF spellings kept") {
  using r1::text::Value;
  for (const ModelConfig& c : {r1::test::tiny_v3(), r1::test::tiny_v3(false, false), r1::test::tiny_qwen2()}) {
    Value written = c.to_json();
    ModelConfig back = ModelConfig::from_json(written, "written");
    CHECK(back.to_json() == written);
    CHECK(count_model(back).total_params == count_model(c).total_params);
    CHECK(back.q_lora_rank == c.q_lora_rank);
    CHECK(back.rope_scaling.type == c.rope_scaling.type);
    CHECK(back.softmax_scale() == c.softmax_scale());
    // Hugging Face's conventions: "not set" is null, and dense files carry no MLA or MoE keys.
    if (c.mla()) CHECK(written["q_lora_rank"].is_null() == (c.q_lora_rank == 0));
    else CHECK(!written.contains("kv_lora_rank"));
  }
  // A Llama-3 file: rope_type spelling, a list of end tokens, dtype, keys we do not model.
  Value llama = r1::text::parse_json(R"({"model_type": "llama", "vocab_size": 64, "hidden_size": 32,
    "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 2.0, "high_freq_factor": 6.0,
    "original_max_position_embeddings": 64}, "eos_token_id": [7, 9], "dtype": "bfloat16",
    "architectures": ["LlamaForCausalLM"], "hidden_act": "silu"})", "llama");
  ModelConfig l = ModelConfig::from_json(llama, "llama/config.json");
  CHECK(l.rope_scaling.type == "llama3");
  CHECK(l.rope_scaling.low_freq_factor == 2.0);
  CHECK(l.eos_token_id == 7);
  CHECK(l.torch_dtype == "bfloat16");
  Value w = l.to_json();
  CHECK(w["architectures"][0].as_string() == "LlamaForCausalLM");
  CHECK(w["hidden_act"].as_string() == "silu");
  // llama3's frequency factors survive a save (the hand-written writer dropped them).
  ModelConfig l2 = ModelConfig::from_json(w, "saved");
  CHECK(l2.rope_scaling.low_freq_factor == 2.0);
  CHECK(l2.rope_scaling.high_freq_factor == 6.0);
  CHECK(l2.to_json() == w);
  // Errors name the file and the dotted key, in the words recipes use.
  Value bad = llama;
  Value rs = bad["rope_scaling"];
  rs.set("factor", Value("eight"));
  bad.set("rope_scaling", rs);
  try {
    ModelConfig::from_json(bad, "llama/config.json");
    FAIL("no error for a string factor");
  } catch (const PolicyError& e) {
    CHECK(std::string(e.what()) == "llama/config.json: rope_scaling.factor: expected a number, got a string \"eight\"");
  }
}

TEST_CASE("counting a tiny model agrees with the allocated parameters") {
  for (const ModelConfig& c : {r1::test::tiny_v3(), r1::test::tiny_v3(false, false), r1::test::tiny_qwen2()}) {
    CausalLM m(c);
    double allocated = 0;
    for (const auto& [k, t] : m->state())
      if (k.find("e_score_correction_bias") == std::string::npos || c.has_selection_bias()) allocated += t.numel();
    CHECK(count_model(c).total_params == allocated);
  }
}

TEST_CASE("cached incremental decoding gives the logits of a full forward pass (MLA absorbed, MLA naive, GQA)") {
  torch::manual_seed(0);
  for (const ModelConfig& c : {r1::test::tiny_v3(), r1::test::tiny_v3(false, false), r1::test::tiny_qwen2()}) {
    CausalLM m(c);
    m->init_weights(7);
    m->eval();
    m->to(torch::kFloat64);
    torch::NoGradGuard ng;
    auto ids = torch::randint(0, c.vocab_size, {1, 12}, torch::kLong);
    auto full = m->forward(ids);
    for (bool absorb : {true, false}) {
      if (!c.mla() && !absorb) continue;
      auto cached = decode_with_cache(m, ids, absorb, 5);
      double diff = (cached - full).abs().max().item<double>();
      INFO(c.model_type << " absorb=" << absorb << " max diff " << diff);
      CHECK(diff < 1e-10);
    }
  }
}

TEST_CASE("the float32 CPU decode kernel matches the generic attention (MLA absorbed, GQA)") {
  torch::manual_seed(3);
  for (const ModelConfig& c : {r1::test::tiny_v3(), r1::test::tiny_qwen2()}) {
    CausalLM m(c);
    m->init_weights(8);
    m->eval();
    torch::NoGradGuard ng;
    auto ids = torch::randint(0, c.vocab_size, {1, 14}, torch::kLong);
    auto full = m->forward(ids);  // float32, generic path
    CHECK((decode_fp32_token_by_token(m, ids, 3, 2) - full).abs().max().item<double>() < 1e-4);
  }
}

TEST_CASE("the packed small-batch linear equals torch's linear and follows in-place weight updates") {
  if (!packed_kernel_available()) {
    MESSAGE("skipped: this CPU has no AVX2 + FMA, the packed kernel is never used");
    return;
  }
  torch::manual_seed(5);
  {
    torch::NoGradGuard ng;
    for (int64_t M : std::vector<int64_t>{1, 5, 6, 7, 8, 13, 14, 64, 199, PackedWeight::kMaxRows})
      for (auto [K, N] : std::vector<std::pair<int64_t, int64_t>>{{37, 21}, {64, 128}, {384, 16}}) {
        auto w = torch::randn({N, K}), b = torch::randn({N}), x = torch::randn({M, K});
        PackedWeight p;
        REQUIRE(PackedWeight::applies(x, w));
        auto want = torch::addmm(b, x, w.t());
        double diff = (p.linear(x, w, b) - want).abs().max().item<double>();
        INFO("M " << M << " K " << K << " N " << N << " diff " << diff);
        CHECK(diff < 1e-4 * std::sqrt(static_cast<double>(K)));
        CHECK((p.linear(x.view({M, 1, K}), w, {}) - torch::mm(x, w.t()).view({M, 1, N})).abs().max().item<double>() < 1e-3);
      }
    CHECK_FALSE(PackedWeight::applies(torch::randn({PackedWeight::kMaxRows + 1, 8}), torch::randn({4, 8})));
    CHECK_FALSE(PackedWeight::applies(torch::randn({4, 8}, torch::kFloat64), torch::randn({4, 8}, torch::kFloat64)));
  }
  torch::nn::Linear lin(32, 24);
  PackedWeight packed;
  auto x = torch::randn({4, 32});
  auto reference = [&] {
    torch::NoGradGuard ng;
    return torch::addmm(lin->bias, x, lin->weight.t());
  };
  auto through_packed = [&] {
    torch::NoGradGuard ng;
    return cpu_decode::linear(lin, packed, x);
  };
  CHECK((through_packed() - reference()).abs().max().item<double>() < 1e-5);
  {
    torch::NoGradGuard ng;
    lin->weight.mul_(-2.0);  // in place: the packed copy must be remade
  }
  CHECK((through_packed() - reference()).abs().max().item<double>() < 1e-5);
  CHECK(!PackedWeight::applies(x, lin->weight));  // grad mode on, the weight wants a gradient: torch's path
  torch::optim::AdamW opt(lin->parameters(), torch::optim::AdamWOptions(0.1));
  lin(x).square().sum().backward();
  opt.step();  // the learner's update, as rl/trainer does it
  CHECK((through_packed() - reference()).abs().max().item<double>() < 1e-5);
}

TEST_CASE("fp32 decoding through the packed kernels matches torch's layers, before and after the weights change in place") {
  torch::manual_seed(9);
  for (const ModelConfig& c : {r1::test::tiny_v3(false, false), r1::test::tiny_v3(), r1::test::tiny_qwen2()}) {
    CausalLM m(c);
    m->init_weights(4);
    m->eval();
    auto ids = torch::randint(0, c.vocab_size, {1, 10}, torch::kLong);
    for (int round = 0; round < 2; ++round) {
      auto full = m->forward(ids).detach();  // grad mode on: OpenBLAS, einsum, the generic attention
      torch::NoGradGuard ng;
      double diff = (decode_fp32_token_by_token(m, ids, 2, 1) - full).abs().max().item<double>();
      INFO(c.model_type << " round " << round << " max diff " << diff);
      CHECK(diff < 1e-4);
      for (auto& p : m->parameters()) p.mul_(1.5);  // every packed copy (and MLA's absorbed heads) is now stale
    }
  }
}

TEST_CASE("batched MoE dispatch equals a per-token loop over the chosen experts") {
  torch::manual_seed(1);
  ModelConfig c = r1::test::tiny_v3();
  Moe moe(c);
  for (auto& p : moe->parameters()) torch::nn::init::normal_(p, 0, 0.3);
  moe->gate->e_score_correction_bias.normal_(0, 0.1);
  torch::NoGradGuard ng;
  auto x = torch::randn({3, 5, c.hidden_size});
  auto y = moe->forward(x);
  auto flat = x.reshape({-1, c.hidden_size});
  Routing r = moe->gate->forward(flat);
  for (int64_t n = 0; n < flat.size(0); ++n) {
    auto tok = flat[n].unsqueeze(0);
    auto ref = moe->shared_experts->forward(tok);
    for (int64_t j = 0; j < c.num_experts_per_tok; ++j) {
      int64_t e = r.experts[n][j].item<int64_t>();
      ref = ref + r.weights[n][j] * moe->experts[e]->as<MlpImpl>()->forward(tok);
    }
    CHECK((ref[0] - y.reshape({-1, c.hidden_size})[n]).abs().max().item<double>() < 1e-5);
  }
  // Group-limited routing: every token's experts come from at most topk_group groups.
  int64_t per_group = c.n_routed_experts / c.n_group;
  for (int64_t n = 0; n < flat.size(0); ++n) {
    std::set<int64_t> groups;
    for (int64_t j = 0; j < c.num_experts_per_tok; ++j) groups.insert(r.experts[n][j].item<int64_t>() / per_group);
    CHECK(static_cast<int64_t>(groups.size()) <= c.topk_group);
  }
}

TEST_CASE("the decode-step expert kernel equals the tensor path for MoE layers and MLPs, at any row count") {
  if (!packed_kernel_available()) {
    MESSAGE("skipped: this CPU has no AVX2 + FMA, the expert kernel is never used");
    return;
  }
  torch::manual_seed(11);
  ModelConfig c = r1::test::tiny_v3();  // hidden 32, expert inner 12: a partial 16-column panel
  Moe moe(c);
  for (auto& p : moe->parameters()) torch::nn::init::normal_(p, 0, 0.3);
  moe->gate->e_score_correction_bias.normal_(0, 0.1);
  moe->eval();
  Mlp mlp(37, 21);  // neither size a multiple of 16
  for (auto& p : mlp->parameters()) torch::nn::init::normal_(p, 0, 0.3);
  for (int round = 0; round < 2; ++round) {
    for (int64_t n : std::vector<int64_t>{1, 2, 5, 7, 17, 40, PackedWeight::kMaxRows}) {
      auto x = torch::randn({n, 1, c.hidden_size}), x37 = torch::randn({n, 37});
      // Grad mode on (parameters require grad): the tensor path of OpenBLAS and index_add.
      auto want = moe->forward(x).detach(), want37 = mlp->forward(x37).detach();
      torch::NoGradGuard ng;
      auto got = moe->forward(x), got37 = mlp->forward(x37);
      INFO("round " << round << " rows " << n);
      CHECK((got - want).abs().max().item<double>() < 1e-4);
      CHECK((got37 - want37).abs().max().item<double>() < 1e-4);
    }
    torch::NoGradGuard ng;
    for (auto& p : moe->parameters()) p.mul_(-1.25);  // packed copies are stale now
    for (auto& p : mlp->parameters()) p.mul_(-1.25);
  }
}

TEST_CASE("RMSNorm without gradients equals its tensor formulation, for any row count and width") {
  torch::manual_seed(12);
  for (int64_t H : {7, 32, 37, 384})
    for (int64_t n : {1, 3, 64, 300}) {
      RMSNorm norm(H, 1e-6);
      torch::nn::init::normal_(norm->weight, 1.0, 0.5);
      auto x = torch::randn({n, 1, H}) * 3;
      auto want = norm->forward(x).detach();  // grad mode: the tensor formulation
      torch::NoGradGuard ng;
      auto got = norm->forward(x);
      INFO("H " << H << " rows " << n);
      CHECK(got.sizes() == x.sizes());
      CHECK((got - want).abs().max().item<double>() < 1e-5);
      auto strided = torch::randn({H, n}).t();  // a non-contiguous input
      CHECK((norm->forward(strided) - [&] {
               torch::AutoGradMode on(true);
               return norm->forward(strided).detach();
             }()).abs().max().item<double>() < 1e-5);
    }
}

TEST_CASE("double-precision gradients match finite differences on a tiny V3 model") {
  torch::manual_seed(2);
  ModelConfig c = r1::test::tiny_v3();
  CausalLM m(c);
  m->init_weights(3);
  m->to(torch::kFloat64);
  auto ids = torch::randint(0, c.vocab_size, {2, 6}, torch::kLong);
  auto target = torch::randint(0, c.vocab_size, {2, 6}, torch::kLong);
  auto loss_fn = [&] {
    auto logp = torch::log_softmax(m->forward(ids), -1);
    return -logp.gather(-1, target.unsqueeze(-1)).mean();
  };
  m->zero_grad();
  loss_fn().backward();
  auto state = m->state();
  int checked = 0;
  for (const char* name : {"model.layers.0.self_attn.kv_b_proj.weight", "model.layers.1.self_attn.q_b_proj.weight",
                           "model.layers.2.mlp.gate.weight", "model.layers.1.mlp.shared_experts.down_proj.weight",
                           "model.embed_tokens.weight", "lm_head.weight"}) {
    auto p = state.at(name);
    auto g = p.grad();
    REQUIRE(g.defined());
    auto flat = p.data().view({-1});
    for (int64_t i : {int64_t{0}, flat.numel() / 2, flat.numel() - 1}) {
      double orig = flat[i].item<double>(), h = 1e-6;
      torch::NoGradGuard ng;
      flat[i] = orig + h;
      double up = loss_fn().item<double>();
      flat[i] = orig - h;
      double down = loss_fn().item<double>();
      flat[i] = orig;
      double numeric = (up - down) / (2 * h), analytic = g.view({-1})[i].item<double>();
      INFO(name << "[" << i << "] numeric " << numeric << " analytic " << analytic);
      CHECK(std::abs(numeric - analytic) < 1e-6 + 1e-4 * std::abs(numeric));
      ++checked;
    }
  }
  CHECK(checked == 18);
}

TEST_CASE("gradient checkpointing gives the same loss and gradients") {
  ModelConfig c = r1::test::tiny_v3();
  auto ids = torch::randint(0, c.vocab_size, {2, 7}, torch::kLong);
  std::vector<torch::Tensor> grads[2];
  for (int ckpt = 0; ckpt < 2; ++ckpt) {
    CausalLM m(c);
    m->init_weights(5);
    m->to(torch::kFloat64);
    m->train();
    m->set_gradient_checkpointing(ckpt == 1);
    m->forward(ids).pow(2).mean().backward();
    for (auto& p : m->parameters()) grads[ckpt].push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    double load = 0;
    for (auto& moe : m->moe_layers()) load += moe->load().sum().item<double>();
    CHECK(load == 2 * 7 * c.num_experts_per_tok * 2);  // counted once per token per MoE layer
  }
  for (size_t i = 0; i < grads[0].size(); ++i) CHECK((grads[0][i] - grads[1][i]).abs().max().item<double>() < 1e-12);
}

TEST_CASE("the aux-loss-free bias moves expert load toward balance") {
  torch::manual_seed(4);
  ModelConfig c = r1::test::tiny_v3();
  Moe moe(c);
  for (auto& p : moe->parameters()) torch::nn::init::normal_(p, 0, 0.2);
  // A skewed router: experts 0 and 1 score far higher for every token.
  {
    torch::NoGradGuard ng;
    moe->gate->weight.narrow(0, 0, 2).add_(0.5);
  }
  moe->train();
  auto x = torch::randn({64, c.hidden_size}).abs();
  auto imbalance = [&] {
    moe->reset_load();
    moe->forward(x.unsqueeze(0));  // a training forward (grad enabled): loads are counted
    auto l = moe->load();
    return (l.max() / l.mean()).item<double>();
  };
  double before = imbalance();
  for (int step = 0; step < 300; ++step) {
    imbalance();
    moe->update_bias(0.01);
  }
  double after = imbalance();
  MESSAGE("max/mean expert load " << before << " -> " << after);
  CHECK(before > 2.0);
  CHECK(after < before * 0.6);
  // Bias changes selection, not weights: with the bias zeroed the same tokens route as before.
  CHECK(moe->gate->e_score_correction_bias.abs().sum().item<double>() > 0);
}

TEST_CASE("save then load round-trips bitwise, in one file and in shards") {
  TempDir d;
  for (const ModelConfig& c : {r1::test::tiny_v3(), r1::test::tiny_qwen2()}) {
    CausalLM m(c);
    m->init_weights(11);
    {
      torch::NoGradGuard ng;
      for (auto& moe : m->moe_layers()) moe->gate->e_score_correction_bias.normal_();
    }
    for (int64_t shard : {int64_t{0}, int64_t{4096}}) {
      std::string dir = d / (c.model_type + std::to_string(shard));
      save_pretrained(m, dir, torch::kFloat32, shard);
      CHECK(std::filesystem::exists(dir + (shard ? "/model.safetensors.index.json" : "/model.safetensors")));
      CausalLM back = load_pretrained(dir);
      for (const auto& [k, t] : m->state()) CHECK(torch::equal(t, back->state().at(k)));
      CHECK(back->config().tie_word_embeddings == c.tie_word_embeddings);
    }
  }
}

TEST_CASE("bad configs and checkpoints are clear errors, never crashes") {
  TempDir d;
  auto err = [](auto fn) {
    try {
      fn();
    } catch (const PolicyError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  auto cfg = [&](const std::string& json) {
    r1::test::write_file(d / "config.json", json);
    return err([&] { ModelConfig::load(d.path.string()); });
  };
  CHECK(cfg(R"({"model_type": "gpt2"})").find("'gpt2' is not supported") != std::string::npos);
  CHECK(cfg(R"({"model_type": "llama", "vocab_size": 10})").find("missing required key 'hidden_size'") != std::string::npos);
  CHECK(cfg(R"({"model_type": "llama", "vocab_size": "ten"})").find("vocab_size: expected an integer, got a string") != std::string::npos);
  CHECK(cfg(R"({"model_type": "llama", "vocab_size": 0})").find("vocab_size: value 0 is out of range [1, ") != std::string::npos);
  CHECK(cfg(R"({"model_type": "deepseek_v3", "vocab_size": 8, "hidden_size": 8, "intermediate_size": 8,
    "num_hidden_layers": 1, "num_attention_heads": 2})").find("missing required key 'kv_lora_rank'") != std::string::npos);
  CHECK(cfg("{not json").find("invalid JSON") != std::string::npos);

  // A real file to corrupt.
  std::string good = d / "good.safetensors";
  save_safetensors(good, {{"a", torch::arange(6, torch::kFloat32).view({2, 3})}, {"b", torch::ones({4}, torch::kBFloat16)}});
  auto loaded = load_safetensors(good);
  CHECK(torch::equal(loaded.at("a"), torch::arange(6, torch::kFloat32).view({2, 3})));
  std::string bytes = r1::test::read_file(good);
  auto corrupt = [&](const std::string& content) {
    std::string p = d / "bad.safetensors";
    r1::test::write_file(p, content);
    return err([&] { load_safetensors(p); });
  };
  CHECK(corrupt(bytes.substr(0, bytes.size() - 3)).find("truncated") != std::string::npos);
  CHECK(corrupt(bytes.substr(0, 5)).find("truncated") != std::string::npos);
  std::string absurd = bytes;
  for (int i = 0; i < 8; ++i) absurd[i] = '\xff';
  CHECK(corrupt(absurd).find("absurd") != std::string::npos);
  std::string too_long = bytes;
  too_long[0] = static_cast<char>(too_long[0] + 100);
  CHECK(corrupt(too_long).find("exceeds the file size") != std::string::npos);
  auto header_with = [&](const std::string& json) {
    std::string h = json;
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
    return out + h + std::string(16, '\0');
  };
  CHECK(corrupt(header_with(R"({"x": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}})")).find("unsupported dtype") != std::string::npos);
  CHECK(corrupt(header_with(R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 12]}})")).find("need 8") != std::string::npos);
  CHECK(corrupt(header_with(R"({"x": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}})")).find("truncated") != std::string::npos);
  CHECK(corrupt(header_with(R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "y": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})")).find("overlap") != std::string::npos);
  CHECK(corrupt(header_with(R"({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})")).find("invalid shape") != std::string::npos);
  CHECK(corrupt(header_with(R"({"x": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 4]}})")).find("overflow") != std::string::npos);
  CHECK(corrupt(header_with("[1, 2]")).find("not a JSON object") != std::string::npos);

  // Strict loading lists missing, unexpected and mis-shaped tensors together.
  ModelConfig c = r1::test::tiny_qwen2();
  CausalLM m(c);
  auto state = m->state();
  std::map<std::string, torch::Tensor> wrong;
  for (auto& [k, t] : state) wrong[k] = t.detach().clone();
  wrong.erase("model.norm.weight");
  wrong["model.layers.0.self_attn.q_proj.weight"] = torch::zeros({3, 3});
  wrong["model.extra.weight"] = torch::zeros({1});
  std::string msg = err([&] { load_state(m, wrong, "ckpt"); });
  CHECK(msg.find("missing [model.norm.weight]") != std::string::npos);
  CHECK(msg.find("unexpected [model.extra.weight]") != std::string::npos);
  CHECK(msg.find("mis-shaped [model.layers.0.self_attn.q_proj.weight") != std::string::npos);
  CHECK(err([&] { load_pretrained((d / "nothing").c_str()); }).find("config.json not found") != std::string::npos);
}
