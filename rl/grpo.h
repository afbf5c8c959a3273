// The GRPO learner's mathematics (../shared/docs/GRPO.md): group-relative (or leave-one-out)
// advantages, per-token log-probs gathered in fp32 at the sampling temperature, and the policy
// loss — PPO's clipped surrogate with veRL's dual-clip, CISPO or SAPO — with an optional
// importance-sampling correction for the rollout engine and a KL term (k1, k2, k3, low_var_kl),
// aggregated as token-mean (DAPO), seq-mean-token-mean (GRPO) or seq-mean-token-sum-norm
// (Dr. GRPO) — always normalised by counts over the whole minibatch, so splitting it into
// micro-batches does not change the gradient.
#pragma once

#include <torch/torch.h>

#include <array>
#include <functional>
#include <vector>

#include "rl/rl_config.h"

namespace r1::rl {

// True when a group's rewards are all equal up to rounding (range <= 1e-9 * max(1, max |r|)):
// eight rewards of 0.1 have a computed std of 1.4e-17, not 0. The one zero-spread test, shared
// by dynamic sampling, `frac_reward_zero_std` and the advantages.
bool zero_spread(const std::vector<double>& group_rewards);

// Per sample: does its group have zero spread? group[i] = index of the prompt sample i answers.
std::vector<bool> zero_spread_flags(const std::vector<double>& rewards, const std::vector<int64_t>& group);

// rewards: [N] per completion. The baseline: `grpo` the group mean, `rloo` the mean of the other
// G-1 rewards of the group (= G/(G-1) times the centred reward). Then Bessel-corrected std (as
// TRL): A = (r - baseline) / (std_g + eps); `batch` uses the batch std; `none` only centres.
// Samples flagged zero-spread get A = 0 exactly (flags computed here when not given). `remax`
// subtracts `baselines[i]` (the reward of its prompt's greedy completion) instead, zero spread or
// not: a group of equal rewards still differs from its greedy answer. `gae` and `reinforce_pp`
// return the raw reward: the score their per-token advantages start from.
torch::Tensor compute_advantages(const torch::Tensor& rewards, const std::vector<int64_t>& group, AdvantageEstimator estimator,
                                 AdvantageScale scale, double eps, const std::vector<bool>* zero_spread = nullptr,
                                 const std::vector<double>* baselines = nullptr);

// Token-level advantages (REINFORCE++, or a KL folded into the reward). Per sequence i with score
// s_i (its advantage from compute_advantages: for reinforce_pp the raw reward, for
// reinforce_pp_baseline the reward minus its group mean) and per-token KL values kl_i
// ([completion_len]; zeros when the KL is not in the reward), the return at completion token t is G_t = s_i - kl_coef * sum_{u >= t}
// kl_i[u]. reinforce_pp then whitens every G over the counted tokens of the batch ((G - mean) /
// (std + eps), population std, as OpenRLHF); reinforce_pp_baseline divides by that std; grpo and
// rloo keep G. Uncounted sequences (masked) get their G unwhitened and do not enter the statistics.
// With `kl_to_go` false each token carries only its own KL (G_t = s_i - kl_coef * kl_i[t]: the
// discount-0 return on-policy distillation uses, lower in variance than the sum to the end).
// The sums whitening takes over counted tokens: {sum, sum of squares, count}. With several ranks
// `reduce` turns this rank's sums into the whole batch's (an all-reduce); unset, they are kept.
using MomentsReduce = std::function<std::array<double, 3>(const std::array<double, 3>&)>;

std::vector<torch::Tensor> token_advantages(const std::vector<double>& scores, const std::vector<torch::Tensor>& kl,
                                            const std::vector<bool>& counted, AdvantageEstimator estimator, double kl_coef,
                                            double eps, bool kl_to_go = true, const MomentsReduce& reduce = {});

// Divides every counted sequence's values by the std over all counted tokens of the batch
// (population std, as OpenRLHF), after subtracting their mean when `centre`. Uncounted sequences
// are left as they are and do not enter the statistics.
void whiten_tokens(std::vector<torch::Tensor>& values, const std::vector<bool>& counted, bool centre, double eps,
                   const MomentsReduce& reduce = {});

// GAE (Schulman et al. 2016) over one completion of T tokens: rewards r_t and values V_t, with
// V_T = 0 (the completion ends the episode, truncated or not). delta_t = r_t + gamma V_{t+1} - V_t,
// A_t = sum_l (gamma lam)^l delta_{t+l}, and the critic's targets R_t = A_t + V_t. fp64 inside.
struct GaeResult {
  torch::Tensor advantages, returns;  // [T] fp32
};
GaeResult gae(const torch::Tensor& rewards, const torch::Tensor& values, double gamma, double lam);

// PPO's clipped value loss per token, 0.5 * max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2)
// (c = vf_clip; 0 = the plain squared error), masked, summed and divided by `norm_tokens` (the
// minibatch's count, so micro-batches add up to the minibatch loss).
struct ValueLossStats {
  double clipped = 0;    // tokens where the clipped term was the larger
  double sq_err = 0;     // sum of (V - R)^2 before the update's step
  double tokens = 0;
};
torch::Tensor value_loss(const torch::Tensor& values, const torch::Tensor& old_values, const torch::Tensor& returns,
                         const torch::Tensor& mask, double vf_clip, double norm_tokens, ValueLossStats* stats);

// PPO's adaptive KL coefficient (Ziegler et al. 2019): beta * (1 + clip(kl / target - 1, -0.2, 0.2)
// * samples / horizon).
double adapt_kl_coef(double beta, double kl, double target, int64_t samples, int64_t horizon);

// Per-token KL estimate with d = log pi_ref - log pi, masked before any exp and clamped to +-20.
torch::Tensor kl_estimate(const torch::Tensor& logp, const torch::Tensor& ref_logp, const torch::Tensor& mask, KlEstimator estimator);

// The distribution that sampled: logits / temperature (TRL and veRL divide the same way); the
// learner's log-probs, ratio, KL and entropy are all of it. temperature must be > 0.
torch::Tensor token_logprobs(const torch::Tensor& logits, const torch::Tensor& targets, double temperature = 1.0);
// Per-token entropy of that distribution (fp32), [.., V] -> [..].
torch::Tensor token_entropy(const torch::Tensor& logits, double temperature = 1.0);

struct LossInputs {
  torch::Tensor logp;          // [N, T] current policy, with grad
  torch::Tensor old_logp;      // [N, T] learner's log-probs before this step's updates (detached)
  torch::Tensor ref_logp;      // [N, T] reference (undefined when beta = 0)
  torch::Tensor advantages;    // [N], or [N, T] per token (token_level_advantages)
  torch::Tensor mask;          // [N, T] 1 for completion tokens that count
  torch::Tensor rollout_logp;  // [N, T] the rollout engine's log-probs (needed for is_correction)
  torch::Tensor entropy;       // [N, T] the policy's entropy, with grad (needed for entropy_coef)
};

struct LossNorm {
  double tokens = 0;      // completion tokens in the whole minibatch (token_mean)
  double sequences = 0;   // sequences in the whole minibatch (seq_mean_*)
  double max_len = 1;     // Dr. GRPO's constant: the generation length limit
};

struct LossStats {
  double clip_low = 0, clip_high = 0;  // masked token counts (sums) clipped below / above
  double clip_dual = 0;                // tokens with A < 0 whose loss the dual-clip bounded
  double kl_sum = 0;                   // masked sum of the KL estimate
  double ratio_min = 1, ratio_max = 1;
  double tokens = 0;                   // masked tokens of this micro-batch
  double is_weight_sum = 0;            // importance weights pi_old / pi_rollout (after TIS capping)
  double is_limited = 0;               // tokens capped (TIS) or masked (MIS)
};

// Loss of one micro-batch, scaled so the sum over micro-batches is the minibatch loss.
torch::Tensor grpo_loss(const LossInputs& in, const LossConfig& cfg, const LossNorm& norm, LossStats* stats);

// How far the rollout engine's log-probs are from the learner's (before its update) on the same
// tokens: what a rollout/learner numerics or routing mismatch looks like.
struct MismatchStats {
  double k3_sum = 0;        // sum of k3 with d = rollout - learner
  double max_abs_diff = 0;  // max |rollout - learner|
  double over_half = 0;     // tokens with |diff| > 0.5
  double tokens = 0;
  void add(const torch::Tensor& learner_logp, const torch::Tensor& rollout_logp, const torch::Tensor& mask);
};

// Learning-rate multiplier at `step` (0-based): linear warm-up, then constant / linear / cosine
// decay to min_lr_ratio at `total` steps.
double lr_factor(const RlConfig& cfg, int64_t step, int64_t total);

}  // namespace r1::rl
