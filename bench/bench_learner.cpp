// bench_learner: how fast the learner trains on this machine, as ratios measured in one run.
//  1. Training throughput of ~20M and ~100M parameter configs (V3-style MLA + MoE, and dense
//     GQA): forward, fp32 log-softmax log-probs of the targets, backward, gradient clipping and
//     AdamW on batches of 8 x 256 tokens. Model FLOP utilisation = 6 x activated matmul
//     parameters (no embedding lookup) x tokens/s, over the FLOP/s of one matrix multiply of the
//     model's largest weight shape with as many rows as the batch has tokens, timed in this process.
//  2. The step-time split of a tiny GRPO step (the smoke recipe): rollout, rewards, learning.
//  3. Peak resident memory of the learner's log-prob pass (forward + backward of the log-probs
//     of the targets from the last hidden states, V = 129,280 as DeepSeek-V3) with the full
//     [B, T, V] fp32 logits (the path before chunking) and chunked (rl/token_logprobs.h), each
//     in a forked child so one's peak does not hide the other's.
#include <torch/torch.h>

#include <unistd.h>

#include <cstdio>
#include <string>

#include <filesystem>
#include <thread>

#include "bench/bench_util.h"
#include "experiments/run_store.h"
#include "policy/model_config.h"
#include "policy/transformer.h"
#include "rl/grpo.h"
#include "rl/recipe.h"
#include "rl/token_logprobs.h"
#include "rl/trainer.h"

using namespace r1;
using r1::bench::now_s;

namespace {

double gemm_flops(const policy::CausalLM& m, int64_t rows, std::string& shape) {
  int64_t best = 0, in = 0, out = 0;
  for (const auto& [name, t] : m->state()) {
    if (t.dim() != 2 || name.find("embed_tokens") != std::string::npos) continue;  // a lookup, not a matmul
    if (t.numel() > best) best = t.numel(), out = t.size(0), in = t.size(1);
  }
  shape = std::to_string(rows) + "x" + std::to_string(in) + " @ " + std::to_string(in) + "x" + std::to_string(out);
  auto a = torch::randn({rows, in}), w = torch::randn({in, out});
  for (int i = 0; i < 3; ++i) torch::mm(a, w);
  int reps = 0;
  double t0 = now_s();
  while (now_s() - t0 < 2.0) {
    auto c = torch::mm(a, w);
    ++reps;
  }
  return 2.0 * static_cast<double>(rows * in * out) * reps / (now_s() - t0);
}

struct Throughput {
  double tokens_per_s = 0, mfu = 0;
};

Throughput train_throughput(const std::string& path, int steps) {
  policy::ModelConfig cfg = policy::ModelConfig::load(path);
  policy::CausalLM m(cfg);
  m->init_weights(0);
  m->train();
  const int64_t B = 8, T = 256;
  auto counts = policy::count_model(cfg, T / 2);
  torch::optim::AdamW opt(m->parameters(), torch::optim::AdamWOptions(1e-4));
  torch::manual_seed(1);
  auto ids = torch::randint(0, cfg.vocab_size, {B, T + 1}, torch::kLong);
  auto input = ids.narrow(1, 0, T), target = ids.narrow(1, 1, T);
  auto step = [&] {
    opt.zero_grad();
    auto logp = rl::token_logprobs(m->forward(input), target);
    auto loss = -logp.mean();
    loss.backward();
    torch::nn::utils::clip_grad_norm_(m->parameters(), 1.0);
    opt.step();
  };
  step();  // warm-up: allocations, AdamW state
  double t0 = now_s();
  for (int i = 0; i < steps; ++i) step();
  double secs = now_s() - t0;
  Throughput r;
  r.tokens_per_s = static_cast<double>(B * T * steps) / secs;
  std::string shape;
  double peak = gemm_flops(m, B * T, shape);
  // 3 x forward matmul FLOPs = 6 x activated matmul parameters per token
  double achieved = 3.0 * counts.matmul_flops_per_token * r.tokens_per_s;
  r.mfu = achieved / peak;
  std::printf("  %-16s %7.1fM %7.1fM %10.0f %9.1f %9.1f  %-24s %6.1f%%\n", std::filesystem::path(path).stem().c_str(),
              counts.total_params / 1e6, counts.matmul_flops_per_token / 2e6, r.tokens_per_s, achieved / 1e9, peak / 1e9,
              shape.c_str(), 100 * r.mfu);
  return r;
}

long max_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// Peak RSS growth (MB) of one log-prob forward + backward over [B, T] positions, measured in this
// process (run as a child: `bench_learner --logprob-pass B T full|chunked`).
double logprob_pass_peak_mb(int64_t B, int64_t T, bool chunked) {
  const int64_t V = 129280, H = 64;
  torch::manual_seed(0);
  auto h = torch::randn({B, T, H}).requires_grad_(true);
  auto w = (torch::randn({V, H}) * 0.05).requires_grad_(true);
  auto targets = torch::randint(0, V, {B, T});
  const long base = max_rss_kb();
  torch::Tensor logp = chunked ? rl::chunked_token_logprobs(h, w, targets, 1.0).logp
                               : rl::token_logprobs(torch::matmul(h, w.t()), targets, 1.0);
  (-logp.mean()).backward();
  return static_cast<double>(max_rss_kb() - base) / 1024.0;
}

// The same in a fresh process (a forked child of an OpenMP process can hang in libgomp): -1 when
// it fails (out of memory).
double logprob_pass_in_child(int64_t B, int64_t T, bool chunked) {
  std::string cmd = "/proc/" + std::to_string(getpid()) + "/exe --logprob-pass " + std::to_string(B) + " " + std::to_string(T) +
                    (chunked ? " chunked" : " full");
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  double mb = -1;
  if (std::fscanf(p, "%lf", &mb) != 1) mb = -1;
  return pclose(p) == 0 ? mb : -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--logprob-pass") {
    torch::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    std::printf("%.1f\n", logprob_pass_peak_mb(std::atoll(argv[2]), std::atoll(argv[3]), std::string(argv[4]) == "chunked"));
    return 0;
  }
  torch::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  const std::string models = std::string(R1_SOURCE_DIR) + "/experiments/recipes/models/";
  std::printf("bench_learner: training step = forward + fp32 log-probs + backward + clip + AdamW, batch 8 x 256 tokens, %d threads\n\n",
              torch::get_num_threads());
  std::printf("  %-16s %8s %8s %10s %9s %9s  %-24s %7s\n", "config", "params", "matmul", "tokens/s", "GFLOP/s", "GEMM", "GEMM shape",
              "MFU");
  Throughput v20 = train_throughput(models + "v3-20m.json", 4);
  Throughput d20 = train_throughput(models + "dense-20m.json", 4);
  Throughput v100 = train_throughput(models + "v3-100m.json", 2);
  Throughput d100 = train_throughput(models + "dense-100m.json", 2);

