// The learner around the loss: fp32 master weights under bf16, chunked log-probs, MoE loads of
// real tokens only, routing replay against the rollout engine, a golden GRPO step, PPO's critic
// (warm-up, learning, checkpoint), and rejection sampling's rules on hand-made answers.
#include <doctest/doctest.h>
#include <torch/torch.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <iomanip>

#include "rl/evaluation.h"
#include "rl/grpo.h"
#include "rl/grpo_learn.h"
#include "rl/master_weights.h"
#include "rl/rejection_sampling.h"
#include "policy/policy_error.h"
#include "rl/token_logprobs.h"
#include "rollout/engine.h"
#include "tests/policy/tiny_configs.h"

using namespace r1;
using namespace r1::rl;


namespace {

// A tiny V3-style policy with every weight rounded to bf16 (so an fp32 and a bf16 copy start equal).
policy::CausalLM tiny_policy(uint64_t seed, torch::ScalarType dtype) {
  policy::CausalLM m(test::tiny_v3());
  m->init_weights(seed);
  {
    torch::NoGradGuard ng;
    for (auto& p : m->parameters()) p.copy_(p.to(torch::kBFloat16).to(torch::kFloat32));
  }
  m->to(dtype);
  return m;
}

double loss_of(policy::CausalLM& m, const torch::Tensor& ids) {
  auto lp = token_logprobs(m->forward(ids.narrow(1, 0, ids.size(1) - 1)), ids.narrow(1, 1, ids.size(1) - 1));
  auto loss = -lp.mean();
  loss.backward();
  return loss.item<double>();
}

std::vector<Seq> toy_sequences(const std::vector<std::vector<int64_t>>& token_lists, int64_t prompt_len) {
  std::vector<Seq> seqs;
  for (size_t i = 0; i < token_lists.size(); ++i) {
    Seq q;
    q.tokens = token_lists[i];
    q.prompt_len = prompt_len;
    q.completion_len = static_cast<int64_t>(q.tokens.size()) - prompt_len;
    q.advantage = i % 2 ? -1.0f : 1.0f;
    q.rollout_logp = torch::zeros({q.completion_len});
    seqs.push_back(std::move(q));
  }
  return seqs;
}

}  // namespace

TEST_CASE("bf16 model: one AdamW step at lr 1e-6 moves the weights as the fp32 run does (fp32 masters)") {
  torch::manual_seed(0);
  auto ids = torch::randint(0, 61, {2, 9});
  const double lr = 1e-6;
  auto run = [&](torch::ScalarType dtype, std::vector<torch::Tensor>* masters_after) {
    auto m = tiny_policy(5, dtype);
    m->train();
    MasterWeights mw(m);
    CHECK((mw.active() == (dtype != torch::kFloat32)));
    torch::optim::AdamW opt(mw.params(), torch::optim::AdamWOptions(lr).weight_decay(0));
    mw.zero_grad();
    loss_of(m, ids);
    mw.gather_grads_and_clip(0);
    opt.step();
    mw.copy_down();
    for (auto& p : mw.params()) masters_after->push_back(p.detach().clone());
    // the model computes in its own dtype; its weights are the masters rounded down
    for (size_t i = 0; i < mw.params().size(); ++i) CHECK(torch::equal(m->parameters()[i], mw.params()[i].to(dtype)));
    return m;
  };
  std::vector<torch::Tensor> w32, w16;
  run(torch::kFloat32, &w32);
  auto m16 = run(torch::kBFloat16, &w16);
  auto init = tiny_policy(5, torch::kFloat32)->parameters();
  double moved32 = 0, moved16 = 0, n = 0, worst = 0;
  for (size_t i = 0; i < w32.size(); ++i) {
    auto d32 = (w32[i] - init[i]).abs(), d16 = (w16[i] - init[i]).abs();
    moved32 += (d32 > 0.5 * lr).sum().item<double>();
    moved16 += (d16 > 0.5 * lr).sum().item<double>();
    worst = std::max(worst, ((w16[i] - init[i]) - (w32[i] - init[i])).abs().max().item<double>());
    n += static_cast<double>(d32.numel());
  }
  INFO("moved fp32 " << moved32 / n << " bf16 " << moved16 / n << " worst " << worst);
  CHECK(moved32 / n > 0.9);
  CHECK(moved16 / n > 0.9);             // without masters bf16 rounds nearly every update away
  CHECK(worst <= 2 * lr + 1e-7);        // Adam's first step is +-lr: at most a sign apart (+ fp32 rounding)
  // the balancing bias stays fp32 in a bf16 model
  for (auto& moe : m16->moe_layers()) CHECK((moe->gate->e_score_correction_bias.scalar_type() == torch::kFloat32));
}

