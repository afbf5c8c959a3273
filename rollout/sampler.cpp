// Temperature, top-k, top-p, min-p and inverse-CDF sampling in sorted-probability space; rows
// that need no filter (greedy, or temperature only) on the CPU by a per-row kernel instead.
#include "rollout/sampler.h"

#include <ATen/Parallel.h>

#include <cmath>

#include "policy/simd_math.h"

// The portable twin of each AVX2 kernel passes v8 values around inside the one function it is
// inlined into; GCC warns about an ABI no call uses.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace r1::rollout {

namespace {

struct Sorted {
  torch::Tensor probs;  // [B, V] filtered and renormalised, descending order
  torch::Tensor index;  // [B, V] token ids of that order
};

Sorted filtered(const torch::Tensor& logits_in, const std::vector<RowSampling>& params) {
  auto logits = logits_in.to(torch::kFloat32);
  const int64_t B = logits.size(0), V = logits.size(1);
  auto dev = logits.device();
  std::vector<float> inv_t(B), top_p(B), min_p(B);
  std::vector<int64_t> top_k(B);
  for (int64_t b = 0; b < B; ++b) {
    const RowSampling& p = params[b];
    inv_t[b] = p.temperature > 0 ? static_cast<float>(1.0 / p.temperature) : 1.0f;
    top_k[b] = p.temperature > 0 ? (p.top_k > 0 ? std::min(p.top_k, V) : V) : 1;  // greedy = top-1
    top_p[b] = static_cast<float>(p.top_p);
    min_p[b] = static_cast<float>(p.min_p);
  }
  auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  auto scaled = logits * torch::tensor(inv_t, f32).to(dev).unsqueeze(1);
  auto sorted = scaled.sort(-1, /*descending=*/true);
  auto p = torch::softmax(std::get<0>(sorted), -1);                        // [B, V] descending
  auto rank = torch::arange(V, torch::TensorOptions().dtype(torch::kLong).device(dev)).unsqueeze(0);
  auto keep = rank < torch::tensor(top_k, torch::kLong).to(dev).unsqueeze(1);  // top-k
  p = p * keep;
  p = p / p.sum(-1, true);
  auto before = p.cumsum(-1) - p;                                            // mass strictly above each token
  keep = keep & (before < torch::tensor(top_p, f32).to(dev).unsqueeze(1));  // top-p (the first token always stays)
  keep.select(1, 0).fill_(true);
  p = p * keep;
  p = p / p.sum(-1, true);
  keep = keep & (p >= p.select(1, 0).unsqueeze(1) * torch::tensor(min_p, f32).to(dev).unsqueeze(1));  // min-p
  p = p * keep;
  p = p / p.sum(-1, true);
  return {p, std::get<1>(sorted)};
}

}  // namespace

torch::Tensor sampling_distribution(const torch::Tensor& logits, const std::vector<RowSampling>& params) {
  Sorted s = filtered(logits, params);
  return torch::zeros_like(s.probs).scatter_(1, s.index, s.probs);
}

