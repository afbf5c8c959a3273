// Token sampling on fp32 logits, vectorised over rows with per-row parameters. Filters apply in
// Hugging Face's order, each renormalising: temperature -> top-k -> top-p -> min-p. Randomness
// comes from one uniform draw per row, supplied by the caller from that sequence's own seeded
// generator, so a sequence's tokens do not depend on what else is in the batch.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace r1::rollout {

struct RowSampling {
  double temperature = 1.0;  // 0 = greedy
  int64_t top_k = 0;         // 0 = off
  double top_p = 1.0;        // 1 = off
  double min_p = 0.0;        // 0 = off
};

struct SampleResult {
  torch::Tensor tokens;             // [B] int64
  torch::Tensor sampling_logprobs;  // [B] log-prob under the filtered sampling distribution
  torch::Tensor policy_logprobs;    // [B] log-prob under the plain policy (temperature 1, no filter)
};

// logits: [B, V] (any float dtype; computed in fp32). uniforms: B numbers in [0, 1).
SampleResult sample_tokens(const torch::Tensor& logits, const std::vector<RowSampling>& params,
                           const std::vector<double>& uniforms);

// The filtered, renormalised distribution of each row (for tests and evaluation): [B, V].
torch::Tensor sampling_distribution(const torch::Tensor& logits, const std::vector<RowSampling>& params);

}  // namespace r1::rollout