TEST_CASE("a bf16 checkpoint keeps the fp32 masters, and loading restores them") {
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() / ("r1-masters-" + std::to_string(getpid()));
  auto m = tiny_policy(5, torch::kBFloat16);
  MasterWeights mw(m);
  {
    torch::NoGradGuard ng;
    for (auto& p : mw.params()) p.add_(1e-5);  // below bf16's resolution: only the masters see it
    mw.copy_down();
  }
  TrainState st;
  st.step = 3;
  st.kl_coef = 0.0123;  // the adaptive KL's beta resumes where it was
  save_checkpoint(dir.string(), m, nullptr, nullptr, st, "", &mw);
  CHECK(fs::exists(dir / "master.safetensors"));
  auto back = tiny_policy(6, torch::kBFloat16);
  MasterWeights mw2(back);
  TrainState loaded = load_checkpoint(dir.string(), back, nullptr, nullptr, &mw2);
  CHECK(loaded.step == 3);
  CHECK(loaded.kl_coef == 0.0123);
  for (size_t i = 0; i < mw.params().size(); ++i) CHECK(torch::equal(mw.params()[i], mw2.params()[i]));
  for (size_t i = 0; i < mw.params().size(); ++i) CHECK(torch::equal(m->parameters()[i], back->parameters()[i]));
  fs::remove_all(dir);
}

TEST_CASE("chunked log-probs equal log_softmax(h W^T / T) gathered, with the same gradients") {
  torch::manual_seed(1);
  auto h0 = torch::randn({3, 5, 8}), w0 = torch::randn({11, 8}) * 0.5;
  auto targets = torch::randint(0, 11, {3, 5});
  for (double T : {1.0, 0.7}) {
    auto h = h0.clone().requires_grad_(true), w = w0.clone().requires_grad_(true);
    auto ref = token_logprobs(torch::matmul(h, w.t()), targets, T);
    auto g = torch::randn({3, 5});
    (ref * g).sum().backward();
    auto ref_ent = token_entropy(torch::matmul(h0, w0.t()), T);
    for (int64_t chunk : {1, 4, 0}) {
      auto h2 = h0.clone().requires_grad_(true), w2 = w0.clone().requires_grad_(true);
      auto out = chunked_token_logprobs(h2, w2, targets, T, chunk);
      (out.logp * g).sum().backward();
      INFO("T " << T << " chunk " << chunk);
      CHECK(torch::allclose(out.logp, ref.detach(), 1e-5, 1e-5));
      CHECK(torch::allclose(out.entropy, ref_ent, 1e-5, 1e-5));
      CHECK(torch::allclose(h2.grad(), h.grad(), 1e-5, 1e-5));
      CHECK(torch::allclose(w2.grad(), w.grad(), 1e-5, 1e-5));
    }
    // The entropy is differentiable too (rl.entropy_coef): its gradient, with the log-probs'
    // in the same backward, equals autograd's through the full softmax.
    auto h3 = h0.clone().requires_grad_(true), w3 = w0.clone().requires_grad_(true);
    auto ge = torch::randn({3, 5});
    auto z3 = torch::matmul(h3, w3.t());
    ((token_logprobs(z3, targets, T) * g).sum() + (token_entropy(z3, T) * ge).sum()).backward();
    for (int64_t chunk : {1, 4, 0}) {
      auto h4 = h0.clone().requires_grad_(true), w4 = w0.clone().requires_grad_(true);
      auto out = chunked_token_logprobs(h4, w4, targets, T, chunk);
      ((out.logp * g).sum() + (out.entropy * ge).sum()).backward();
      INFO("entropy gradient, T " << T << " chunk " << chunk);
      CHECK(torch::allclose(h4.grad(), h3.grad(), 1e-5, 1e-5));
      CHECK(torch::allclose(w4.grad(), w3.grad(), 1e-5, 1e-5));
    }
  }
}

