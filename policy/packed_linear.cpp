// The packed small-batch linear layer (see the header for why) and its AVX2 + FMA kernel.
#include "policy/packed_linear.h"

#include <ATen/Parallel.h>
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "policy/simd_math.h"

namespace r1::policy {

namespace {

constexpr int64_t kPanel = kPackedPanel;  // output columns per panel: two 8-float registers
constexpr int64_t kRowBlock = 6;  // rows per kernel call: 6 x 2 accumulators + 2 panel + 1 broadcast registers

// y[r, 0:cols] = bias + sum_k x[k, r] * panel[k, 0:16] for R rows, x packed k-major ([K, R]):
// each panel row is loaded once for all R rows, each x element is broadcast once for the 16
// columns, and both are read sequentially. Always inlined: an out-of-line copy keeps the
// accumulator arrays on the stack (GCC 12), at half the speed.
template <int R>
__attribute__((target("avx2,fma"), always_inline)) inline void kernel_rows(const float* x, const float* panel, int64_t K, const float* bias16,
                                                     float* y, int64_t ldy, int64_t cols) {
  __m256 lo[R], hi[R];
  for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int64_t k = 0; k < K; ++k) {
    const __m256 b0 = _mm256_loadu_ps(panel + k * kPanel), b1 = _mm256_loadu_ps(panel + k * kPanel + 8);
    for (int r = 0; r < R; ++r) {
      const __m256 a = _mm256_broadcast_ss(x + k * R + r);
      lo[r] = _mm256_fmadd_ps(a, b0, lo[r]);
      hi[r] = _mm256_fmadd_ps(a, b1, hi[r]);
    }
  }
  const __m256 bias_lo = bias16 ? _mm256_loadu_ps(bias16) : _mm256_setzero_ps();
  const __m256 bias_hi = bias16 ? _mm256_loadu_ps(bias16 + 8) : _mm256_setzero_ps();
  for (int r = 0; r < R; ++r) {
    float* out = y + r * ldy;
    if (cols == kPanel) {
      _mm256_storeu_ps(out, _mm256_add_ps(lo[r], bias_lo));
      _mm256_storeu_ps(out + 8, _mm256_add_ps(hi[r], bias_hi));
    } else {
      alignas(32) float row[kPanel];
      _mm256_store_ps(row, _mm256_add_ps(lo[r], bias_lo));
      _mm256_store_ps(row + 8, _mm256_add_ps(hi[r], bias_hi));
      std::memcpy(out, row, sizeof(float) * cols);
    }
  }
}

// Panels [p0, p1) of y [M, N] = x @ packed (+ bias), x packed by pack_rows. A panel (K x 16
// floats) stays in L1 while every row block passes over it; x (a few dozen rows) stays in L2.
void multiply_panels(const float* x, int64_t M, int64_t K, const float* packed, int64_t N, const float* bias, float* y,
                     int64_t ldy, int64_t p0, int64_t p1) {
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t col0 = p * kPanel, cols = std::min(kPanel, N - col0);
    float bias16[kPanel] = {};
    if (bias) std::memcpy(bias16, bias + col0, sizeof(float) * cols);
    multiply_packed_panel(x, M, K, packed + p * K * kPanel, cols, bias ? bias16 : nullptr, y + col0, ldy);
  }
}

}  // namespace

// Rows of x go to the kernel in blocks of at most kRowBlock, as even as possible (8 rows as 4 + 4,
// not 6 + 2: a 2-row block has 4 accumulator chains, too few to hide the FMA latency). Block b
// starts at row start(b) and has size(b) rows.
struct RowBlocks {
  int64_t count, small, big_blocks;  // big blocks (small + 1 rows) come first
  explicit RowBlocks(int64_t M)
      : count((M + kRowBlock - 1) / kRowBlock), small(M / std::max<int64_t>(count, 1)), big_blocks(M - small * count) {}
  int64_t size(int64_t b) const { return b < big_blocks ? small + 1 : small; }
  int64_t start(int64_t b) const { return b * small + std::min(b, big_blocks); }
};

// x [M, K] (row stride ldx) as RowBlocks, each k-major.
void pack_rows(const float* x, int64_t ldx, int64_t M, int64_t K, float* out) {
  const RowBlocks blocks(M);
  for (int64_t b = 0; b < blocks.count; ++b) {
    const int64_t m = blocks.start(b), R = blocks.size(b);
    float* blk = out + m * K;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t k = 0; k < K; ++k) blk[k * R + r] = x[(m + r) * ldx + k];
  }
}

