// Linear layers for small batches on the CPU (decoding: one token for each of a few dozen
// sequences), with the weight packed once instead of on every call.
//
// Why: a decode step multiplies 16-64 rows by each weight matrix. OpenBLAS repacks the whole
// weight for every such call — at these row counts the packing costs about half as much as the
// multiplication itself (perf: sgemm_incopy 12% of a V3-style decode step next to 27% in the
// kernel). A PackedWeight keeps the weight in the layout the kernel reads (panels of 16 output
// columns, K-major), remade only when the weight changes: the learner's optimizer step and
// Engine::load_weights write it in place, which bumps its version counter.
#pragma once

#include <torch/torch.h>

#include <mutex>

namespace r1::policy {

class PackedWeight {
 public:
  PackedWeight() = default;
  // A copy (a cloned module) starts without a packed weight: it has weights of its own.
  PackedWeight(const PackedWeight&) {}
  PackedWeight& operator=(const PackedWeight&) { return *this; }

  // Whether linear() takes x: CPU, fp32, no gradient wanted, at most kMaxRows rows, AVX2 + FMA.
  static bool applies(const torch::Tensor& x, const torch::Tensor& weight);
  // x [..., K] @ weight[N, K]^T (+ bias [N]) -> [..., N], as torch::nn::functional::linear.
  torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

  // The packed form of `weight` for callers that run the panel kernel themselves (the experts of
  // a decode step, expert_decode.h), remade first if stale.
  torch::Tensor packed(const torch::Tensor& weight);

  static constexpr int64_t kMaxRows = 256;  // beyond this OpenBLAS's packing is amortised

 private:
  const torch::Tensor& packed_for(const torch::Tensor& weight);

  std::mutex mu_;
  torch::Tensor source_;  // the weight packed (held, so that it cannot be replaced unnoticed)
  int64_t version_ = -1;
  torch::Tensor packed_;  // [ceil(N / 16), K, 16]
};

// The kernel underneath, for weights that are slices of a parameter (MLA's absorbed heads), whose
// caller keeps the packed form and knows when to remake it.
bool packed_kernel_available();                         // AVX2 + FMA
torch::Tensor pack_weight(const torch::Tensor& weight);  // W [N, K] fp32, any strides
// y[m, n] = sum_k x[m, k] W[n, k] (+ bias[n]) for m < M, n < N; rows of x and y at strides ldx, ldy.
void packed_matmul(const float* x, int64_t ldx, int64_t M, int64_t K, const torch::Tensor& packed, int64_t N, const float* bias,
                   float* y, int64_t ldy);

// The two halves of packed_matmul, for callers that schedule the panels themselves.
constexpr int64_t kPackedPanel = 16;  // output columns per panel of a packed weight
// x [M, K] (row stride ldx) into the layout the kernel reads: M * K floats at `out`.
void pack_rows(const float* x, int64_t ldx, int64_t M, int64_t K, float* out);
// y[m, 0:cols] = x[m, :] . panel (+ bias16) for m < M: one panel (K x 16 floats) of a packed
// weight, the last one of a weight with `cols` < 16 columns; x as pack_rows left it.
void multiply_packed_panel(const float* x_rows, int64_t M, int64_t K, const float* panel, int64_t cols, const float* bias16,
                           float* y, int64_t ldy);

}  // namespace r1::policy
