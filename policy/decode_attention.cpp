// Single-token attention kernels (see the header for why).
#include "policy/decode_attention.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "policy/simd_math.h"

// The portable twin of each AVX2 kernel passes v8 values around inside the one function it is
// inlined into; GCC warns about an ABI no call uses.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace r1::policy {

namespace {

using simd::exp8;
using simd::hsum;
using simd::load8;
using simd::store8;
using simd::v8;

struct KeyPart {
  const float* base;       // element [0, 0, head] of the cache tensor
  int64_t slot_stride, pos_stride, dim;
};

// Dot products of one query head with four cached rows at once: four independent accumulator
// chains (a single chain waits on each FMA's latency).
__attribute__((always_inline)) inline void dot4(const float* q, const float* r0, const float* r1, const float* r2, const float* r3,
                                                int64_t dim, float* out) {
  v8 c0 = {0, 0, 0, 0, 0, 0, 0, 0}, c1 = c0, c2 = c0, c3 = c0;
  int64_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    const v8 x = load8(q + i);
    c0 += x * load8(r0 + i);
    c1 += x * load8(r1 + i);
    c2 += x * load8(r2 + i);
    c3 += x * load8(r3 + i);
  }
  float d0 = hsum(c0), d1 = hsum(c1), d2 = hsum(c2), d3 = hsum(c3);
  for (; i < dim; ++i) {
    d0 += q[i] * r0[i];
    d1 += q[i] * r1[i];
    d2 += q[i] * r2[i];
    d3 += q[i] * r3[i];
  }
  out[0] += d0, out[1] += d1, out[2] += d2, out[3] += d3;
}

__attribute__((always_inline)) inline float dot1(const float* q, const float* r, int64_t dim) {
  v8 acc = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= dim; i += 8) acc += load8(q + i) * load8(r + i);
  float d = hsum(acc);
  for (; i < dim; ++i) d += q[i] * r[i];
  return d;
}

// All heads of one row: scores[h][s] = scale * (q1_h . k1[s] + q2_h . k2[s]); softmax over s < n;
// out_h = sum_s p[h][s] v[s]. Each cached row is read once for all the heads that share it.
__attribute__((always_inline)) inline void attend_row_body(const float* q1, const float* q2, int64_t heads, const KeyPart& k1, const KeyPart& k2,
                        const KeyPart& v, int64_t slot, int64_t n, float scale, float* scores, float* out) {
  const int64_t stride = (n + 7) / 8 * 8;
  auto row = [slot](const KeyPart& k, int64_t s) { return k.base + slot * k.slot_stride + s * k.pos_stride; };
  int64_t s = 0;
  for (; s + 4 <= n; s += 4) {
    for (int64_t h = 0; h < heads; ++h) {
      float d[4] = {0, 0, 0, 0};
      dot4(q1 + h * k1.dim, row(k1, s), row(k1, s + 1), row(k1, s + 2), row(k1, s + 3), k1.dim, d);
      if (k2.dim > 0) dot4(q2 + h * k2.dim, row(k2, s), row(k2, s + 1), row(k2, s + 2), row(k2, s + 3), k2.dim, d);
      for (int j = 0; j < 4; ++j) scores[h * stride + s + j] = d[j] * scale;
    }
  }
  for (; s < n; ++s)
    for (int64_t h = 0; h < heads; ++h) {
      float dot = dot1(q1 + h * k1.dim, row(k1, s), k1.dim);
      if (k2.dim > 0) dot += dot1(q2 + h * k2.dim, row(k2, s), k2.dim);
      scores[h * stride + s] = dot * scale;
    }
  for (int64_t h = 0; h < heads; ++h) {
    float* sc = scores + h * stride;
    float mx = -INFINITY;
    for (int64_t t = 0; t < n; ++t) mx = std::max(mx, sc[t]);
    for (int64_t t = n; t < stride; ++t) sc[t] = -INFINITY;
    v8 m8 = {mx, mx, mx, mx, mx, mx, mx, mx}, sum8 = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t t = 0; t < stride; t += 8) {
      v8 e = exp8(load8(sc + t) - m8);
      store8(sc + t, e);
      sum8 += e;
    }
    float inv = 1.0f / hsum(sum8);
    for (int64_t t = 0; t < n; ++t) sc[t] *= inv;
  }
  // out_h = sum_s p[h][s] v[s], 32 output values at a time kept in registers over all positions
  // (accumulating into memory row by row was bound by the stores).
  for (int64_t h = 0; h < heads; ++h) {
    const float* p = scores + h * stride;
    float* o = out + h * v.dim;
    int64_t i = 0;
    for (; i + 32 <= v.dim; i += 32) {
      v8 a0 = {0, 0, 0, 0, 0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
      for (int64_t t = 0; t < n; ++t) {
        const float* x = row(v, t) + i;
        const v8 pv = {p[t], p[t], p[t], p[t], p[t], p[t], p[t], p[t]};
        a0 += pv * load8(x);
        a1 += pv * load8(x + 8);
        a2 += pv * load8(x + 16);
        a3 += pv * load8(x + 24);
      }
      store8(o + i, a0);
      store8(o + i + 8, a1);
      store8(o + i + 16, a2);
      store8(o + i + 24, a3);
    }
    for (; i < v.dim; ++i) {
      float acc = 0;
      for (int64_t t = 0; t < n; ++t) acc += p[t] * row(v, t)[i];
      o[i] = acc;
    }
  }
}

