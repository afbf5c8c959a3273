// The seam's decisions and the glue from module tensors to the kernels.
#include "policy/cpu_decode.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

#include "policy/attention.h"
#include "policy/decode_attention.h"
#include "policy/expert_decode.h"
#include "policy/moe.h"
#include "policy/simd_math.h"

#pragma GCC diagnostic ignored "-Wpsabi"  // v8 values only inside one function (simd_math.h)

namespace r1::policy::cpu_decode {

namespace {

// RMSNorm of fp32 CPU rows without gradients in one pass per row, the same arithmetic as the
// tensor formulation in RMSNormImpl::forward (fp32 mean of squares, + eps, 1/sqrt, x * r, then * weight), which
// costs eight dispatches per call — a decode step has 2 x layers + 1 of them, for a few rows.
torch::Tensor rms_norm_rows(const torch::Tensor& x_in, const torch::Tensor& weight, double eps) {
  auto x = x_in.contiguous();
  auto y = torch::empty_like(x);
  const int64_t H = x.size(-1), rows = x.numel() / H;
  const float* xp = x.data_ptr<float>();
  const float* w = weight.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  const float eps_f = static_cast<float>(eps);
  at::parallel_for(0, rows, std::max<int64_t>(1, 16384 / H), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = xp + r * H;
      float* yr = yp + r * H;
      simd::v8 acc = simd::splat8(0.f);
      int64_t i = 0;
      for (; i + 8 <= H; i += 8) {
        const simd::v8 v = simd::load8(xr + i);
        acc += v * v;
      }
      float ss = simd::hsum(acc);
      for (; i < H; ++i) ss += xr[i] * xr[i];
      const float inv = 1.0f / std::sqrt(ss / static_cast<float>(H) + eps_f);
      for (int64_t j = 0; j < H; ++j) yr[j] = w[j] * (xr[j] * inv);
    }
  });
  return y;
}

}  // namespace

std::optional<torch::Tensor> rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  const bool grad = torch::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad());
  if (grad || !x.device().is_cpu() || x.scalar_type() != torch::kFloat32 || weight.scalar_type() != torch::kFloat32 ||
      !weight.device().is_cpu() || x.numel() == 0)
    return std::nullopt;
  return rms_norm_rows(x, weight.contiguous(), eps);
}

torch::Tensor linear(const torch::nn::Linear& linear, PackedWeight& packed, const torch::Tensor& x) {
  if (PackedWeight::applies(x, linear->weight)) return packed.linear(x, linear->weight, linear->bias);
  return linear.ptr()->forward(x);  // the holder is const here, the module it holds is not
}

torch::Tensor matmul_t(PackedWeight& packed, const torch::Tensor& x, const torch::Tensor& weight) {
  if (PackedWeight::applies(x, weight)) return packed.linear(x, weight, {});
  return torch::matmul(x, weight.to(x.scalar_type()).t());
}

std::optional<torch::Tensor> mlp(MlpImpl& mlp, const torch::Tensor& x) {
  if (!PackedWeight::applies(x, mlp.gate_proj->weight)) return std::nullopt;
  auto flat = x.reshape({-1, x.size(-1)}).contiguous();  // [N, hidden]
  const int64_t N = flat.size(0);
  auto out = torch::zeros_like(flat);
  MlpImpl::Packed w = mlp.packed();
  std::vector<int64_t> rows(N);
  for (int64_t i = 0; i < N; ++i) rows[i] = i;
  run_experts(flat.data_ptr<float>(), N, {{&w, rows, {}}}, out.data_ptr<float>());
  return out.view(x.sizes());
}

std::optional<torch::Tensor> experts(std::vector<Mlp>& routed, Mlp& shared, const torch::Tensor& flat_in, const Routing& r) {
  if (!PackedWeight::applies(flat_in, routed.front()->gate_proj->weight)) return std::nullopt;
  auto flat = flat_in.contiguous();                            // [N, hidden] fp32, CPU
  const int64_t N = flat.size(0), k = r.experts.size(1), E = static_cast<int64_t>(routed.size());
  auto chosen = r.experts.contiguous();
  auto mix = r.weights.to(torch::kFloat32).contiguous();
  const int64_t* ce = chosen.data_ptr<int64_t>();
  const float* cw = mix.data_ptr<float>();
  // Rows per expert in token order; routed experts in id order, then the shared ones (the tensor
  // path's order of summation).
  std::vector<ExpertRows> list(E + 1);
  for (int64_t t = 0; t < N; ++t)
    for (int64_t j = 0; j < k; ++j) {
      list[ce[t * k + j]].rows.push_back(t);
      list[ce[t * k + j]].scales.push_back(cw[t * k + j]);
    }
  std::vector<MlpImpl::Packed> weights(E + 1);
  for (int64_t e = 0; e < E; ++e)
    if (!list[e].rows.empty()) {
      weights[e] = routed[e]->packed();
      list[e].weights = &weights[e];
    }
  if (shared) {
    weights[E] = shared->packed();
    list[E].weights = &weights[E];
    for (int64_t t = 0; t < N; ++t) list[E].rows.push_back(t);
  }
  std::erase_if(list, [](const ExpertRows& e) { return e.rows.empty(); });
  auto out = torch::zeros_like(flat);
  run_experts(flat.data_ptr<float>(), N, list, out.data_ptr<float>());
  return out;
}

