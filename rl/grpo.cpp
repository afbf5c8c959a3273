// Advantages, log-probs and the GRPO loss.
#include "rl/grpo.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace r1::rl {

namespace {

// veRL clamps log-ratios to +-20 before exp: e^20 is far past any clip, and nothing overflows.
constexpr double kMaxLogRatio = 20.0;

}  // namespace

bool zero_spread(const std::vector<double>& r) {
  if (r.size() < 2) return true;
  auto [lo, hi] = std::minmax_element(r.begin(), r.end());
  double scale = std::max({1.0, std::abs(*lo), std::abs(*hi)});
  return *hi - *lo <= 1e-9 * scale;
}

std::vector<bool> zero_spread_flags(const std::vector<double>& rewards, const std::vector<int64_t>& group) {
  std::map<int64_t, std::vector<double>> by_group;
  for (size_t i = 0; i < rewards.size(); ++i) by_group[group[i]].push_back(rewards[i]);
  std::map<int64_t, bool> flat;
  for (const auto& [g, r] : by_group) flat[g] = zero_spread(r);
  std::vector<bool> out(rewards.size());
  for (size_t i = 0; i < rewards.size(); ++i) out[i] = flat[group[i]];
  return out;
}

torch::Tensor compute_advantages(const torch::Tensor& rewards_in, const std::vector<int64_t>& group, AdvantageEstimator estimator,
                                 AdvantageScale scale, double eps, const std::vector<bool>* zero_in,
                                 const std::vector<double>* baselines) {
  auto rewards = rewards_in.to(torch::kFloat64).contiguous();
  const int64_t N = rewards.size(0);
  TORCH_CHECK(static_cast<int64_t>(group.size()) == N, "one group id per reward");
  std::vector<double> r(rewards.data_ptr<double>(), rewards.data_ptr<double>() + N);
  std::vector<bool> zero = zero_in ? *zero_in : zero_spread_flags(r, group);
  std::map<int64_t, std::vector<int64_t>> members;
  for (int64_t i = 0; i < N; ++i) members[group[i]].push_back(i);
  std::vector<double> centred(N), group_std(N);
  for (const auto& [g, idx] : members) {
    double mean = 0;
    for (int64_t i : idx) mean += r[i];
    mean /= static_cast<double>(idx.size());
    double var = 0;
    for (int64_t i : idx) var += (r[i] - mean) * (r[i] - mean);
    // Bessel-corrected, as TRL; a group of one has no spread.
    double sd = idx.size() > 1 ? std::sqrt(var / static_cast<double>(idx.size() - 1)) : 0.0;
    // RLOO's leave-one-out baseline: r_i - (sum - r_i) / (G - 1) = G / (G - 1) * (r_i - mean).
    const double n = static_cast<double>(idx.size());
    const double gain = estimator == AdvantageEstimator::rloo && idx.size() > 1 ? n / (n - 1) : 1.0;
    for (int64_t i : idx) {
      centred[i] = gain * (r[i] - mean);
      group_std[i] = sd;
    }
    if (estimator == AdvantageEstimator::remax) {
      TORCH_CHECK(baselines && static_cast<int64_t>(baselines->size()) == N, "remax needs one greedy baseline per reward");
      for (int64_t i : idx) centred[i] = r[i] - (*baselines)[i];
    }
  }
  double batch_sd = 0;
  if (scale == AdvantageScale::batch && N > 1) {
    double m = 0, v = 0;
    for (double x : r) m += x;
    m /= static_cast<double>(N);
    for (double x : r) v += (x - m) * (x - m);
    batch_sd = std::sqrt(v / static_cast<double>(N - 1));
  }
  std::vector<double> adv(N);
  for (int64_t i = 0; i < N; ++i) {
    // REINFORCE++ scores: the raw reward (a zero-spread group still has a non-zero return) or the
    // centred one; token_advantages normalises them over the batch.
    if (estimator == AdvantageEstimator::reinforce_pp || estimator == AdvantageEstimator::gae) {
      adv[i] = r[i];
      continue;
    }
    if (zero[i] && estimator != AdvantageEstimator::remax) continue;  // no signal: exactly 0, not noise / eps
    if (estimator == AdvantageEstimator::reinforce_pp_baseline) {
      adv[i] = centred[i];
      continue;
    }
    switch (scale) {
      case AdvantageScale::group: adv[i] = centred[i] / (group_std[i] + eps); break;
      case AdvantageScale::batch: adv[i] = centred[i] / (batch_sd + eps); break;
      case AdvantageScale::none: adv[i] = centred[i]; break;
    }
  }
  return torch::tensor(adv, torch::kFloat64).to(torch::kFloat32);
}

