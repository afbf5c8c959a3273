// The CPU decode kernels, behind one seam. A decode step multiplies a few dozen rows by every
// weight and attends over each row's own cache; there torch's CPU kernels spend most of the time
// on overhead (OpenBLAS repacks each weight per call, bmm becomes B tiny GEMMs, an expert costs
// ten dispatches), so hand-written kernels take over: packed_linear.h, decode_attention.h,
// expert_decode.h. The model's modules write their math once, on tensors, and call this seam at
// each point where a kernel may take it; whether one does (CPU, fp32, no gradient wanted, few
// rows, AVX2 + FMA, a weight with a version counter) is decided in cpu_decode.cpp and nowhere else.
// A function returning std::optional answers nullopt when no kernel applies: the caller's tensor
// code runs, which is also the reference the kernels are tested against.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <vector>

#include "policy/layers.h"
#include "policy/packed_linear.h"

namespace r1::policy {

struct Routing;
struct LayerKv;
struct CacheBatch;

namespace cpu_decode {

// x @ linear^T (+ bias): the packed kernel for decode-sized batches, else the module itself.
torch::Tensor linear(const torch::nn::Linear& linear, PackedWeight& packed, const torch::Tensor& x);
// x @ weight^T for a bare weight (the router, a tied head); the weight is used in x's dtype.
torch::Tensor matmul_t(PackedWeight& packed, const torch::Tensor& x, const torch::Tensor& weight);

// RMSNorm of fp32 rows without gradients in one pass per row (any row count: the tensor form
// costs eight dispatches per call, and a decode step makes 2 x layers + 1 of them).
std::optional<torch::Tensor> rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);
// The SwiGLU MLP of a decode-sized batch, in two passes over its packed weights.
std::optional<torch::Tensor> mlp(MlpImpl& mlp, const torch::Tensor& x);
// A MoE layer's routed experts (by `r`) and shared experts (may be empty) for flat [N, hidden].
std::optional<torch::Tensor> experts(std::vector<Mlp>& routed, Mlp& shared, const torch::Tensor& flat, const Routing& r);

// kv_b_proj's per-head halves packed for the absorbed MLA decode (q_nope -> latent query, latent
// output -> v), remade when the weight changes (its version counter).
class AbsorbedHeads {
 public:
  AbsorbedHeads() = default;
  AbsorbedHeads(const AbsorbedHeads&) {}  // a cloned module packs its own weight
  AbsorbedHeads& operator=(const AbsorbedHeads&) { return *this; }
  std::vector<torch::Tensor> uk, uv;  // per head: [rank, nope] and [v, rank], packed
  void refresh(const torch::Tensor& kv_b_weight, int64_t heads, int64_t nope, int64_t v, int64_t rank);

 private:
  torch::Tensor source_;
  int64_t version_ = -1;
};

struct MlaDims {
  int64_t heads, nope, rope, v, rank;
};
// One new token per row, MLA in the absorbed form, over the row's cache (which already holds the
// token). q: [B, 1, H, nope + rope] (its nope part is read), q_pe: [B, 1, H, rope] rotated.
// Returns [B, 1, H * v], the input of o_proj.
std::optional<torch::Tensor> mla_attention(const torch::Tensor& q, const torch::Tensor& q_pe, const torch::Tensor& kv_b_weight,
                                           AbsorbedHeads& heads, const LayerKv& kv, const CacheBatch& cache, const MlaDims& d,
                                           double scale);
// One new token per row, GQA. q: [B, 1, H, D] rotated. Returns [B, 1, H * D], the input of o_proj.
std::optional<torch::Tensor> gqa_attention(const torch::Tensor& q, const LayerKv& kv, const CacheBatch& cache, double scale);

}  // namespace cpu_decode
}  // namespace r1::policy
