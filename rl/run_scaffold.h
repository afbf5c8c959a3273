// What every trainer of a run shares (GRPO, pretraining, SFT): seeding, threads, device and
// determinism; the run's checkpoint folder, saving with pruning and registration in the store;
// resuming from the last checkpoint; interruption; progress reports. A trainer is then set-up, a
// loop of its own step, and these calls.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>

#include "experiments/run_store.h"
#include "rl/master_weights.h"
#include "rl/recipe.h"
#include "rl/train_state.h"
#include "rl/trainer.h"

namespace r1::rl {

// The objects a checkpoint holds (reference and masters optional).
struct CheckpointParts {
  policy::CausalLM* model = nullptr;
  torch::optim::Optimizer* optimizer = nullptr;
  policy::CausalLM* reference = nullptr;
  MasterWeights* masters = nullptr;
  std::string tokenizer_dir;
  Critic* critic = nullptr;
};

class RunScaffold {
 public:
  // Seeds torch, sets threads, picks the device, turns on deterministic CPU kernels when asked.
  RunScaffold(const Recipe& recipe, int64_t run_id, experiments::RunStore& store, const TrainEnv& env);

  torch::Device device() const { return device_; }
  uint64_t seed() const { return seed_; }
  const std::string& out_dir() const { return ckpt_root_; }  // out_dir/<name>-<run id>: checkpoints and other outputs
  void log(const std::string& line) const;
  bool interrupted() const { return env_.interrupted && env_.interrupted->load(); }
  const std::atomic<bool>* interrupt_flag() const { return env_.interrupted; }  // nullptr: none
  // Rank 0 (or the only process) writes the store and the checkpoints; other ranks only read.
  bool writer() const { return !env_.group || env_.group->rank() == 0; }

  // Restores the run's last checkpoint into `parts` and truncates the store after its step (none:
  // the store is truncated to nothing); marks the run running. Returns the restored state.
  std::optional<TrainState> resume(const CheckpointParts& parts);
  // Writes step `step`'s checkpoint (state.step set here), registers it, prunes beyond keep_checkpoints.
  std::string save(int64_t step, TrainState& state, const CheckpointParts& parts);
  // Saves at `step` unless the last checkpoint is already there (an interruption).
  std::string save_if_new(int64_t step, TrainState& state, const CheckpointParts& parts);

  // Progress: the step's metrics, elapsed time since start_steps() and an ETA from the steps done
  // in this process.
  void start_steps();
  void report(int64_t step, const std::map<std::string, double>& metrics, int64_t first_step) const;

 private:
  const Recipe& recipe_;
  int64_t run_id_;
  experiments::RunStore& store_;
  const TrainEnv& env_;
  uint64_t seed_;
  torch::Device device_ = torch::kCPU;
  std::string ckpt_root_;
  double t_start_ = 0;
};

}  // namespace r1::rl