// The same loop compiled twice; the AVX2+FMA build is chosen when the CPU has it.
__attribute__((target("avx2,fma"))) void attend_row_avx2(const float* q1, const float* q2, int64_t heads, const KeyPart& k1,
                                                          const KeyPart& k2, const KeyPart& v, int64_t slot, int64_t n,
                                                          float scale, float* scores, float* out) {
  attend_row_body(q1, q2, heads, k1, k2, v, slot, n, scale, scores, out);
}
void attend_row_generic(const float* q1, const float* q2, int64_t heads, const KeyPart& k1, const KeyPart& k2,
                        const KeyPart& v, int64_t slot, int64_t n, float scale, float* scores, float* out) {
  attend_row_body(q1, q2, heads, k1, k2, v, slot, n, scale, scores, out);
}
using AttendRow = void (*)(const float*, const float*, int64_t, const KeyPart&, const KeyPart&, const KeyPart&, int64_t,
                           int64_t, float, float*, float*);
const AttendRow attend_row = [] {
  return simd::cpu_has_avx2_fma() ? &attend_row_avx2 : &attend_row_generic;
}();

}  // namespace

bool decode_attention_applies(const torch::Tensor& q) { return q.device().is_cpu() && q.scalar_type() == torch::kFloat32; }

torch::Tensor mla_decode_attention(const torch::Tensor& q_lat_in, const torch::Tensor& q_pe_in, const torch::Tensor& latent,
                                   const torch::Tensor& rope, const torch::Tensor& rows_in, const torch::Tensor& lengths_in,
                                   double scale) {
  TORCH_CHECK(latent.stride(2) == 1 && rope.stride(2) == 1, "cache rows must be contiguous");
  auto q_lat = q_lat_in.contiguous(), q_pe = q_pe_in.contiguous();
  auto rows = rows_in.to(torch::kCPU).contiguous(), lengths = lengths_in.to(torch::kCPU).contiguous();
  const int64_t B = q_lat.size(0), H = q_lat.size(1), r = q_lat.size(2), dr = q_pe.size(2);
  auto out = torch::empty({B, H, r}, q_lat.options());
  KeyPart k1{latent.data_ptr<float>(), latent.stride(0), latent.stride(1), r};
  KeyPart k2{rope.data_ptr<float>(), rope.stride(0), rope.stride(1), dr};
  const float* ql = q_lat.data_ptr<float>();
  const float* qp = q_pe.data_ptr<float>();
  float* o = out.data_ptr<float>();
  const int64_t* rw = rows.data_ptr<int64_t>();
  const int64_t* ln = lengths.data_ptr<int64_t>();
  const int64_t max_n = lengths.max().item<int64_t>() + 1;
  at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
    std::vector<float> scores(H * ((max_n + 7) / 8 * 8));
    for (int64_t b = b0; b < b1; ++b)
      attend_row(ql + b * H * r, qp + b * H * dr, H, k1, k2, k1, rw[b], ln[b] + 1, static_cast<float>(scale), scores.data(),
                 o + b * H * r);
  });
  return out;
}

torch::Tensor gqa_decode_attention(const torch::Tensor& q_in, const torch::Tensor& k, const torch::Tensor& v,
                                   const torch::Tensor& rows_in, const torch::Tensor& lengths_in, double scale) {
  TORCH_CHECK(k.stride(3) == 1 && v.stride(3) == 1, "cache rows must be contiguous");
  auto q = q_in.contiguous();
  auto rows = rows_in.to(torch::kCPU).contiguous(), lengths = lengths_in.to(torch::kCPU).contiguous();
  const int64_t B = q.size(0), H = q.size(1), D = q.size(2), Hkv = k.size(2), G = H / Hkv;
  auto out = torch::empty({B, H, D}, q.options());
  const float* qp = q.data_ptr<float>();
  float* o = out.data_ptr<float>();
  const int64_t* rw = rows.data_ptr<int64_t>();
  const int64_t* ln = lengths.data_ptr<int64_t>();
  const int64_t max_n = lengths.max().item<int64_t>() + 1;
  at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
    std::vector<float> scores(G * ((max_n + 7) / 8 * 8));
    KeyPart none{nullptr, 0, 0, 0};
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t hk = 0; hk < Hkv; ++hk) {
        // The G query heads of one KV head share its cached rows.
        KeyPart kp{k.data_ptr<float>() + hk * k.stride(2), k.stride(0), k.stride(1), D};
        KeyPart vp{v.data_ptr<float>() + hk * v.stride(2), v.stride(0), v.stride(1), D};
        attend_row(qp + (b * H + hk * G) * D, nullptr, G, kp, none, vp, rw[b], ln[b] + 1, static_cast<float>(scale),
                   scores.data(), o + (b * H + hk * G) * D);
      }
  });
  return out;
}

}  // namespace r1::policy