namespace {

enum class Kind { greedy, plain, filtered };

Kind kind_of(const RowSampling& p, int64_t V) {
  if (p.temperature <= 0 || p.top_k == 1) return Kind::greedy;
  if ((p.top_k <= 0 || p.top_k >= V) && p.top_p >= 1.0 && p.min_p <= 0.0) return Kind::plain;
  return Kind::filtered;
}

// Rows of one kind, sampled with that kind's method.
SampleResult sample_group(const torch::Tensor& logits32, const torch::Tensor& logp, Kind kind,
                          const std::vector<RowSampling>& params, const std::vector<double>& uniforms) {
  const int64_t B = logits32.size(0), V = logits32.size(1);
  auto dev = logits32.device();
  if (kind == Kind::greedy) {
    // The distribution is a point mass: sampling log-prob 0.
    auto tokens = logits32.argmax(-1);
    return {tokens, torch::zeros({B}, torch::TensorOptions().dtype(torch::kFloat32).device(dev)),
            logp.gather(1, tokens.unsqueeze(1)).squeeze(1)};
  }
  auto u = torch::tensor(std::vector<double>(uniforms.begin(), uniforms.begin() + B), torch::kFloat64).to(dev);
  if (kind == Kind::plain) {
    // No filter: inverse CDF over the vocabulary in id order, no sort.
    std::vector<float> inv_t(B);
    bool unit = true;  // temperature 1 everywhere (RL's usual case): the sampling distribution is the policy's
    for (int64_t b = 0; b < B; ++b) {
      inv_t[b] = static_cast<float>(1.0 / params[b].temperature);
      unit = unit && inv_t[b] == 1.0f;
    }
    auto scaled_logp = unit ? logp : torch::log_softmax(logits32 * torch::tensor(inv_t).to(dev).unsqueeze(1), -1);
    auto cdf = scaled_logp.exp().to(torch::kFloat64).cumsum(-1);
    auto tokens = (cdf <= (u * cdf.select(1, V - 1)).unsqueeze(1)).sum(-1).clamp_max(V - 1);
    return {tokens, scaled_logp.gather(1, tokens.unsqueeze(1)).squeeze(1), logp.gather(1, tokens.unsqueeze(1)).squeeze(1)};
  }
  Sorted s = filtered(logits32, params);
  // Inverse CDF: the first sorted position whose cumulative mass exceeds u (in fp64 to avoid a
  // cumsum that ends a hair below 1).
  auto cdf = s.probs.to(torch::kFloat64).cumsum(-1);
  auto pos = (cdf <= u.unsqueeze(1)).sum(-1).clamp_max(V - 1);  // [B]
  // Never pick a filtered-out token (possible only through rounding at the end of the CDF).
  auto chosen_p = s.probs.gather(1, pos.unsqueeze(1)).squeeze(1);
  pos = torch::where(chosen_p > 0, pos, torch::zeros_like(pos));
  auto tokens = s.index.gather(1, pos.unsqueeze(1)).squeeze(1);
  auto sampling_lp = s.probs.gather(1, pos.unsqueeze(1)).squeeze(1).log();
  return {tokens, sampling_lp, logp.gather(1, tokens.unsqueeze(1)).squeeze(1)};
}

// Greedy and unfiltered rows of CPU fp32 logits, one row at a time: a pass for the maximum, one
// for the exponentials (the policy's log-partition and, at temperature 1, the sampling weights at
// once) and an inverse-CDF scan that stops at the sampled token. The tensor formulation above
// makes about eight passes over [B, V] tensors and allocates as many: ~50 us a row at V = 8192,
// a tenth of a decode step at batch 16 — a cost per row, which continuous batching, keeping more
// rows per step, pays the most of.
struct RowResult {
  int64_t token;
  float sampling_logprob, policy_logprob;
};

// sum_i exp(scale * x[i] - shift), the terms also stored in `terms` when given.
__attribute__((always_inline)) inline float sum_exp(const float* x, int64_t V, float scale, float shift, float* terms) {
  using namespace simd;
  const v8 scale8 = splat8(scale), shift8 = splat8(shift);
  v8 s8 = splat8(0.f);
  int64_t i = 0;
  for (; i + 8 <= V; i += 8) {
    const v8 e = exp8(load8(x + i) * scale8 - shift8);
    if (terms) store8(terms + i, e);
    s8 += e;
  }
  float s = hsum(s8);
  if (i < V) {  // the tail through the same exponential, padded with exp(-inf) = 0
    float pad[8];
    for (int j = 0; j < 8; ++j) pad[j] = i + j < V ? x[i + j] * scale - shift : -INFINITY;
    const v8 e = exp8(load8(pad));
    float e_tail[8];
    store8(e_tail, e);
    for (int64_t j = 0; i + j < V; ++j) {
      if (terms) terms[i + j] = e_tail[j];
      s += e_tail[j];
    }
  }
  return s;
}

__attribute__((always_inline)) inline RowResult sample_row_body(const float* x, int64_t V, bool greedy, float inv_t, double u,
                                                                  float* terms, double* block_sums) {
  using namespace simd;
  v8 m8 = splat8(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= V; i += 8) {
    const v8 v = load8(x + i);
    m8 = v > m8 ? v : m8;
  }
  float m = hmax(m8);
  for (; i < V; ++i) m = x[i] > m ? x[i] : m;
  const bool unit = inv_t == 1.0f;
  const float log_z = m + std::log(sum_exp(x, V, 1.0f, m, !greedy && unit ? terms : nullptr));
  if (greedy) {
    int64_t t = 0;
    while (t < V - 1 && !(x[t] == m)) ++t;  // the first maximum, as argmax
    return {t, 0.0f, x[t] - log_z};
  }
  // Sampling weights exp(x / T - max / T), summed in fp64 per block of 8 and over blocks in
  // order; the scan repeats the same sums, so it always ends inside the vocabulary.
  const float mt = m * inv_t;
  const float log_zt = unit ? log_z : mt + std::log(sum_exp(x, V, inv_t, mt, terms));
  const int64_t blocks = (V + 7) / 8;
  double total = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    double s = 0;
    for (int64_t j = 8 * b; j < std::min(V, 8 * b + 8); ++j) s += terms[j];
    block_sums[b] = s;
    total += s;
  }
  const double target = u * total;
  double running = 0;
  int64_t t = V - 1;  // where nothing crosses (NaN logits), as the tensor path's clamp
  for (int64_t b = 0; b < blocks; ++b) {
    if (running + block_sums[b] <= target) {
      running += block_sums[b];
      continue;
    }
    // The token inside this block; if rounding inside the block never crosses, its last token
    // with any weight.
    double r = running;
    t = -1;
    for (int64_t j = 8 * b; j < std::min(V, 8 * b + 8); ++j) {
      r += terms[j];
      if (terms[j] > 0) t = j;
      if (r > target && terms[j] > 0) break;
    }
    if (t < 0) t = V - 1;
    break;
  }
  return {t, x[t] * inv_t - log_zt, x[t] - log_z};
}

