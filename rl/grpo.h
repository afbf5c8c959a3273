// The GRPO learner's mathematics (../shared/docs/GRPO.md): group-relative advantages, per-token
// log-probs gathered in fp32, and the clipped-surrogate loss with the k3 KL term, aggregated as
// token-mean (DAPO), seq-mean-token-mean (GRPO) or seq-mean-token-sum-norm (Dr. GRPO) — always
// normalised by counts over the whole minibatch, so splitting it into micro-batches does not
// change the gradient.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "rl/rl_config.h"

namespace r1::rl {

// rewards: [N] per completion; group[i] = index of the prompt it answers. Bessel-corrected std
// (as TRL): A = (r - mean_g) / (std + eps); `batch` uses the batch std; `none` only centres.
torch::Tensor compute_advantages(const torch::Tensor& rewards, const std::vector<int64_t>& group, AdvantageScale scale,
                                 double eps);

// Per-token log-probabilities of `targets` under `logits` ([.., V] -> [..]), computed in fp32.
torch::Tensor token_logprobs(const torch::Tensor& logits, const torch::Tensor& targets);
// Per-token entropy of the distribution (fp32), [.., V] -> [..].
torch::Tensor token_entropy(const torch::Tensor& logits);

struct LossInputs {
  torch::Tensor logp;        // [N, T] current policy, with grad
  torch::Tensor old_logp;    // [N, T] behaviour policy (detached)
  torch::Tensor ref_logp;    // [N, T] reference (undefined when beta = 0)
  torch::Tensor advantages;  // [N]
  torch::Tensor mask;        // [N, T] 1 for completion tokens that count
};

struct LossNorm {
  double tokens = 0;      // completion tokens in the whole minibatch (token_mean)
  double sequences = 0;   // sequences in the whole minibatch (seq_mean_*)
  double max_len = 1;     // Dr. GRPO's constant: the generation length limit
};

struct LossStats {
  double clip_low = 0, clip_high = 0;  // masked token counts (sums) clipped below / above
  double kl_sum = 0;                   // masked sum of k3 KL
  double ratio_min = 1, ratio_max = 1;
  double tokens = 0;                   // masked tokens of this micro-batch
};

// Loss of one micro-batch, scaled so the sum over micro-batches is the minibatch loss.
torch::Tensor grpo_loss(const LossInputs& in, const RlConfig& cfg, const LossNorm& norm, LossStats* stats);

// Learning-rate multiplier at `step` (0-based): linear warm-up, then constant / linear / cosine
// decay to min_lr_ratio at `total` steps.
double lr_factor(const RlConfig& cfg, int64_t step, int64_t total);

}  // namespace r1::rl
