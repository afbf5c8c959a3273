// [run]: what a run is called, how long it goes, and how it is recorded.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>
#include <string>
#include <vector>

namespace r1::experiments {

enum class DeviceKind { automatic, cpu, cuda };
constexpr std::array<std::pair<DeviceKind, std::string_view>, 3> enum_names(DeviceKind) {
  return {{{DeviceKind::automatic, "auto"}, {DeviceKind::cpu, "cpu"}, {DeviceKind::cuda, "cuda"}}};
}

struct RunConfig {
  std::string name;              // run name in the store; "" = the recipe file's stem
  int64_t seed = 1;              // seeds data order, sampling and initialisation
  int64_t steps = 100;           // optimizer steps (GRPO: one rollout batch each)
  int64_t checkpoint_every = 0;  // steps between checkpoints; 0 = only at the end
  int64_t keep_checkpoints = 2;  // most recent checkpoints kept on disk; 0 = keep all
  int64_t eval_every = 0;        // steps between held-out evaluations; 0 = never during training
  int64_t log_every = 1;         // steps between progress lines
  int64_t samples_per_step = 4;  // completions written to the store's samples table per step
  std::string out_dir = "runs";  // checkpoints go to out_dir/<name>-<run id>/
  int64_t threads = 0;           // intra-op CPU threads; 0 = all cores
  DeviceKind device = DeviceKind::automatic;  // auto = CUDA when available
  bool deterministic = true;     // deterministic kernels; same seed -> same metrics on one machine
  std::vector<std::string> tags; // tags recorded with the run

  template <class V>
  void visit(V& v) {
    v("name", name, "run name in the store; empty = the recipe file's stem");
    v("seed", seed, "seeds data order, sampling and initialisation", 0, 9.0e18);
    v("steps", steps, "optimizer steps (GRPO: one rollout batch each)", 0, 1e12);
    v("checkpoint_every", checkpoint_every, "steps between checkpoints; 0 = only at the end", 0, 1e12);
    v("keep_checkpoints", keep_checkpoints, "most recent checkpoints kept on disk; 0 = all", 0, 1e6);
    v("eval_every", eval_every, "steps between held-out evaluations; 0 = never during training", 0, 1e12);
    v("log_every", log_every, "steps between progress lines", 1, 1e12);
    v("samples_per_step", samples_per_step, "completions written to the samples table per step", 0, 1e9);
    v("out_dir", out_dir, "checkpoints go to out_dir/<name>-<run id>/");
    v("threads", threads, "intra-op CPU threads; 0 = all cores", 0, 4096);
    v("device", device, "auto | cpu | cuda (auto = CUDA when available)");
    v("deterministic", deterministic, "deterministic kernels: same recipe and seed give the same metrics");
    v("tags", tags, "tags recorded with the run");
  }
};

}  // namespace r1::experiments