__attribute__((target("avx2,fma"))) RowResult sample_row_avx2(const float* x, int64_t V, bool greedy, float inv_t, double u,
                                                             float* terms, double* block_sums) {
  return sample_row_body(x, V, greedy, inv_t, u, terms, block_sums);
}
RowResult sample_row_generic(const float* x, int64_t V, bool greedy, float inv_t, double u, float* terms, double* block_sums) {
  return sample_row_body(x, V, greedy, inv_t, u, terms, block_sums);
}
using SampleRow = RowResult (*)(const float*, int64_t, bool, float, double, float*, double*);
const SampleRow sample_row = [] {
  return simd::cpu_has_avx2_fma() ? &sample_row_avx2 : &sample_row_generic;
}();

// Rows `rows` of CPU fp32 logits [B, V] (greedy or plain), written into the outputs.
void sample_rows_cpu(const torch::Tensor& logits32, const std::vector<int64_t>& rows, const std::vector<RowSampling>& params,
                     const std::vector<double>& uniforms, SampleResult& out) {
  const int64_t V = logits32.size(1), n = static_cast<int64_t>(rows.size());
  const float* base = logits32.data_ptr<float>();
  int64_t* tok = out.tokens.data_ptr<int64_t>();
  float* slp = out.sampling_logprobs.data_ptr<float>();
  float* plp = out.policy_logprobs.data_ptr<float>();
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(1, V));  // >= ~10 us of work per task
  at::parallel_for(0, n, grain, [&](int64_t i0, int64_t i1) {
    std::vector<float> terms(static_cast<size_t>(V));
    std::vector<double> block_sums(static_cast<size_t>((V + 7) / 8));
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t b = rows[i];
      const RowSampling& p = params[b];
      const bool greedy = kind_of(p, V) == Kind::greedy;
      const float inv_t = greedy ? 1.0f : static_cast<float>(1.0 / p.temperature);
      RowResult r = sample_row(base + b * V, V, greedy, inv_t, uniforms[b], terms.data(), block_sums.data());
      tok[b] = r.token;
      slp[b] = r.sampling_logprob;
      plp[b] = r.policy_logprob;
    }
  });
}

// Rows `rows` (all of one kind) through the tensor formulation, written into `out`.
void sample_rows_tensor(const torch::Tensor& logits32, const std::vector<int64_t>& rows, Kind kind,
                        const std::vector<RowSampling>& params, const std::vector<double>& uniforms, SampleResult& out) {
  auto idx = torch::tensor(rows, torch::kLong).to(logits32.device());
  std::vector<RowSampling> ps;
  std::vector<double> us;
  for (int64_t b : rows) ps.push_back(params[b]), us.push_back(uniforms[b]);
  auto sub = logits32.index_select(0, idx);
  SampleResult g = sample_group(sub, torch::log_softmax(sub, -1), kind, ps, us);
  out.tokens.index_copy_(0, idx, g.tokens);
  out.sampling_logprobs.index_copy_(0, idx, g.sampling_logprobs);
  out.policy_logprobs.index_copy_(0, idx, g.policy_logprobs);
}

}  // namespace

SampleResult sample_tokens(const torch::Tensor& logits, const std::vector<RowSampling>& params,
                           const std::vector<double>& uniforms) {
  // Each row is sampled by the method its own parameters call for, so a row's token never
  // depends on which other rows share the batch.
  const int64_t B = logits.size(0), V = logits.size(1);
  auto logits32 = logits.to(torch::kFloat32);
  std::vector<int64_t> rows[3];
  for (int64_t b = 0; b < B; ++b) rows[static_cast<int>(kind_of(params[b], V))].push_back(b);
  const bool cpu = logits32.device().is_cpu() && V > 0;
  if (!cpu)
    for (int k = 0; k < 3; ++k)
      if (static_cast<int64_t>(rows[k].size()) == B)
        return sample_group(logits32, torch::log_softmax(logits32, -1), static_cast<Kind>(k), params, uniforms);
  auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(logits32.device());
  SampleResult out{torch::empty({B}, f32.dtype(torch::kLong)), torch::empty({B}, f32), torch::empty({B}, f32)};
  for (int k = 0; k < 3; ++k) {
    const Kind kind = static_cast<Kind>(k);
    if (rows[k].empty()) continue;
    if (cpu && kind != Kind::filtered) continue;  // below, by the row kernel
    sample_rows_tensor(logits32, rows[k], kind, params, uniforms, out);
  }
  if (cpu) {
    logits32 = logits32.contiguous();
    std::vector<int64_t> simple = rows[static_cast<int>(Kind::greedy)];
    simple.insert(simple.end(), rows[static_cast<int>(Kind::plain)].begin(), rows[static_cast<int>(Kind::plain)].end());
    if (!simple.empty()) sample_rows_cpu(logits32, simple, params, uniforms, out);
  }
  return out;
}

}  // namespace r1::rollout
