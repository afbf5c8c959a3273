// Eight-float vector helpers shared by the CPU kernels of decoding (decode attention, the
// sampler): GCC vector extensions, always inlined, so that each kernel compiled for AVX2 + FMA
// gets AVX2 code and its portable twin gets SSE code from the same source.
#pragma once

#include <cstdint>
#include <cstring>

// These functions are always inlined into their callers, so the vector ABI warning (a v8
// returned by a function compiled without AVX) concerns calls that never happen.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace r1::simd {

typedef float v8 __attribute__((vector_size(32)));
typedef int vi8 __attribute__((vector_size(32)));

// Whether this CPU runs the AVX2 + FMA build of a kernel (checked once).
inline bool cpu_has_avx2_fma() {
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return yes;
}

__attribute__((always_inline)) inline v8 splat8(float x) { return v8{x, x, x, x, x, x, x, x}; }

__attribute__((always_inline)) inline v8 load8(const float* p) {
  v8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
__attribute__((always_inline)) inline void store8(float* p, v8 v) { std::memcpy(p, &v, sizeof v); }

__attribute__((always_inline)) inline float hsum(v8 v) {
  float s = 0;
  for (int i = 0; i < 8; ++i) s += v[i];
  return s;
}

__attribute__((always_inline)) inline float hmax(v8 v) {
  float m = v[0];
  for (int i = 1; i < 8; ++i) m = v[i] > m ? v[i] : m;
  return m;
}

// exp(x) for x <= 0 (softmax after subtracting the max): 2^k * p(r), |r| <= ln2/2, degree-6
// polynomial; relative error ~2e-7. Inputs at or below -87 (and -inf) give 0.
__attribute__((always_inline)) inline v8 exp8(v8 x) {
  const v8 lo = splat8(-87.f);
  x = x < lo ? lo : x;
  const float log2e = 1.44269504088896341f, ln2 = 0.693147180559945309f;
  v8 kf = x * log2e;
  kf = __builtin_convertvector(__builtin_convertvector(kf + (kf < 0 ? -0.5f : 0.5f), vi8), v8);
  v8 r = x - kf * ln2;
  v8 p = r * (1.f / 720) + (1.f / 120);
  p = p * r + (1.f / 24);
  p = p * r + (1.f / 6);
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  vi8 bits = (__builtin_convertvector(kf, vi8) + 127) << 23;
  v8 scale;
  std::memcpy(&scale, &bits, sizeof scale);
  v8 out = p * scale;
  return x <= lo ? splat8(0.f) : out;
}

}  // namespace r1::simd

#pragma GCC diagnostic pop