void AbsorbedHeads::refresh(const torch::Tensor& weight, int64_t heads, int64_t nope, int64_t v, int64_t rank) {
  if (source_.defined() && source_.is_same(weight) && version_ == weight._version()) return;
  auto w = weight.detach().view({heads, nope + v, rank});
  uk.clear();
  uv.clear();
  for (int64_t h = 0; h < heads; ++h) {
    uk.push_back(pack_weight(w[h].narrow(0, 0, nope).t()));  // q_lat = q_nope @ W_uk[h]
    uv.push_back(pack_weight(w[h].narrow(0, nope, v)));      // o = o_lat @ W_uv[h]^T
  }
  source_ = weight;
  version_ = weight._version();
}

std::optional<torch::Tensor> mla_attention(const torch::Tensor& q, const torch::Tensor& q_pe, const torch::Tensor& kv_b_weight,
                                           AbsorbedHeads& heads, const LayerKv& kv, const CacheBatch& cache, const MlaDims& d,
                                           double scale) {
  if (!decode_attention_applies(q)) return std::nullopt;
  const int64_t B = q.size(0), H = d.heads;
  const bool packed = packed_kernel_available() && !(torch::GradMode::is_enabled() && kv_b_weight.requires_grad()) &&
                      !kv_b_weight.is_inference();
  if (!packed) {
    auto w = kv_b_weight.view({H, d.nope + d.v, d.rank});
    auto q_lat = torch::einsum("bhd,hdr->bhr", {q.narrow(-1, 0, d.nope).squeeze(1), w.narrow(1, 0, d.nope)});  // [B, H, rank]
    auto o_lat = mla_decode_attention(q_lat, q_pe.squeeze(1), kv.a, kv.b, cache.slots, cache.lengths, scale);  // [B, H, rank]
    auto o = torch::einsum("bhr,hvr->bhv", {o_lat, w.narrow(1, d.nope, d.v)});                                 // [B, H, v]
    return o.reshape({B, 1, H * d.v});
  }
  // The same two per-head products with the packed kernel: an einsum here ran as a batched
  // matmul at a tenth of the kernel's speed and copied its operands first.
  heads.refresh(kv_b_weight, H, d.nope, d.v, d.rank);
  auto qc = q.contiguous();                                    // [B, 1, H, nope+rope]
  const int64_t qk = d.nope + d.rope;
  auto q_lat = torch::empty({B, H, d.rank}, q.options());
  for (int64_t h = 0; h < H; ++h)
    packed_matmul(qc.data_ptr<float>() + h * qk, H * qk, B, d.nope, heads.uk[h], d.rank, nullptr,
                  q_lat.data_ptr<float>() + h * d.rank, H * d.rank);
  auto o_lat = mla_decode_attention(q_lat, q_pe.squeeze(1), kv.a, kv.b, cache.slots, cache.lengths, scale).contiguous();
  auto o = torch::empty({B, 1, H * d.v}, q.options());
  for (int64_t h = 0; h < H; ++h)
    packed_matmul(o_lat.data_ptr<float>() + h * d.rank, H * d.rank, B, d.rank, heads.uv[h], d.v, nullptr,
                  o.data_ptr<float>() + h * d.v, H * d.v);
  return o;
}

std::optional<torch::Tensor> gqa_attention(const torch::Tensor& q, const LayerKv& kv, const CacheBatch& cache, double scale) {
  if (!decode_attention_applies(q)) return std::nullopt;
  const int64_t B = q.size(0), H = q.size(2), D = q.size(3);
  auto o = gqa_decode_attention(q.squeeze(1), kv.a, kv.b, cache.slots, cache.lengths, scale);  // [B, H, D]
  return o.reshape({B, 1, H * D});
}

}  // namespace r1::policy::cpu_decode
