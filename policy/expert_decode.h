// SwiGLU MLPs for the few rows of a decode step on the CPU, straight through the packed kernel:
// the gate and up panels of every expert in one parallel pass (SiLU and product applied as each
// panel comes out), then every output panel of all the experts' down projections in a second
// one, each expert's rows scaled by their mixing weights as they are added up.
//
// Why: through tensor operations each expert of a decode step costs three matmuls (three
// fork-joins of the thread pool), SiLU, a product, a gather, a scale and a scatter — about ten
// dispatches for a handful of rows — and a fuller step (continuous batching keeps 16 rows in
// flight) reaches every expert. Here a MoE layer is two fork-joins whatever the number of experts.
// Training and large batches keep the tensor path (moe.cpp, layers.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "policy/layers.h"

namespace r1::policy {

struct ExpertRows {
  const MlpImpl::Packed* weights;
  std::vector<int64_t> rows;  // rows of x this expert takes, each at most once
  std::vector<float> scales;  // the mixing weight of each row's output; empty = 1
};

// out[rows[i]] += scales[i] * mlp(x[rows[i]]) for each expert, in the order given (each output
// element adds its experts' contributions in that order, as the tensor path does).
// x: [N, hidden] fp32, contiguous; out: [N, hidden]. Needs packed_kernel_available().
void run_experts(const float* x, int64_t N, const std::vector<ExpertRows>& experts, float* out);

}  // namespace r1::policy
