// bench_rollout: the rollout engine on this machine, as ratios measured in one run, for a
// V3-style (MLA + MoE) config of ~20M parameters and a dense GQA config of the same size.
//  1. KV cache vs naive recomputation: 256 new tokens, batch 16. The naive time is the sum over
//     the 256 steps of one full forward at that length, measured at 5 lengths and interpolated
//     (running all 256 full forwards would take minutes and measure the same curve).
//  2. Prefix sharing on vs off: 16 samples of a 256-token prompt (generation of 1 token each).
//  3. Continuous vs static batching: 64 requests in 16 slots, 56 of 24 tokens and 8 of 256. The
//     baseline is static batching as Hugging Face generate() (TRL's rollout without vLLM) does
//     it: a batch runs until its longest sequence ends, finished rows decoding padding. Printed
//     beside it: static batches whose finished rows leave the step, which is continuous batching
//     without the refill (our engine's own intermediate, the stricter comparison).
//  4. Decode efficiency at batch 64: achieved model FLOP/s (FLOPs per token from the config, as
//     `r1 model info` counts them, at the mean attention span) over the FLOP/s of a matmul of
//     the model's largest weight shape with 64 rows, timed in this process: the faster of
//     OpenBLAS and the packed kernel that decoding uses.
#include <torch/torch.h>

#include <algorithm>
#include <random>

#include "bench/bench_util.h"
#include "policy/model_config.h"
#include "policy/packed_linear.h"
#include "policy/transformer.h"
#include "rollout/engine.h"

using namespace r1;
using r1::bench::now_s;

