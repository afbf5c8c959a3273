// Per-token log-probs of the targets under softmax(h W^T / T), for the learner: computed over
// chunks of positions so that no more than ~256 MB of fp32 logits exist at once (B = 8, T = 2048
// and V = 129,280 would be 8.5 GB, twice over with log_softmax's output). The backward recomputes
// each chunk's logits instead of keeping them: d logp / dz = (onehot - softmax) / T.
#pragma once

#include <torch/torch.h>

namespace r1::rl {

struct TokenLogprobs {
  torch::Tensor logp;     // [..] fp32, differentiable w.r.t. hidden and weight
  torch::Tensor entropy;  // [..] fp32, differentiable too (rl.entropy_coef's bonus; else a metric)
};

// hidden: [.., H] (any float dtype); weight: [V, H] (the LM head, or the tied embedding);
// targets: [..] int64. chunk_rows 0 = sized so one chunk's fp32 logits are ~256 MB.
TokenLogprobs chunked_token_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& targets,
                                     double temperature, int64_t chunk_rows = 0);

}  // namespace r1::rl
