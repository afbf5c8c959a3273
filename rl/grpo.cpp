// Advantages, log-probs and the GRPO loss.
#include "rl/grpo.h"

#include <cmath>
#include <map>

namespace r1::rl {

torch::Tensor compute_advantages(const torch::Tensor& rewards_in, const std::vector<int64_t>& group, AdvantageScale scale,
                                 double eps) {
  auto rewards = rewards_in.to(torch::kFloat64);
  const int64_t N = rewards.size(0);
  TORCH_CHECK(static_cast<int64_t>(group.size()) == N, "one group id per reward");
  std::map<int64_t, std::vector<int64_t>> members;
  for (int64_t i = 0; i < N; ++i) members[group[i]].push_back(i);
  auto acc = rewards.accessor<double, 1>();
  std::vector<double> centred(N), group_std(N);
  for (const auto& [g, idx] : members) {
    double mean = 0;
    for (int64_t i : idx) mean += acc[i];
    mean /= static_cast<double>(idx.size());
    double var = 0;
    for (int64_t i : idx) var += (acc[i] - mean) * (acc[i] - mean);
    // Bessel-corrected, as TRL; a group of one has no spread.
    double sd = idx.size() > 1 ? std::sqrt(var / static_cast<double>(idx.size() - 1)) : 0.0;
    for (int64_t i : idx) {
      centred[i] = acc[i] - mean;
      group_std[i] = sd;
    }
  }
  std::vector<double> adv(N);
  if (scale == AdvantageScale::batch) {
    double m = rewards.mean().item<double>();
    double sd = N > 1 ? std::sqrt((rewards - m).pow(2).sum().item<double>() / static_cast<double>(N - 1)) : 0.0;
    for (int64_t i = 0; i < N; ++i) adv[i] = centred[i] / (sd + eps);
  } else {
    for (int64_t i = 0; i < N; ++i) adv[i] = scale == AdvantageScale::group ? centred[i] / (group_std[i] + eps) : centred[i];
  }
  return torch::tensor(adv, torch::kFloat64).to(torch::kFloat32);
}

torch::Tensor token_logprobs(const torch::Tensor& logits, const torch::Tensor& targets) {
  auto lp = torch::log_softmax(logits.to(torch::kFloat32), -1);
  return lp.gather(-1, targets.unsqueeze(-1)).squeeze(-1);
}

torch::Tensor token_entropy(const torch::Tensor& logits) {
  auto lp = torch::log_softmax(logits.to(torch::kFloat32), -1);
  return -(lp.exp() * lp).sum(-1);
}

torch::Tensor grpo_loss(const LossInputs& in, const RlConfig& cfg, const LossNorm& norm, LossStats* stats) {
  const auto& mask = in.mask;                                    // [N, T]
  auto log_ratio = (in.logp - in.old_logp) * mask;               // [N, T]
  torch::Tensor ratio;
  if (cfg.ratio == RatioLevel::sequence) {
    // GSPO: s_i = exp(mean_t log-ratio), one ratio per sequence, clipped as a whole.
    auto len = mask.sum(-1).clamp_min(1);                        // [N]
    auto s = (log_ratio.sum(-1) / len).exp();                    // [N]
    ratio = s.unsqueeze(-1).expand_as(in.logp);                  // [N, T]
  } else {
    ratio = log_ratio.exp();                                     // [N, T]
  }
  auto adv = in.advantages.unsqueeze(-1);                        // [N, 1]
  auto unclipped = ratio * adv;
  auto clipped = ratio.clamp(1.0 - cfg.eps_low, 1.0 + cfg.eps_high) * adv;
  auto per_token = -torch::min(unclipped, clipped);              // [N, T]
  torch::Tensor kl;
  if (cfg.beta > 0 && in.ref_logp.defined()) {
    auto d = in.ref_logp - in.logp;                              // log(pi_ref / pi)
    kl = d.exp() - d - 1.0;                                      // k3, >= 0
    per_token = per_token + cfg.beta * kl;
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
    auto a = in.advantages.unsqueeze(-1).expand_as(r);
    // TRL's clip_ratio/low: ratio < 1 - eps with A < 0; /high: ratio > 1 + eps with A > 0.
    stats->clip_low += ((r < 1.0 - cfg.eps_low) & (a < 0)).to(torch::kFloat32).mul(mask).sum().item<double>();
    stats->clip_high += ((r > 1.0 + cfg.eps_high) & (a > 0)).to(torch::kFloat32).mul(mask).sum().item<double>();
    if (kl.defined()) stats->kl_sum += (kl.detach() * mask).sum().item<double>();
    auto valid = mask > 0;
    if (valid.any().item<bool>()) {
      stats->ratio_min = std::min(stats->ratio_min, r.masked_select(valid).min().item<double>());
      stats->ratio_max = std::max(stats->ratio_max, r.masked_select(valid).max().item<double>());
    }
    stats->tokens += mask.sum().item<double>();
  }
  return loss;
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
