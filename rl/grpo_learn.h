// Stage 4 of a GRPO step: mu epochs over n_minibatches of the step's sequences, each minibatch
// one optimizer step over micro-batches normalised by minibatch counts; log-probs at the sampling
// temperature, in chunks; old and reference log-probs when needed; the rollout/learner mismatch
// measured before the update; MoE loads from real tokens only, routing replayed when asked.
// PPO (advantage = gae): the critic's values before the update give per-token GAE advantages and
// returns, and each minibatch also steps the critic on the clipped value loss; during the first
// rl.critic_warmup steps only the critic learns.
#pragma once

#include "dist/process_group.h"
#include "rl/optimizer_shards.h"

#include <torch/torch.h>

#include "rl/critic.h"
#include "rl/grpo_rollout.h"
#include "rl/master_weights.h"
#include "rl/token_logprobs.h"
#include "rl/train_state.h"

namespace r1::rl {

struct Learner {
  policy::CausalLM& model;
  policy::CausalLM* reference = nullptr;  // when beta > 0
  MasterWeights& masters;
  torch::optim::Optimizer& optimizer;
  const RlConfig& rl;
  double temperature = 1.0;       // the rollouts' (the learner's distribution is logits / T)
  int64_t max_new_tokens = 1;     // Dr. GRPO's normaliser
  int64_t total_opt_steps = 1;    // for the LR schedule
  torch::Device device = torch::kCPU;
  uint64_t seed = 0;
  Critic* critic = nullptr;       // advantage = gae
  // Several ranks: the loss is normalised by every rank's counts, gradients and MoE loads are
  // summed across ranks before each optimizer step, and the step's totals are reduced for metrics.
  dist::ProcessGroup* group = nullptr;
  OptimizerShards* shards = nullptr;  // rl.shard_optimizer on several ranks (ZeRO-1)
};

// Updates the policy on `seqs`; advances state.opt_steps; writes the learner's metrics into m;
// returns the token positions it ran forward.
double learn(Learner& learner, std::vector<Seq>& seqs, int64_t step, TrainState& state, Metrics& m);

// Batched learner inputs of some sequences: [b, L-1] ids, targets, loss mask, valid positions, and
// the replayed routing [b, L-1, moe layers, k] when every sequence has one.
struct MicroBatch {
  torch::Tensor input, target, mask;
  policy::ForwardInputs forward;
  std::vector<size_t> rows;
};
MicroBatch make_batch(const std::vector<Seq>& seqs, const std::vector<size_t>& rows, torch::Device dev);

// Per-token log-probs [b, L-1] (and entropy) of a micro-batch under `model` at `temperature`.
TokenLogprobs policy_logprobs(policy::CausalLM& model, const MicroBatch& mb, double temperature);

}  // namespace r1::rl