namespace {

torch::Tensor tempered_log_softmax(const torch::Tensor& logits, double temperature) {
  TORCH_CHECK(temperature > 0, "the learner's temperature must be > 0");
  auto z = logits.to(torch::kFloat32);
  if (temperature != 1.0) z = z / temperature;
  return torch::log_softmax(z, -1);
}

}  // namespace

torch::Tensor token_logprobs(const torch::Tensor& logits, const torch::Tensor& targets, double temperature) {
  return tempered_log_softmax(logits, temperature).gather(-1, targets.unsqueeze(-1)).squeeze(-1);
}

torch::Tensor token_entropy(const torch::Tensor& logits, double temperature) {
  auto lp = tempered_log_softmax(logits, temperature);
  return -(lp.exp() * lp).sum(-1);
}

namespace {

// The importance ratio pi / pi_old per token ([N, T]); GSPO: one per sequence, exp of the mean
// token log-ratio, broadcast over its tokens.
torch::Tensor policy_ratio(const LossInputs& in, const LossConfig& cfg) {
  const auto& mask = in.mask;
  auto log_ratio = ((in.logp - in.old_logp) * mask).clamp(-kMaxLogRatio, kMaxLogRatio);
  if (cfg.ratio == RatioLevel::token) return log_ratio.exp();
  auto len = mask.sum(-1).clamp_min(1);
  auto s = (log_ratio.sum(-1) / len).exp();
  return s.unsqueeze(-1).expand_as(in.logp);
}

// Per-token weight of the rollout importance-sampling correction (detached), or undefined.
// TIS: min(pi_old / pi_rollout, C); MIS: 1 inside [1/C, C], 0 outside.
torch::Tensor rollout_is_weight(const LossInputs& in, const LossConfig& cfg, torch::Tensor* limited) {
  if (cfg.is_correction == IsCorrection::none) return {};
  TORCH_CHECK(in.rollout_logp.defined(), "is_correction needs the rollout's log-probs");
  torch::NoGradGuard ng;
  auto d = ((in.old_logp - in.rollout_logp) * in.mask).clamp(-kMaxLogRatio, kMaxLogRatio);
  auto w = d.exp();
  if (cfg.is_correction == IsCorrection::tis) {
    *limited = w > cfg.is_cap;
    return w.clamp_max(cfg.is_cap);
  }
  auto inside = (w <= cfg.is_cap) & (w >= 1.0 / cfg.is_cap);
  *limited = ~inside;
  return inside.to(w.scalar_type());
}

// PPO's clipped surrogate, pessimistic over the clipped and unclipped ratio, with veRL's dual-clip
// (with A < 0 a huge ratio would make -r*A unbounded: capped at -c*A). `dual` marks the tokens
// the dual-clip bounded.
torch::Tensor ppo_clip_surrogate(const torch::Tensor& ratio, const torch::Tensor& adv, const LossConfig& cfg, torch::Tensor* dual) {
  auto unclipped = -ratio * adv;
  auto clipped = -ratio.clamp(1.0 - cfg.eps_low, 1.0 + cfg.eps_high) * adv;
  auto per_token = torch::max(unclipped, clipped);
  if (cfg.clip_ratio_c > 0) {
    auto bound = -cfg.clip_ratio_c * adv;
    *dual = (adv < 0) & (per_token > bound);
    per_token = torch::where(adv < 0, torch::min(per_token, bound), per_token);
  }
  return per_token;
}

// CISPO (MiniMax-M1, 2025): -sg(clip(r, 1 - eps_low, 1 + eps_high)) * A * log pi. The weight is
// clipped and detached, so every token keeps the REINFORCE gradient A * grad log pi, scaled by the
// weight, where PPO's clip would zero it.
torch::Tensor cispo_surrogate(const torch::Tensor& ratio, const torch::Tensor& adv, const torch::Tensor& logp,
                              const torch::Tensor& mask, const LossConfig& cfg) {
  auto weight = ratio.clamp(1.0 - cfg.eps_low, 1.0 + cfg.eps_high).detach();
  return -weight * adv * torch::where(mask > 0, logp, torch::zeros_like(logp));
}

// SAPO (Gao et al. 2025): -f(r) * A with f(r) = 4/tau * sigmoid(tau * (r - 1)), tau_pos for A > 0
// and tau_neg for A < 0. f'(1) = 1, so on-policy it is the plain policy gradient; away from r = 1
// the gradient fades smoothly (4 s (1 - s) r) instead of stopping at a clip boundary.
torch::Tensor sapo_surrogate(const torch::Tensor& ratio, const torch::Tensor& adv, const LossConfig& cfg) {
  auto tau = torch::where(adv > 0, torch::full_like(adv, cfg.sapo_tau_pos), torch::full_like(adv, cfg.sapo_tau_neg));
  return -(4.0 / tau) * torch::sigmoid(tau * (ratio - 1.0)) * adv;
}

}  // namespace