  // 2. A tiny GRPO step: the smoke recipe, 6 steps, the first one not counted.
  std::printf("\ntiny GRPO step (experiments/recipes/smoke.toml, 4 prompts x 8 samples, 32 new tokens):\n");
  auto dir = std::filesystem::temp_directory_path() / ("bench_learner-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::current_path(R1_SOURCE_DIR);
  rl::ResolvedRecipe r = rl::load_recipe("experiments/recipes/smoke.toml",
                                         {"run.steps=6", "run.eval_every=0", "run.checkpoint_every=0", "run.out_dir=" + dir.string()});
  auto store = experiments::RunStore::open((dir / "bench.db").string());
  experiments::NewRun nr;
  nr.name = "bench-tiny-grpo";
  int64_t run = store.create_run(nr);
  rl::TrainEnv env;
  rl::train_grpo(r.recipe, run, store, env, false);
  store.flush();
  double split[4] = {0, 0, 0, 0};
  const char* keys[4] = {"time/rollout_s", "time/reward_s", "time/learn_s", "time/step_s"};
  for (int k = 0; k < 4; ++k) {
    auto series = store.metric_series(run, keys[k]);
    for (size_t i = 1; i < series.size(); ++i) split[k] += series[i].value / static_cast<double>(series.size() - 1);
  }
  double other = split[3] - split[0] - split[1] - split[2];
  std::printf("  %-10s %8.1f ms  %5.1f%%\n", "rollout", 1e3 * split[0], 100 * split[0] / split[3]);
  std::printf("  %-10s %8.1f ms  %5.1f%%\n", "rewards", 1e3 * split[1], 100 * split[1] / split[3]);
  std::printf("  %-10s %8.1f ms  %5.1f%%\n", "learn", 1e3 * split[2], 100 * split[2] / split[3]);
  std::printf("  %-10s %8.1f ms  %5.1f%%\n", "other", 1e3 * other, 100 * other / split[3]);
  std::printf("  %-10s %8.1f ms\n", "step", 1e3 * split[3]);
  std::filesystem::remove_all(dir);

  // 3. Peak memory of the log-prob pass. The full-logits path at B = 8 would need ~4x its B = 2
  // figure (about 25 GB): more than this 24 GB machine has, so it is measured at B = 2.
  std::printf("\nlog-prob pass (forward + backward), V = 129280, hidden 64: peak resident memory growth\n");
  const double full2 = logprob_pass_in_child(2, 2048, false), chunk2 = logprob_pass_in_child(2, 2048, true);
  const double chunk8 = logprob_pass_in_child(8, 2048, true);
  std::printf("  B = 2, T = 2048, full [B, T, V] fp32 logits   %9.0f MB\n", full2);
  std::printf("  B = 2, T = 2048, chunked                      %9.0f MB\n", chunk2);
  std::printf("  B = 8, T = 2048, chunked                      %9.0f MB  (full logits alone: %.0f MB)\n", chunk8,
              8.0 * 2048 * 129280 * 4 / (1 << 20));

  std::printf("\nRESULT mfu_20m=%.3f mfu_100m=%.3f mfu_dense_20m=%.3f mfu_dense_100m=%.3f tok_s_20m=%.0f tok_s_100m=%.0f "
              "tiny_step_ms=%.1f tiny_rollout_pct=%.1f tiny_reward_pct=%.1f tiny_learn_pct=%.1f logprob_peak_mb_full_b2=%.0f "
              "logprob_peak_mb_chunked_b2=%.0f logprob_peak_mb_chunked_b8=%.0f logprob_memory_ratio_b2=%.1f\n",
              v20.mfu, v100.mfu, d20.mfu, d100.mfu, v20.tokens_per_s, v100.tokens_per_s, 1e3 * split[3], 100 * split[0] / split[3],
              100 * split[1] / split[3], 100 * split[2] / split[3], full2, chunk2, chunk8, chunk2 > 0 ? full2 / chunk2 : 0.0);
  return 0;
}
