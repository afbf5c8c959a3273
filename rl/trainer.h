// `r1 train`: the GRPO loop — rollout -> rewards -> advantages -> learn -> new weights to the
// engine -> log — recorded step by step in the run store, checkpointed every N steps and at the
// end, resumable after any crash (the same metrics as an uninterrupted run on this machine).
//
// Shaped for the next steps without restructuring: one rank per process, no global state, and
// rollout behind the engine interface (in-process today; remote workers would replace `engine`).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "dist/process_group.h"
#include "experiments/run_store.h"
#include "rl/evaluation.h"
#include "rl/recipe.h"

namespace r1::rl {

struct StepReport {
  int64_t step = 0, total = 0;
  std::map<std::string, double> metrics;
  double elapsed_s = 0, eta_s = 0;
};

struct TrainEnv {
  std::string shared_dir;                        // ../shared for named data sets ("" = absent)
  std::vector<std::string> reward_isolate_host;  // r1 __reward-host
  const std::atomic<bool>* interrupted = nullptr;
  std::function<void(const StepReport&)> on_step;   // progress
  std::function<void(const std::string&)> log;      // one line per event (errors, checkpoints, evals)
  bool on_cuda_when_available = true;
  // The job's ranks when several train together (data parallelism): each samples and learns on
  // its share of the batch's prompts, gradients and counts are summed across ranks, and rank 0
  // alone writes the store and the checkpoints. nullptr: one process.
  dist::ProcessGroup* group = nullptr;
};

struct TrainResult {
  experiments::RunStatus status = experiments::RunStatus::finished;
  int64_t steps_done = 0;
  std::string last_checkpoint;
};

// Runs (or resumes, when the run has a checkpoint and `resume`) the GRPO loop for `run_id`.
TrainResult train_grpo(const Recipe& recipe, int64_t run_id, experiments::RunStore& store, const TrainEnv& env, bool resume);

// An evaluation stage: the recipe's model on held-out problems ([eval], else the [data] holdout,
// as training evaluates), recorded as evals and eval/* metrics at step 0 of `run_id`.
EvalResult evaluate_recipe(const Recipe& recipe, int64_t run_id, experiments::RunStore& store, const TrainEnv& env);

}  // namespace r1::rl