// Per-token KL to the reference, d = log pi_ref - log pi masked before any exp (outside the
// completion ref_logp is a filler and logp may be < -88.7: exp would overflow and inf * 0 turn the
// loss and every gradient into NaN) and clamped as veRL does.
torch::Tensor kl_estimate(const torch::Tensor& logp, const torch::Tensor& ref_logp, const torch::Tensor& mask, KlEstimator estimator) {
  auto d = ((ref_logp - logp) * mask).clamp(-kMaxLogRatio, kMaxLogRatio);
  switch (estimator) {
    case KlEstimator::k1: return -d;                                           // log pi - log pi_ref
    case KlEstimator::k2: return 0.5 * d * d;                                  // (log ratio)^2 / 2
    case KlEstimator::k3: return d.exp() - d - 1.0;                            // >= 0, unbiased
    case KlEstimator::low_var_kl: return (d.exp() - d - 1.0).clamp(-10.0, 10.0);  // veRL's bounded k3
  }
  return d;
}

torch::Tensor grpo_loss(const LossInputs& in, const LossConfig& cfg, const LossNorm& norm, LossStats* stats) {
  const auto& mask = in.mask;                                    // [N, T]
  auto ratio = policy_ratio(in, cfg);                            // [N, T]
  auto adv = in.advantages.dim() == 1 ? in.advantages.unsqueeze(-1) : in.advantages;  // [N, 1] or [N, T]
  torch::Tensor per_token, dual;
  switch (cfg.policy_loss) {
    case PolicyLoss::ppo_clip: per_token = ppo_clip_surrogate(ratio, adv, cfg, &dual); break;
    case PolicyLoss::cispo: per_token = cispo_surrogate(ratio, adv, in.logp, mask, cfg); break;
    case PolicyLoss::sapo: per_token = sapo_surrogate(ratio, adv, cfg); break;
  }
  torch::Tensor limited;
  auto is_w = rollout_is_weight(in, cfg, &limited);
  if (is_w.defined()) per_token = per_token * is_w;
  torch::Tensor kl;
  if (cfg.beta > 0 && in.ref_logp.defined()) {
    kl = kl_estimate(in.logp, in.ref_logp, mask, cfg.kl_estimator);
    per_token = per_token + cfg.beta * kl;
  }
  if (cfg.entropy_coef > 0) {
    TORCH_CHECK(in.entropy.defined(), "entropy_coef needs the policy's entropy");
    per_token = per_token - cfg.entropy_coef * in.entropy;
  }
  per_token = per_token * mask;
  torch::Tensor loss;
  switch (cfg.loss_agg) {
    case LossAggregation::token_mean: loss = per_token.sum() / std::max(1.0, norm.tokens); break;
    case LossAggregation::seq_mean_token_mean:
      loss = (per_token.sum(-1) / mask.sum(-1).clamp_min(1)).sum() / std::max(1.0, norm.sequences);
      break;
    case LossAggregation::seq_mean_token_sum_norm:
      loss = per_token.sum() / (std::max(1.0, norm.sequences) * std::max(1.0, norm.max_len));
      break;
  }
  if (stats) {
    torch::NoGradGuard ng;
    auto r = ratio.detach();
    auto a = adv.expand_as(r);
    auto count = [&](const torch::Tensor& b) { return b.to(torch::kFloat64).mul(mask).sum().item<double>(); };
    // TRL's clip_ratio/low: ratio < 1 - eps with A < 0; /high: ratio > 1 + eps with A > 0. CISPO
    // clips its weight whatever the sign; SAPO clips nothing.
    if (cfg.policy_loss == PolicyLoss::ppo_clip) {
      stats->clip_low += count((r < 1.0 - cfg.eps_low) & (a < 0));
      stats->clip_high += count((r > 1.0 + cfg.eps_high) & (a > 0));
    } else if (cfg.policy_loss == PolicyLoss::cispo) {
      stats->clip_low += count(r < 1.0 - cfg.eps_low);
      stats->clip_high += count(r > 1.0 + cfg.eps_high);
    }
    if (dual.defined()) stats->clip_dual += count(dual.expand_as(r));
    if (kl.defined()) stats->kl_sum += (kl.detach() * mask).sum().item<double>();
    if (is_w.defined()) {
      stats->is_weight_sum += (is_w * mask).sum().item<double>();
      stats->is_limited += count(limited);
    }
    auto valid = mask > 0;
    if (valid.any().item<bool>()) {
      stats->ratio_min = std::min(stats->ratio_min, r.masked_select(valid).min().item<double>());
      stats->ratio_max = std::max(stats->ratio_max, r.masked_select(valid).max().item<double>());
    }
    stats->tokens += mask.sum().item<double>();
  }
  return loss;
}

