// Temperature, top-k, top-p, min-p and inverse-CDF sampling in sorted-probability space.
#include "rollout/sampler.h"

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

}  // namespace

SampleResult sample_tokens(const torch::Tensor& logits, const std::vector<RowSampling>& params,
                           const std::vector<double>& uniforms) {
  // Each row is sampled by the method its own parameters call for, so a row's token never
  // depends on which other rows share the batch.
  const int64_t B = logits.size(0), V = logits.size(1);
  auto logits32 = logits.to(torch::kFloat32);
  auto logp = torch::log_softmax(logits32, -1);
  std::vector<int64_t> rows[3];
  for (int64_t b = 0; b < B; ++b) rows[static_cast<int>(kind_of(params[b], V))].push_back(b);
  for (int k = 0; k < 3; ++k)
    if (static_cast<int64_t>(rows[k].size()) == B)
      return sample_group(logits32, logp, static_cast<Kind>(k), params, uniforms);
  SampleResult out{torch::empty({B}, torch::kLong).to(logits.device()), torch::empty({B}, torch::kFloat32).to(logits.device()),
                   torch::empty({B}, torch::kFloat32).to(logits.device())};
  for (int k = 0; k < 3; ++k) {
    if (rows[k].empty()) continue;
    auto idx = torch::tensor(rows[k], torch::kLong).to(logits.device());
    std::vector<RowSampling> ps;
    std::vector<double> us;
    for (int64_t b : rows[k]) ps.push_back(params[b]), us.push_back(uniforms[b]);
    SampleResult g = sample_group(logits32.index_select(0, idx), logp.index_select(0, idx), static_cast<Kind>(k), ps, us);
    out.tokens.index_copy_(0, idx, g.tokens);
    out.sampling_logprobs.index_copy_(0, idx, g.sampling_logprobs);
    out.policy_logprobs.index_copy_(0, idx, g.policy_logprobs);
  }
  return out;
}

}  // namespace r1::rollout