namespace {

const std::string& no_text(int32_t) {
  static const std::string empty;
  return empty;
}

std::vector<int32_t> random_prompt(int64_t n, int64_t vocab, std::mt19937& rng) {
  std::vector<int32_t> p(n);
  for (auto& t : p) t = static_cast<int32_t>(rng() % vocab);
  return p;
}

// FLOP/s of `multiply` (one product of rows x in by in x out), timed for about a second.
template <class F>
double flops_of(int64_t rows, int64_t in, int64_t out, F multiply) {
  for (int i = 0; i < 3; ++i) multiply();
  int reps = 0;
  double t0 = now_s();
  while (now_s() - t0 < 1.0) {
    multiply();
    ++reps;
  }
  return 2.0 * rows * in * out * reps / (now_s() - t0);
}

// The reference of the decode efficiency: the faster of two matrix multiplies of the model's
// largest weight shape, OpenBLAS's (torch::mm) and the packed kernel the decode step itself uses
// (policy/packed_linear.h), so that a faster kernel of ours cannot flatter the ratio.
struct Gemm {
  double openblas = 0, packed = 0;
  double best() const { return std::max(openblas, packed); }
};

Gemm gemm_flops(const policy::CausalLM& m, int64_t rows, std::string& shape) {
  int64_t best = 0, in = 0, out = 0;
  const bool tied = m->config().tie_word_embeddings;
  for (const auto& [name, t] : m->state()) {
    if (t.dim() != 2) continue;
    if (name.find("embed_tokens") != std::string::npos && !tied) continue;  // a lookup, not a matmul
    if (t.numel() > best) best = t.numel(), out = t.size(0), in = t.size(1);
  }
  shape = std::to_string(rows) + "x" + std::to_string(in) + " @ " + std::to_string(in) + "x" + std::to_string(out);
  auto a = torch::randn({rows, in}), w = torch::randn({in, out}), w_rows = w.t().contiguous();
  policy::PackedWeight packed;
  Gemm g;
  g.openblas = flops_of(rows, in, out, [&] { return torch::mm(a, w); });
  g.packed = flops_of(rows, in, out, [&] { return packed.linear(a, w_rows, {}); });
  return g;
}

struct Row {
  double kv, prefix, cb, cb_drop, mfu;  // cb: vs padded static batches; cb_drop: vs static batches without their finished rows
};

Row run(const std::string& path) {
  policy::ModelConfig cfg = policy::ModelConfig::load(path);
  policy::CausalLM m(cfg);
  m->init_weights(0);
  m->eval();
  torch::NoGradGuard ng;
  std::mt19937 rng(1);
  const int64_t V = cfg.vocab_size;
  std::printf("\n%s: %.1fM parameters (%.1fM activated), %s\n", path.c_str(), policy::count_model(cfg).total_params / 1e6,
              policy::count_model(cfg).activated_params / 1e6, cfg.mla() ? "MLA + MoE" : "GQA dense");
  Row r{};

  // 1. KV cache vs recomputation.
  {
    const int64_t B = 16, P = 32, N = 256;
    std::vector<rollout::Request> reqs;
    for (int64_t b = 0; b < B; ++b) reqs.push_back({random_prompt(P, V, rng), 1, {.temperature = 1.0, .max_new_tokens = N, .seed = static_cast<uint64_t>(b)}});
    rollout::Engine e(m, {.max_batch_seqs = B}, {}, no_text);
    double t0 = now_s();
    e.generate(reqs);
    double engine_s = now_s() - t0;
    std::vector<int64_t> ts = {0, 64, 128, 192, 255};
    std::vector<double> cost;
    for (int64_t t : ts) {
      auto ids = torch::randint(0, V, {B, P + t}, torch::kLong);
      double s0 = now_s();
      auto logits = m->forward(ids).select(1, P + t - 1);
      cost.push_back(now_s() - s0);
    }
    double naive_s = 0;
    for (size_t i = 0; i + 1 < ts.size(); ++i) naive_s += (cost[i] + cost[i + 1]) / 2 * (ts[i + 1] - ts[i]);
    naive_s += cost.back();
    double tps_e = B * N / engine_s, tps_n = B * N / naive_s;
    r.kv = tps_e / tps_n;
    std::printf("  %-52s %10.0f tok/s\n", "KV-cache engine, batch 16, 256 new tokens", tps_e);
    std::printf("  %-52s %10.0f tok/s\n", "naive recomputation (full forward per token)", tps_n);
  }
  // 2. Prefix sharing.
  {
    auto prompt = random_prompt(256, V, rng);
    double times[2];
    for (int shared = 0; shared < 2; ++shared) {
      rollout::Engine e(m, {.max_batch_seqs = 16, .prefix_sharing = shared == 1}, {}, no_text);
      e.generate({{prompt, 16, {.max_new_tokens = 1}}});  // warm the cache allocation
      double t0 = now_s();
      e.generate({{prompt, 16, {.max_new_tokens = 1}}});
      times[shared] = now_s() - t0;
    }
    r.prefix = times[0] / times[1];
    std::printf("  %-52s %10.3f s\n", "16 samples of a 256-token prompt, prefill each", times[0]);
    std::printf("  %-52s %10.3f s\n", "  prefilled once, prefix shared", times[1]);
  }
  // 3. Continuous vs static batching with long-tailed lengths, the three modes timed in turn over
  //    three rounds (so that the machine's drift hits all alike), the median of each.
  {
    std::vector<rollout::Request> reqs;
    int64_t tokens = 0;
    for (int i = 0; i < 64; ++i) {
      int64_t n = i % 8 == 3 ? 256 : 24;
      reqs.push_back({random_prompt(16, V, rng), 1, {.max_new_tokens = n, .seed = static_cast<uint64_t>(i)}});
      tokens += n;
    }
    const rollout::Batching modes[3] = {rollout::Batching::static_pad, rollout::Batching::static_drop, rollout::Batching::continuous};
    std::vector<double> secs[3];
    int64_t steps[3] = {0, 0, 0};
    for (int round = 0; round < 3; ++round)
      for (int k = 0; k < 3; ++k) {
        rollout::Engine e(m, {.max_batch_seqs = 16, .batching = modes[k]}, {}, no_text);
        double t0 = now_s();
        e.generate(reqs);
        secs[k].push_back(now_s() - t0);
        steps[k] = e.stats().decode_steps;
      }
    double tps[3];
    for (int k = 0; k < 3; ++k) {
      std::sort(secs[k].begin(), secs[k].end());
      tps[k] = tokens / secs[k][1];
    }
    r.cb = tps[2] / tps[0];
    r.cb_drop = tps[2] / tps[1];
    std::printf("  %-52s\n", "64 requests, long tail: 56 stop at 24 tokens, 8 run 256");
    // Rows per step: the padded batches decode all 16 rows of every step.
    const double rows[3] = {16.0, static_cast<double>(tokens) / steps[1], static_cast<double>(tokens) / steps[2]};
    const char* names[3] = {"  static batches of 16, padded (as HF generate())", "  static batches of 16, finished rows dropped",
                            "  continuous batching, 16 slots"};
    for (int k = 0; k < 3; ++k)
      std::printf("  %-52s %10.0f tok/s  (%ld steps, %.1f rows each)\n", names[k], tps[k], static_cast<long>(steps[k]), rows[k]);
  }
  // 4. Decode efficiency at batch 64.
  {
    const int64_t B = 64, P = 64, N = 128;
    std::vector<rollout::Request> reqs;
    for (int64_t b = 0; b < B; ++b) reqs.push_back({random_prompt(P, V, rng), 1, {.max_new_tokens = N, .seed = static_cast<uint64_t>(b)}});
    rollout::Engine e(m, {.max_batch_seqs = B}, {}, no_text);
    e.generate(reqs);
    double tps = static_cast<double>(e.stats().decode_tokens) / e.stats().decode_s;
    double flops_per_token = policy::count_model(cfg, P + N / 2).flops_per_token;
    std::string shape;
    Gemm gemm = gemm_flops(m, B, shape);
    r.mfu = tps * flops_per_token / gemm.best();
    std::printf("  %-52s %10.0f tok/s\n", "decode, batch 64", tps);
    std::printf("  %-52s %10.2f GFLOP/s\n", "  achieved model FLOP/s", tps * flops_per_token / 1e9);
    std::printf("  %-52s %10.2f GFLOP/s\n", ("  matmul " + shape + ", OpenBLAS").c_str(), gemm.openblas / 1e9);
    std::printf("  %-52s %10.2f GFLOP/s\n", "  the same, packed kernel (the reference: the faster)", gemm.packed / 1e9);
  }
  std::printf("  %-52s kv %.1fx  prefix %.1fx  cb %.2fx (%.2fx)  mfu %.0f%%\n", "ratios", r.kv, r.prefix, r.cb, r.cb_drop, 100 * r.mfu);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  torch::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  std::string dir = argc > 1 ? argv[1] : R1_SOURCE_DIR "/experiments/recipes/models";
  std::printf("bench_rollout: %d threads, LibTorch %d.%d\n", torch::get_num_threads(), TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR);
  Row v3 = run(dir + "/v3-20m.json");
  Row dense = run(dir + "/dense-20m.json");
  std::printf("\n%-12s %10s %10s %10s %10s %10s\n", "config", "kv", "prefix", "cb", "cb(drop)", "mfu");
  for (auto [name, r] : {std::pair{"v3-20m", v3}, std::pair{"dense-20m", dense}})
    std::printf("%-12s %9.1fx %9.1fx %9.2fx %9.2fx %9.0f%%\n", name, r.kv, r.prefix, r.cb, r.cb_drop, 100 * r.mfu);
  std::printf("RESULT kv_speedup=%.1f prefix_speedup=%.1f cb_speedup=%.2f cb_vs_drop_speedup=%.2f decode_mfu=%.2f dense_kv_speedup=%.1f "
              "dense_prefix_speedup=%.1f dense_cb_speedup=%.2f dense_cb_vs_drop_speedup=%.2f dense_decode_mfu=%.2f\n",
              v3.kv, v3.prefix, v3.cb, v3.cb_drop, v3.mfu, dense.kv, dense.prefix, dense.cb, dense.cb_drop, dense.mfu);
  return 0;
}
