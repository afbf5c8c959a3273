// Stages 1-2 of a GRPO step: sample G completions for each of B prompts through the rollout
// backend, score them with the reward stage, and keep whole groups (DAPO dynamic sampling draws
// more prompts while zero-spread groups leave the batch). Stage 3 builds the learner's sequences
// with their group-relative advantages.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "datasets/task.h"
#include "dist/process_group.h"
#include "text/prompt_format.h"
#include "rewards/reward.h"
#include "rl/recipe.h"
#include "rollout/rollout_backend.h"

namespace r1::rl {

using Metrics = std::map<std::string, double>;

struct Sample {
  int64_t group = 0;
  const datasets::Task* task = nullptr;
  std::vector<int32_t> prompt;
  rollout::Completion c;
  double reward = 0;
  std::vector<double> components;
  std::string breakdown, errors;
  bool drop = false;       // a reward asked to drop the group
  bool zero_spread = false;  // its group's rewards are all equal (no signal)
  double baseline = 0;       // ReMax: the reward of its prompt's greedy completion
};

struct RolloutBatch {
  std::vector<Sample> all;   // every sampled completion (metrics, recorded samples)
  std::vector<Sample> kept;  // whole groups the learner trains on
  int64_t groups_total = 0, groups_zero_spread = 0, kept_groups = 0, extra_rounds = 0, generated_tokens = 0;
  std::vector<double> greedy_rewards;  // ReMax: one per prompt (not trained on)
  double rollout_s = 0, reward_s = 0, reward_errors = 0;
  int64_t stale_dropped = 0;  // groups sampled more than max_staleness versions ago, sampled again
};

struct RolloutStage {
  const Recipe& recipe;
  rollout::RolloutBackend& rollouts;
  rewards::RewardStage& rewards;
  datasets::TaskCursor& cursor;
  const text::PromptFormat& format;
  uint64_t seed = 0;
  // Several ranks: every rank draws the batch's prompts from its own copy of the cursor (they
  // stay in step) and samples a contiguous share of them, seeded by their index in the batch, so
  // the ranks together sample what one process would.
  dist::ProcessGroup* group = nullptr;
};

// A round of requests handed to the backend and not yet collected: the prompts it drew and the
// cursor position before it drew them (where a resumed run starts again if it is never trained on).
struct IssuedRound {
  int64_t step = 0, round = 0, want = 0;  // want: this rank's prompts
  int64_t cursor_before = 0;
  std::vector<const datasets::Task*> drawn;
  std::vector<rollout::Request> reqs;     // want x G, then ReMax's greedy ones
  int64_t ticket = 0;
};

// Draws step `step`'s prompts and submits them (asynchronous GRPO issues later steps' batches
// before the learner trains on this one's).
IssuedRound issue_rollouts(RolloutStage& stage, int64_t step, rollout::RolloutBackend::Received done = {});
// Stages 1-2. `step` is the 1-based logged step (it seeds the samplers). `first`: its first round,
// already issued. A group sampled with a version older than the backend's current one minus
// recipe.rollout.max_staleness is never returned: it is sampled again (counted in stale_dropped).
RolloutBatch collect_rollouts(RolloutStage& stage, int64_t step, std::optional<IssuedRound> first = std::nullopt);

// Stages 1-2 step after step, with asynchronous GRPO's batches sampled ahead (rollout.max_staleness
// = k > 0): before step s's batch is handed to the learner, the batches of steps s+1 .. s+k are
// issued, so workers sample them with the current weights while the learner trains. With k = 0
// it is collect_rollouts(), step by step.
class RolloutPipeline {
 public:
  RolloutPipeline(RolloutStage& stage, int64_t max_staleness, int64_t last_step) : stage_(stage), k_(max_staleness), last_step_(last_step) {}
  RolloutBatch next(int64_t step);
  // Where a checkpoint's data cursor stands: before the prompts of the first batch not yet trained
  // on (one sampled ahead, or the step under way when collecting was interrupted). A resumed run
  // issues those prompts again, with their seeds: none is lost, none is trained on twice.
  int64_t data_position() const;
  // The batches sampled ahead, each with the completions that have arrived of it (with `wait`,
  // all of them: a checkpoint then resumes exactly), as bytes for the checkpoint.
  std::string inflight_state(bool wait);
  // After a resume (the cursor at data_position()): issues the checkpoint's batches again, each
  // with the completions it kept, so only what had not arrived is sampled anew. Returns {batches,
  // groups kept}.
  std::pair<int64_t, int64_t> restore(const std::string& inflight_state);

 private:
  void issue_through(int64_t step);
  RolloutStage& stage_;
  int64_t k_, last_step_;
  std::deque<IssuedRound> ahead_;
  int64_t next_issue_ = 0;
  std::optional<int64_t> step_start_position_;  // while next() is under way
};
// What was sampled: rewards, their components, accuracy, lengths, zero-spread groups; over every
// rank's samples, in the order one process would have them, when `group` has several ranks.
void record_rollout_metrics(const RolloutBatch& batch, const std::vector<std::string>& reward_names, Metrics& m,
                            dist::ProcessGroup* group = nullptr);

// One training sequence: prompt + completion, with what the learner needs of its completion.
struct Seq {
  std::vector<int64_t> tokens;  // prompt + completion
  int64_t prompt_len = 0, completion_len = 0;
  bool masked = false;          // no loss (truncated under mask_truncated, or empty)
  float advantage = 0;          // per sequence; with token-level advantages the score they start from
  torch::Tensor token_advantage;  // [completion_len] when rl.token_level_advantages()
  torch::Tensor rollout_logp;   // [completion_len] the rollout engine's log-probs
  torch::Tensor routing;        // [prompt + completion - 1, moe layers, k] (routing replay) or undefined
  torch::Tensor old_logp, ref_logp;  // [completion_len], filled by the learner when needed
  torch::Tensor old_values, returns;  // [completion_len], PPO: the critic's values before the update, GAE's targets
};

// Stage 3: advantages over the kept groups (zero-spread groups get exactly 0).
// The advantage metrics are over every rank's sequences when `group` has several ranks.
std::vector<Seq> build_sequences(const std::vector<Sample>& kept, const RlConfig& rl, Metrics& m, dist::ProcessGroup* group = nullptr);

}  // namespace r1::rl