std::vector<torch::Tensor> token_advantages(const std::vector<double>& scores, const std::vector<torch::Tensor>& kl,
                                            const std::vector<bool>& counted, AdvantageEstimator estimator, double kl_coef,
                                            double eps, bool kl_to_go, const MomentsReduce& reduce) {
  std::vector<torch::Tensor> out(scores.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    const int64_t len = kl[i].size(0);
    auto g = torch::full({len}, scores[i], torch::kFloat64);
    if (len > 0 && kl_coef != 0) {
      // Reverse cumulative sum: the penalties from t to the end (or t's own).
      auto penalties = kl_to_go ? kl[i].to(torch::kFloat64).flip(0).cumsum(0).flip(0) : kl[i].to(torch::kFloat64);
      g = g - kl_coef * penalties;
    }
    out[i] = g;
  }
  if (is_reinforce_pp(estimator)) whiten_tokens(out, counted, estimator == AdvantageEstimator::reinforce_pp, eps, reduce);
  for (auto& t : out) t = t.to(torch::kFloat32);
  return out;
}

void whiten_tokens(std::vector<torch::Tensor>& values, const std::vector<bool>& counted, bool centre, double eps,
                   const MomentsReduce& reduce) {
  std::array<double, 3> moments = {0, 0, 0};
  for (size_t i = 0; i < values.size(); ++i) {
    if (!counted[i]) continue;
    auto v = values[i].to(torch::kFloat64);
    moments[0] += v.sum().item<double>();
    moments[1] += (v * v).sum().item<double>();
    moments[2] += static_cast<double>(v.numel());
  }
  if (reduce) moments = reduce(moments);
  const auto [sum, sum_sq, n] = moments;
  if (n == 0) return;
  const double mean = sum / n, sd = std::sqrt(std::max(0.0, sum_sq / n - mean * mean));
  for (size_t i = 0; i < values.size(); ++i) {
    if (!counted[i]) continue;
    const auto type = values[i].scalar_type();
    auto v = values[i].to(torch::kFloat64);
    values[i] = ((centre ? v - mean : v) / (sd + eps)).to(type);
  }
}

