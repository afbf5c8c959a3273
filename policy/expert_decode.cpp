// The two-pass expert kernel of decode steps (see the header for why).
#include "policy/expert_decode.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>

#include "policy/packed_linear.h"
#include "policy/simd_math.h"

#pragma GCC diagnostic ignored "-Wpsabi"  // v8 values only inside inlined AVX2 code (simd_math.h)

namespace r1::policy {

namespace {

constexpr int64_t kP = kPackedPanel;

// h[0:cols] = silu(g) * u for one panel row, SiLU as g * sigmoid(g) with the exponential taken
// of -|g| only (the vector exp is for arguments <= 0).
__attribute__((target("avx2,fma"))) void silu_mul_panel(const float* g, const float* u, int64_t cols, float* h) {
  using namespace simd;
  alignas(32) float out[kP];
  for (int64_t i = 0; i < kP; i += 8) {
    const v8 x = load8(g + i);
    const v8 ax = x < 0 ? -x : x;
    const v8 e = exp8(-ax);                          // exp(-|g|) in (0, 1]
    const v8 one = splat8(1.f);
    const v8 sig = x >= 0 ? one / (one + e) : e / (one + e);
    store8(out + i, x * sig * load8(u + i));
  }
  std::memcpy(h, out, sizeof(float) * cols);
}

// One expert's place in the scratch buffers and in the list of panel tasks of the first pass.
struct ExpertWork {
  const ExpertRows* e;
  int64_t n, inner;
  int64_t x_at, h_at;   // its packed rows of x [n * hidden], its activations [n * inner]
  int64_t first_task;   // its gate/up panels are tasks first_task .. first_task + panels - 1
};

}  // namespace

void run_experts(const float* x, int64_t N, const std::vector<ExpertRows>& experts, float* out) {
  if (experts.empty() || N == 0) return;
  const int64_t H = experts.front().weights->hidden;
  std::vector<ExpertWork> work;
  int64_t x_size = 0, h_size = 0, tasks = 0, most_rows = 0;
  for (const ExpertRows& e : experts) {
    const int64_t n = static_cast<int64_t>(e.rows.size());
    if (n == 0) continue;
    const int64_t inner = e.weights->inner;
    work.push_back({&e, n, inner, x_size, h_size, tasks});
    x_size += n * H;
    h_size += n * inner;
    tasks += (inner + kP - 1) / kP;
    most_rows = std::max(most_rows, n);
  }
  // Each expert's rows of x, gathered and packed for the kernel.
  std::vector<float> x_rows(x_size), h(h_size), h_rows(h_size), gathered(most_rows * H);
  for (const ExpertWork& w : work) {
    for (int64_t r = 0; r < w.n; ++r) std::memcpy(gathered.data() + r * H, x + w.e->rows[r] * H, sizeof(float) * H);
    pack_rows(gathered.data(), H, w.n, H, x_rows.data() + w.x_at);
  }
  // Pass 1: h = silu(x W_gate^T) * (x W_up^T), one task per 16 columns of one expert.
  at::parallel_for(0, tasks, 1, [&](int64_t t0, int64_t t1) {
    std::vector<float> g(most_rows * kP), u(most_rows * kP);
    size_t wi = 0;
    for (int64_t t = t0; t < t1; ++t) {
      while (wi + 1 < work.size() && work[wi + 1].first_task <= t) ++wi;
      const ExpertWork& w = work[wi];
      const int64_t p = t - w.first_task, col0 = p * kP, cols = std::min(kP, w.inner - col0);
      const float* xr = x_rows.data() + w.x_at;
      multiply_packed_panel(xr, w.n, H, w.e->weights->gate.data_ptr<float>() + p * H * kP, cols, nullptr, g.data(), kP);
      multiply_packed_panel(xr, w.n, H, w.e->weights->up.data_ptr<float>() + p * H * kP, cols, nullptr, u.data(), kP);
      for (int64_t r = 0; r < w.n; ++r) silu_mul_panel(g.data() + r * kP, u.data() + r * kP, cols, h.data() + w.h_at + r * w.inner + col0);
    }
  });
  for (const ExpertWork& w : work) pack_rows(h.data() + w.h_at, w.inner, w.n, w.inner, h_rows.data() + w.h_at);
  // Pass 2: out += scale * (h W_down^T), one task per 16 output columns over all experts, so that
  // no two tasks write the same element and each element adds its experts in order.
  at::parallel_for(0, (H + kP - 1) / kP, 1, [&](int64_t p0, int64_t p1) {
    std::vector<float> y(most_rows * kP);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t col0 = p * kP, cols = std::min(kP, H - col0);
      for (const ExpertWork& w : work) {
        multiply_packed_panel(h_rows.data() + w.h_at, w.n, w.inner, w.e->weights->down.data_ptr<float>() + p * w.inner * kP, cols,
                              nullptr, y.data(), kP);
        const bool scaled = !w.e->scales.empty();
        for (int64_t r = 0; r < w.n; ++r) {
          float* o = out + w.e->rows[r] * H + col0;
          const float* yr = y.data() + r * kP;
          if (scaled) {
            const float s = w.e->scales[r];
            for (int64_t c = 0; c < cols; ++c) o[c] += yr[c] * s;
          } else {
            for (int64_t c = 0; c < cols; ++c) o[c] += yr[c];
          }
        }
      }
    }
  });
}

}  // namespace r1::policy