__attribute__((target("avx2,fma"))) void multiply_packed_panel(const float* x, int64_t M, int64_t K, const float* panel,
                                                                int64_t cols, const float* b, float* out, int64_t ldy) {
  const RowBlocks blocks(M);
  for (int64_t i = 0; i < blocks.count; ++i) {
    const int64_t m = blocks.start(i);
    const float* xb = x + m * K;
    float* yb = out + m * ldy;
    switch (blocks.size(i)) {
      case 6: kernel_rows<6>(xb, panel, K, b, yb, ldy, cols); break;
      case 5: kernel_rows<5>(xb, panel, K, b, yb, ldy, cols); break;
      case 4: kernel_rows<4>(xb, panel, K, b, yb, ldy, cols); break;
      case 3: kernel_rows<3>(xb, panel, K, b, yb, ldy, cols); break;
      case 2: kernel_rows<2>(xb, panel, K, b, yb, ldy, cols); break;
      case 1: kernel_rows<1>(xb, panel, K, b, yb, ldy, cols); break;
      default: break;
    }
  }
}

bool packed_kernel_available() { return simd::cpu_has_avx2_fma(); }

// packed[p, k, j] = weight[16 p + j, k] (zero past N).
torch::Tensor pack_weight(const torch::Tensor& weight) {
  auto w = weight.contiguous();
  const int64_t N = w.size(0), K = w.size(1), panels = (N + kPanel - 1) / kPanel;
  auto packed = torch::zeros({panels, K, kPanel}, w.options());
  const float* src = w.data_ptr<float>();
  float* dst = packed.data_ptr<float>();
  at::parallel_for(0, panels, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t j = 0; j < kPanel && p * kPanel + j < N; ++j) {
        const float* row = src + (p * kPanel + j) * K;
        float* col = dst + p * K * kPanel + j;
        for (int64_t k = 0; k < K; ++k) col[k * kPanel] = row[k];
      }
  });
  return packed;
}

void packed_matmul(const float* x, int64_t ldx, int64_t M, int64_t K, const torch::Tensor& packed, int64_t N, const float* bias,
                   float* y, int64_t ldy) {
  std::vector<float> rows(static_cast<size_t>(M * K));
  pack_rows(x, ldx, M, K, rows.data());
  const float* xp = rows.data();
  const float* pp = packed.data_ptr<float>();
  // Enough work per thread to pay for waking the other one.
  const int64_t grain = std::max<int64_t>(1, (1 << 17) / std::max<int64_t>(1, M * K * kPanel));
  at::parallel_for(0, packed.size(0), grain, [&](int64_t p0, int64_t p1) { multiply_panels(xp, M, K, pp, N, bias, y, ldy, p0, p1); });
}

bool PackedWeight::applies(const torch::Tensor& x, const torch::Tensor& weight) {
  if (!x.device().is_cpu() || x.scalar_type() != torch::kFloat32 || !weight.device().is_cpu() ||
      weight.scalar_type() != torch::kFloat32 || weight.dim() != 2 || x.dim() < 1 || x.size(-1) != weight.size(1))
    return false;
  if (torch::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad())) return false;
  if (weight.is_inference() || x.numel() == 0) return false;  // inference tensors keep no version counter
  return x.numel() / x.size(-1) <= kMaxRows && packed_kernel_available();
}

const torch::Tensor& PackedWeight::packed_for(const torch::Tensor& weight) {
  if (!source_.defined() || !source_.is_same(weight) || version_ != weight._version()) {
    packed_ = pack_weight(weight);
    source_ = weight;
    version_ = weight._version();
  }
  return packed_;
}

torch::Tensor PackedWeight::packed(const torch::Tensor& weight) {
  std::lock_guard<std::mutex> lock(mu_);
  return packed_for(weight);
}

torch::Tensor PackedWeight::linear(const torch::Tensor& x_in, const torch::Tensor& weight, const torch::Tensor& bias) {
  const int64_t K = weight.size(1), N = weight.size(0);
  auto x = x_in.reshape({-1, K}).contiguous();
  const int64_t M = x.size(0);
  auto out_shape = x_in.sizes().vec();
  out_shape.back() = N;
  auto y = torch::empty({M, N}, x.options());
  torch::Tensor b = bias.defined() ? bias.to(torch::kFloat32).contiguous() : torch::Tensor();
  std::lock_guard<std::mutex> lock(mu_);
  const torch::Tensor& packed = packed_for(weight);
  packed_matmul(x.data_ptr<float>(), K, M, K, packed, N, b.defined() ? b.data_ptr<float>() : nullptr, y.data_ptr<float>(), N);
  return y.view(out_shape);
}

}  // namespace r1::policy