GaeResult gae(const torch::Tensor& rewards, const torch::Tensor& values, double gamma, double lam) {
  TORCH_CHECK(rewards.dim() == 1 && rewards.sizes() == values.sizes(), "gae: one value per reward");
  const int64_t T = rewards.size(0);
  auto r = rewards.to(torch::kFloat64).contiguous(), v = values.to(torch::kFloat64).contiguous();
  auto adv = torch::zeros({T}, torch::kFloat64);
  const double* rp = r.data_ptr<double>();
  const double* vp = v.data_ptr<double>();
  double* ap = adv.data_ptr<double>();
  double running = 0;  // A_{t+1}
  for (int64_t t = T - 1; t >= 0; --t) {
    const double next_value = t + 1 < T ? vp[t + 1] : 0.0;
    const double delta = rp[t] + gamma * next_value - vp[t];
    running = delta + gamma * lam * running;
    ap[t] = running;
  }
  return {adv.to(torch::kFloat32), (adv + v).to(torch::kFloat32)};
}

torch::Tensor value_loss(const torch::Tensor& values, const torch::Tensor& old_values, const torch::Tensor& returns,
                         const torch::Tensor& mask, double vf_clip, double norm_tokens, ValueLossStats* stats) {
  auto err = (values - returns).pow(2);
  auto per_token = err;
  torch::Tensor clipped_larger;
  if (vf_clip > 0) {
    auto clipped = old_values + (values - old_values).clamp(-vf_clip, vf_clip);
    auto clipped_err = (clipped - returns).pow(2);
    clipped_larger = clipped_err > err;
    per_token = torch::max(err, clipped_err);
  }
  auto loss = 0.5 * (per_token * mask).sum() / std::max(1.0, norm_tokens);
  if (stats) {
    torch::NoGradGuard ng;
    if (clipped_larger.defined()) stats->clipped += (clipped_larger.to(torch::kFloat64) * mask).sum().item<double>();
    stats->sq_err += (err.detach().to(torch::kFloat64) * mask).sum().item<double>();
    stats->tokens += mask.sum().item<double>();
  }
  return loss;
}

double adapt_kl_coef(double beta, double kl, double target, int64_t samples, int64_t horizon) {
  const double error = std::clamp(kl / target - 1.0, -0.2, 0.2);
  return beta * (1.0 + error * static_cast<double>(samples) / static_cast<double>(horizon));
}

void MismatchStats::add(const torch::Tensor& learner, const torch::Tensor& rollout, const torch::Tensor& mask) {
  torch::NoGradGuard ng;
  auto valid = mask > 0;
  if (!valid.any().item<bool>()) return;
  auto d = (rollout.to(torch::kFloat64) - learner.to(torch::kFloat64)).masked_select(valid);
  auto dc = d.clamp(-kMaxLogRatio, kMaxLogRatio);
  k3_sum += (dc.exp() - dc - 1.0).sum().item<double>();
  max_abs_diff = std::max(max_abs_diff, d.abs().max().item<double>());
  over_half += (d.abs() > 0.5).sum().item<double>();
  tokens += static_cast<double>(d.numel());
}

double lr_factor(const RlConfig& cfg, int64_t step, int64_t total) {
  if (cfg.warmup_steps > 0 && step < cfg.warmup_steps) return static_cast<double>(step + 1) / static_cast<double>(cfg.warmup_steps);
  if (cfg.lr_schedule == LrSchedule::constant || total <= cfg.warmup_steps) return 1.0;
  double progress = static_cast<double>(step - cfg.warmup_steps) / static_cast<double>(std::max<int64_t>(1, total - cfg.warmup_steps));
  progress = std::clamp(progress, 0.0, 1.0);
  double floor = cfg.min_lr_ratio;
  if (cfg.lr_schedule == LrSchedule::linear) return floor + (1.0 - floor) * (1.0 - progress);
  return floor + (1.0 - floor) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace r1::rl