TEST_CASE("MoE loads count real tokens only, not right padding") {
  auto m = tiny_policy(3, torch::kFloat32);
  m->train();
  auto seqs = toy_sequences({{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {1, 2, 3, 4}}, 2);
  MicroBatch mb = make_batch(seqs, {0, 1}, torch::kCPU);
  for (auto& moe : m->moe_layers()) moe->reset_load();
  auto lp = policy_logprobs(m, mb, 1.0);
  lp.logp.sum().backward();
  const double real = 11 + 3, k = 2;  // inputs are tokens[0..n-2]
  for (auto& moe : m->moe_layers()) CHECK(moe->load().sum().item<double>() == real * k);
}

TEST_CASE("routing replay: after the gate bias moves, the learner's log-probs equal the rollout's") {
  auto m = tiny_policy(9, torch::kFloat32);
  m->eval();
  rollout::EngineConfig ec;
  ec.record_routing = true;
  auto bytes = [](int32_t) -> const std::string& {
    static const std::string none;
    return none;
  };
  rollout::Engine engine(m, ec, {}, bytes);
  rollout::Request req;
  req.prompt = {3, 14, 15, 9, 26, 5};
  req.n = 3;
  req.params.max_new_tokens = 12;
  req.params.seed = 4;
  auto outs = engine.generate({req});
  std::vector<Seq> seqs;
  for (const auto& c : outs) {
    REQUIRE(c.routing.defined());
    Seq q;
    q.tokens.assign(req.prompt.begin(), req.prompt.end());
    q.tokens.insert(q.tokens.end(), c.tokens.begin(), c.tokens.end());
    q.prompt_len = 6;
    q.completion_len = static_cast<int64_t>(c.tokens.size());
    CHECK(c.routing.size(0) == static_cast<int64_t>(q.tokens.size()) - 1);
    q.rollout_logp = torch::tensor(c.sampling_logprobs);
    q.routing = c.routing;
    seqs.push_back(std::move(q));
  }
  // The learner's gate moves on: a large bias change reroutes many tokens.
  {
    torch::NoGradGuard ng;
    torch::manual_seed(2);
    for (auto& moe : m->moe_layers()) moe->gate->e_score_correction_bias.copy_(torch::randn({8}) * 2);
  }
  auto diff = [&](bool replay) {
    double worst = 0;
    torch::NoGradGuard ng;
    for (size_t i = 0; i < seqs.size(); ++i) {
      Seq q = seqs[i];
      if (!replay) q.routing = torch::Tensor();
      std::vector<Seq> one{q};
      MicroBatch mb = make_batch(one, {0}, torch::kCPU);
      auto lp = policy_logprobs(m, mb, 1.0).logp[0].narrow(0, q.prompt_len - 1, q.completion_len);
      worst = std::max(worst, (lp - q.rollout_logp).abs().max().item<double>());
    }
    return worst;
  };
  double with = diff(true), without = diff(false);
  INFO("replay " << with << " own routing " << without);
  CHECK(with < 1e-5);
  CHECK(without > 1e-3);
}

// A golden GRPO step: a fixed tiny model and batch; the loss, the gradient norm and a checksum of
// the updated weights are stored here, so a refactor that changes the numbers is caught. (Values
// from this code on x86-64 CPU fp32, deterministic kernels; tolerance for BLAS summation order.)
TEST_CASE("golden GRPO step: loss, grad norm and updated-weight checksum") {
  torch::manual_seed(0);
  auto m = tiny_policy(11, torch::kFloat32);
  auto ref = tiny_policy(11, torch::kFloat32);
  ref->eval();
  auto seqs = toy_sequences({{1, 2, 3, 4, 5, 6, 7, 8}, {1, 2, 3, 9, 10}, {4, 5, 6, 7, 8, 9, 10, 11, 12}, {4, 5, 6, 13}}, 3);
  seqs[1].advantage = -0.5f;
  seqs[3].advantage = 0.25f;
  RlConfig rl;
  rl.lr = 1e-3;
  rl.beta = 0.01;
  rl.micro_batch_size = 2;
  MasterWeights mw(m);
  torch::optim::AdamW opt(mw.params(), torch::optim::AdamWOptions(rl.lr).betas({0.9, 0.99}).weight_decay(0));
  Learner L{m, &ref, mw, opt, rl, 0.8, 16, 10, torch::kCPU, 3};
  TrainState st;
  Metrics metrics;
  learn(L, seqs, 1, st, metrics);
  double sum = 0, weighted = 0;
  int64_t i = 0;
  for (auto& p : m->parameters()) {
    auto d = p.detach().to(torch::kFloat64).reshape({-1});
    sum += d.sum().item<double>();
    weighted += (d * torch::arange(d.numel(), torch::kFloat64).remainder(7.0)).sum().item<double>() * static_cast<double>(++i % 5);
  }
  MESSAGE("golden: loss " << std::setprecision(10) << metrics["policy_loss"] << " grad_norm " << metrics["grad_norm"] << " sum " << sum
                          << " weighted " << weighted << " entropy " << metrics["entropy"]);
  // Recorded from the first run of this code (commit that added the test).
  const double golden_loss = -0.7321428657, golden_grad_norm = 12.16168499, golden_entropy = 3.237182753;
  const double golden_sum = 351.3123837, golden_weighted = 1727.274684;
  CHECK(st.opt_steps == 1);
  CHECK(metrics["policy_loss"] == doctest::Approx(golden_loss).epsilon(1e-5));
  CHECK(metrics["grad_norm"] == doctest::Approx(golden_grad_norm).epsilon(1e-5));
  CHECK(metrics["entropy"] == doctest::Approx(golden_entropy).epsilon(1e-5));
  CHECK(sum == doctest::Approx(golden_sum).epsilon(1e-7));
  CHECK(weighted == doctest::Approx(golden_weighted).epsilon(1e-7));
}

TEST_CASE("evaluation judges through the training rewards: accuracy per verifier kind, R1's format reward") {
  auto task = [](datasets::VerifierKind kind, std::string answer, std::string meta = "{}") {
    datasets::Task t;
    t.id = "t";
    t.question = "q";
    t.verifier = kind;
    t.answer = std::move(answer);
    t.metadata_json = std::move(meta);
    return t;
  };
  auto completion = [](std::string text) {
    rollout::Completion c;
    c.text = std::move(text);
    c.completion_tokens = 5;
    c.finish = rollout::FinishReason::eos;
    return c;
  };
  std::vector<datasets::Task> tasks{task(datasets::VerifierKind::math, "4"), task(datasets::VerifierKind::math, "4"),
                                    task(datasets::VerifierKind::countdown, "80", R"({"numbers": [4, 5, 25]})"),
                                    task(datasets::VerifierKind::countdown, "80", R"({"numbers": [4, 5, 25]})"),
                                    task(datasets::VerifierKind::exact, "blue")};
  std::vector<rollout::Completion> outs{completion("<think>2+2</think> <answer>4</answer>"), completion("the answer is 5"),
                                        completion("<think>t</think><answer>(25 - 5) * 4</answer>"),
                                        completion("<think>t</think><answer>25 * 4 - 5</answer>"),
                                        completion("<think>sky</think> <answer>blue</answer>")};
  std::vector<const datasets::Task*> tp;
  std::vector<const rollout::Completion*> cp;
  for (size_t i = 0; i < tasks.size(); ++i) tp.push_back(&tasks[i]), cp.push_back(&outs[i]);
  auto v = judge(tp, cp);
  REQUIRE(v.size() == 5);
  CHECK(v[0].correct);
  CHECK(v[0].formatted);
  CHECK_FALSE(v[1].correct);
  CHECK_FALSE(v[1].formatted);
  CHECK(v[2].correct);
  CHECK_FALSE(v[3].correct);  // formatted but the wrong value: countdown's format score does not count
  CHECK(v[3].formatted);
  CHECK(v[4].correct);
}

namespace {

double param_checksum(policy::CausalLM& m) {
  double s = 0;
  for (auto& p : m->parameters()) s += p.detach().to(torch::kFloat64).abs().sum().item<double>();
  return s;
}

// Four toy completions with rewards 1, 0, 1, 0 (the sequence score GAE starts from).
std::vector<Seq> ppo_sequences() {
  auto seqs = toy_sequences({{1, 2, 3, 4, 5, 6}, {1, 2, 3, 9, 10}, {4, 5, 6, 7, 8, 9}, {4, 5, 6, 13}}, 3);
  for (size_t i = 0; i < seqs.size(); ++i) seqs[i].advantage = i % 2 ? 0.0f : 1.0f;
  return seqs;
}

RlConfig ppo_config(CriticKind kind) {
  RlConfig rl;
  rl.advantage = AdvantageEstimator::gae;
  rl.critic = kind;
  rl.scale = AdvantageScale::batch;
  rl.beta = 0.0;
  rl.lr = 1e-3;
  rl.critic_lr = 5e-3;
  rl.mu = 4;
  rl.critic_warmup = 1;
  rl.lam = 1.0;
  return rl;
}

}  // namespace

TEST_CASE("PPO critic: warm-up trains only the values, then both; the value loss falls; a checkpoint restores the critic") {
  namespace fs = std::filesystem;
  for (CriticKind kind : {CriticKind::separate, CriticKind::head}) {
    INFO(std::string(kind == CriticKind::head ? "head" : "separate"));
    torch::manual_seed(0);
    auto m = tiny_policy(11, torch::kFloat32);
    RlConfig rl = ppo_config(kind);
    MasterWeights mw(m);
    torch::optim::AdamW opt(mw.params(), torch::optim::AdamWOptions(rl.lr).weight_decay(0));
    Critic critic(rl, m, torch::kCPU);
    Learner L{m, nullptr, mw, opt, rl, 1.0, 16, 10, torch::kCPU, 3, &critic};
    TrainState st;
    // Step 1 is the warm-up: the policy does not move (a head learns from a detached trunk).
    const double before = param_checksum(m);
    auto seqs = ppo_sequences();
    Metrics warm;
    learn(L, seqs, 1, st, warm);
    CHECK(param_checksum(m) == before);
    CHECK(st.opt_steps == 0);
    CHECK(warm["critic/warmup"] == 1.0);
    CHECK(warm["critic/values_mean"] == 0.0);  // the head starts at zero
    // With V = 0 and gamma = lambda = 1 every token's return is its completion's reward: 1 on the
    // 3 + 3 tokens of the two right answers, 0 on the 2 + 1 of the others.
    CHECK(warm["critic/returns_mean"] == doctest::Approx(6.0 / 9.0));
    double first_loss = warm["critic/value_loss"], last_loss = first_loss;
    Metrics m2;
    for (int64_t step = 2; step <= 6; ++step) {
      seqs = ppo_sequences();
      m2.clear();
      learn(L, seqs, step, st, m2);
      last_loss = m2["critic/value_loss"];
    }
    CHECK(param_checksum(m) != before);
    CHECK(st.opt_steps == 5 * rl.mu);
    CHECK(m2["critic/warmup"] == 0.0);
    CHECK(last_loss < 0.5 * first_loss);
    CHECK(m2["critic/explained_variance"] > 0.3);

    // Save, then restore into a fresh critic of another initial policy: the same values.
    auto dir = fs::temp_directory_path() / ("r1-critic-" + std::to_string(getpid()));
    save_checkpoint(dir.string(), m, &opt, nullptr, st, "", &mw, &critic);
    CHECK(fs::exists(dir / "critic/value_head.safetensors"));
    CHECK(fs::exists(dir / "critic/model.safetensors") == (kind == CriticKind::separate));
    auto m_back = tiny_policy(12, torch::kFloat32);
    MasterWeights mw_back(m_back);
    torch::optim::AdamW opt_back(mw_back.params(), torch::optim::AdamWOptions(rl.lr).weight_decay(0));
    Critic critic_back(rl, m_back, torch::kCPU);
    load_checkpoint(dir.string(), m_back, &opt_back, nullptr, &mw_back, &critic_back);
    fs::remove_all(dir);
    torch::NoGradGuard ng;
    MicroBatch mb = make_batch(seqs, {0, 1, 2, 3}, torch::kCPU);
    auto h = m->hidden(mb.input, {}, nullptr, mb.forward), h_back = m_back->hidden(mb.input, {}, nullptr, mb.forward);
    CHECK(torch::equal(critic.values(mb.input, mb.forward, h), critic_back.values(mb.input, mb.forward, h_back)));
    // A checkpoint without a critic names what is missing.
    auto plain = fs::temp_directory_path() / ("r1-nocritic-" + std::to_string(getpid()));
    save_checkpoint(plain.string(), m, nullptr, nullptr, st, "");
    CHECK_THROWS_WITH_AS(load_checkpoint(plain.string(), m_back, nullptr, nullptr, nullptr, &critic_back),
                         doctest::Contains("critic"), policy::PolicyError);
    fs::remove_all(plain);
  }
}

namespace {

rollout::Completion completion(int64_t request, int64_t sample, const std::string& text, int64_t tokens,
                               rollout::FinishReason finish = rollout::FinishReason::eos) {
  rollout::Completion c;
  c.request = request;
  c.sample = sample;
  c.text = text;
  c.completion_tokens = tokens;
  c.finish = finish;
  return c;
}

datasets::Task math_task(const std::string& id, const std::string& question, const std::string& answer) {
  datasets::Task t;
  t.id = id;
  t.question = question;
  t.answer = answer;
  return t;
}

}  // namespace

TEST_CASE("rejection sampling: --keep rules parse, and errors name the rule") {
  KeepRules r = parse_keep_rules("correct, format,language=zh:0.8,max_tokens=50,no_repetition=0.2,best_of=2");
  CHECK(r.correct);
  CHECK(r.format);
  CHECK(r.language == "zh");
  CHECK(r.language_min == 0.8);
  CHECK(r.max_tokens == 50);
  CHECK(r.no_repetition);
  CHECK(r.repetition_max == 0.2);
  CHECK(r.select == KeepRules::Select::best_of);
  CHECK(r.select_k == 2);
  CHECK(parse_keep_rules(r.text()).text() == r.text());
  CHECK(parse_keep_rules("").text() == "all_correct");
  CHECK(parse_keep_rules("language=en").language_min == 0.95);
  auto error = [](const std::string& spec) {
    try {
      parse_keep_rules(spec);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error("correct,best_of=0") == "--keep best_of: expected a number in [1, 1e+12], got \"0\"");
  CHECK(error("first_k=1.5") == "--keep first_k: expected a whole number, got \"1.5\"");
  CHECK(error("language=fr").find("--keep language=fr: the language is en or zh") == 0);
  CHECK(error("correct=yes") == "--keep correct: takes no value (got \"correct=yes\")");
  CHECK(error("best_of=2,first_k=1").find("--keep first_k=1: one selection only") == 0);
  CHECK(error("corect").find("--keep corect: unknown rule") == 0);
}

TEST_CASE("rejection sampling: hand-made answers are kept or dropped by the first rule they fail") {
  std::vector<datasets::Task> tasks{math_task("p0", "What is 2 + 3?", "5"), math_task("p1", "What is 10 - 4?", "6")};
  std::vector<rollout::Completion> comps{
      completion(0, 0, "<think>2 plus 3 is 5</think> <answer>5</answer>", 12),                 // kept
      completion(0, 1, "<think>2 plus 3  is 5</think>\n<answer>5</answer> ", 12),              // duplicate (whitespace)
      completion(0, 2, "<think>2 plus 3 is 6</think> <answer>6</answer>", 12),                 // correct
      completion(0, 3, "I think the answer is 5", 6),                                          // format
      completion(0, 4, "<think>2 plus 3 is 5</think> <answer>5</answer>", 12, rollout::FinishReason::length),  // finished
      completion(0, 5, "<think>二加三等于五</think> <answer>5</answer>", 10),                   // language
      completion(0, 6, "<think>2 plus 3 is 5, and I checked that sum twice</think> <answer>5</answer>", 100),  // max_tokens
      completion(0, 7, "<think>five five five five five five five five five five five five</think> <answer>5</answer>", 20),  // no_repetition
      completion(1, 0, "<think>ten minus four is six, so it is 6</think> <answer>6</answer>", 20),
      completion(1, 1, "<think>ten minus four is six</think> <answer>6</answer>", 10)};
  std::vector<const datasets::Task*> tp;
  std::vector<const rollout::Completion*> cp;
  for (const auto& c : comps) tp.push_back(&tasks[static_cast<size_t>(c.request)]), cp.push_back(&c);
  KeepRules rules = parse_keep_rules("correct,format,finished,language=en:0.9,max_tokens=50,no_repetition=0.3,best_of=1");
  auto cands = score_candidates(tp, cp, rules);
  for (size_t i = 0; i < comps.size(); ++i) cands[i].prompt = comps[i].request, cands[i].sample = comps[i].sample;
  CHECK(cands[0].correct);
  CHECK(cands[0].formatted);
  CHECK(cands[0].language == 1.0);
  CHECK(cands[0].repetition == 0.0);
  CHECK(cands[3].correct);  // the last number is the answer: right, but not in R1's format
  CHECK_FALSE(cands[3].formatted);
  CHECK(cands[5].language < 0.5);
  CHECK(cands[7].repetition > 0.5);
  SelectionCounts n;
  auto kept = select_candidates(cands, rules, &n);
  // best_of=1 takes the shorter of prompt 1's two good answers.
  // (Expected values are named first: LibTorch 2.x's own one-argument CHECK macro would split a
  // braced list at its commas.)
  const std::vector<size_t> best_of_one{0, 9};
  CHECK(kept == best_of_one);
  CHECK(n.samples == 10);
  CHECK(n.prompts == 2);
  CHECK(n.kept == 2);
  CHECK(n.prompts_kept == 2);
  const std::map<std::string, int64_t> one_each{{"correct", 1},    {"format", 1},        {"finished", 1},  {"language", 1},
                                                {"max_tokens", 1}, {"no_repetition", 1}, {"duplicate", 1}, {"selection", 1}};
  CHECK(n.dropped == one_each);
  // first_k=1 keeps the first good answer in sampling order; all_correct keeps both.
  const std::vector<size_t> first_of_each{0, 8}, every_good{0, 5, 6, 7, 8, 9};
  CHECK(select_candidates(cands, parse_keep_rules("correct,format,finished,first_k=1"), nullptr) == first_of_each);
  SelectionCounts all;
  CHECK(select_candidates(cands, parse_keep_rules("correct,format,finished"), &all) == every_good);
  CHECK(all.dropped.count("selection") == 0);
  // Without rules every distinct answer stays (answers 1 and 4 repeat answer 0).
  CHECK(select_candidates(cands, KeepRules{}, nullptr).size() == 8);
}
