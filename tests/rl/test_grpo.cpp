// The GRPO learner's formulas against hand-computed tables and numerical derivatives
// (../shared/docs/GRPO.md): advantages, the three loss aggregations, micro-batch invariance,
// clipped-surrogate gradients, the k3 KL, the GSPO sequence ratio, the LR schedule, and the
// other estimators and losses (RLOO, REINFORCE++, ReMax, GAE and the value loss, CISPO, SAPO).
#include <doctest/doctest.h>
#include <torch/torch.h>

#include <cmath>

#include "rl/grpo.h"

using namespace r1::rl;

namespace {

std::vector<double> to_vec(const torch::Tensor& t) {
  auto c = t.to(torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("index " << i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol));
  }
}

LossConfig config(LossAggregation agg, double beta = 0.0) {
  LossConfig c;
  c.loss_agg = agg;
  c.beta = beta;
  return c;
}

}  // namespace

TEST_CASE("advantages: group, batch and none scaling match hand-computed values") {
  // group 0: rewards 1 0 0 1 -> mean 0.5, Bessel std sqrt(1/3); group 1: 0 0 0 1 -> mean 0.25, std 0.5
  auto r = torch::tensor({1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0});
  std::vector<int64_t> g{0, 0, 0, 0, 1, 1, 1, 1};
  const double s0 = std::sqrt(1.0 / 3.0), eps = 1e-4;
  check_close(to_vec(compute_advantages(r, g, AdvantageEstimator::grpo, AdvantageScale::group, eps)),
              {0.5 / (s0 + eps), -0.5 / (s0 + eps), -0.5 / (s0 + eps), 0.5 / (s0 + eps), -0.25 / (0.5 + eps), -0.25 / (0.5 + eps),
               -0.25 / (0.5 + eps), 0.75 / (0.5 + eps)},
              1e-5);
  // batch: centred per group, divided by the std of all 8 rewards (mean 0.375)
  const double sb = std::sqrt((3 * 0.625 * 0.625 + 5 * 0.375 * 0.375) / 7.0);
  check_close(to_vec(compute_advantages(r, g, AdvantageEstimator::grpo, AdvantageScale::batch, eps)),
              {0.5 / (sb + eps), -0.5 / (sb + eps), -0.5 / (sb + eps), 0.5 / (sb + eps), -0.25 / (sb + eps), -0.25 / (sb + eps),
               -0.25 / (sb + eps), 0.75 / (sb + eps)},
              1e-5);
  check_close(to_vec(compute_advantages(r, g, AdvantageEstimator::grpo, AdvantageScale::none, eps)), {0.5, -0.5, -0.5, 0.5, -0.25, -0.25, -0.25, 0.75}, 1e-6);
  // a group whose rewards are all equal teaches nothing
  auto flat = compute_advantages(torch::tensor({0.7, 0.7, 0.7, 1.0, 0.0}), {3, 3, 3, 5, 5}, AdvantageEstimator::grpo, AdvantageScale::group, eps);
  auto fv = to_vec(flat);
  check_close({fv[0], fv[1], fv[2]}, {0.0, 0.0, 0.0}, 1e-9);
  CHECK(fv[3] == doctest::Approx(0.5 / (std::sqrt(0.5) + eps)));
}

TEST_CASE("loss aggregation on policy (ratio 1) equals the hand-computed table") {
  // Two sequences: A = +1 over 3 tokens, A = -2 over 1 token; per-token loss = -A.
  auto logp = torch::full({2, 3}, -1.0, torch::kFloat64);
  auto mask = torch::tensor({1.0, 1.0, 1.0, 0.0, 1.0, 0.0}, torch::kFloat64).view({2, 3});
  LossInputs in{logp, logp.clone(), torch::Tensor(), torch::tensor({1.0, -2.0}, torch::kFloat64), mask};
  LossNorm norm{4.0, 2.0, 4.0};
  // token_mean: -(3*1 - 2) / 4 tokens
  CHECK(grpo_loss(in, config(LossAggregation::token_mean), norm, nullptr).item<double>() == doctest::Approx(-0.25));
  // seq_mean_token_mean: -(mean(1,1,1) + mean(-2)) / 2 sequences
  CHECK(grpo_loss(in, config(LossAggregation::seq_mean_token_mean), norm, nullptr).item<double>() == doctest::Approx(0.5));
  // seq_mean_token_sum_norm (Dr. GRPO): -(3 - 2) / (2 sequences * max_len 4)
  CHECK(grpo_loss(in, config(LossAggregation::seq_mean_token_sum_norm), norm, nullptr).item<double>() == doctest::Approx(-0.125));
}

TEST_CASE("the same batch split into 1, 2 or 4 micro-batches gives the same gradient") {
  torch::manual_seed(3);
  const int64_t N = 8, T = 6, V = 5;
  auto logits0 = torch::randn({N, T, V}, torch::kFloat64);
  auto targets = torch::randint(0, V, {N, T});
  auto old = torch::log_softmax(logits0 + 0.3 * torch::randn({N, T, V}, torch::kFloat64), -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1);
  auto ref = torch::log_softmax(logits0 + 0.2 * torch::randn({N, T, V}, torch::kFloat64), -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1);
  auto mask = (torch::rand({N, T}, torch::kFloat64) > 0.3).to(torch::kFloat64);
  mask.index_put_({torch::indexing::Slice(), 0}, 1.0);
  auto adv = torch::randn({N}, torch::kFloat64);
  LossNorm norm{mask.sum().item<double>(), static_cast<double>(N), static_cast<double>(T)};
  for (auto agg : {LossAggregation::token_mean, LossAggregation::seq_mean_token_mean, LossAggregation::seq_mean_token_sum_norm}) {
    for (auto ratio : {RatioLevel::token, RatioLevel::sequence}) {
      LossConfig cfg = config(agg, 0.04);
      cfg.ratio = ratio;
      std::vector<torch::Tensor> grads;
      std::vector<double> losses;
      for (int64_t parts : {1, 2, 4}) {
        auto logits = logits0.clone().requires_grad_(true);
        double total = 0;
        const int64_t per = N / parts;
        for (int64_t p = 0; p < parts; ++p) {
          auto rows = torch::arange(p * per, (p + 1) * per);
          auto lp = torch::log_softmax(logits.index_select(0, rows), -1).gather(-1, targets.index_select(0, rows).unsqueeze(-1)).squeeze(-1);
          LossInputs in{lp, old.index_select(0, rows), ref.index_select(0, rows), adv.index_select(0, rows), mask.index_select(0, rows)};
          auto loss = grpo_loss(in, cfg, norm, nullptr);
          loss.backward();
          total += loss.item<double>();
        }
        grads.push_back(logits.grad().clone());
        losses.push_back(total);
      }
      INFO("aggregation " << static_cast<int>(agg) << " ratio " << static_cast<int>(ratio));
      CHECK(losses[1] == doctest::Approx(losses[0]).epsilon(1e-12));
      CHECK(losses[2] == doctest::Approx(losses[0]).epsilon(1e-12));
      CHECK(torch::allclose(grads[1], grads[0], 1e-10, 1e-12));
      CHECK(torch::allclose(grads[2], grads[0], 1e-10, 1e-12));
    }
  }
}

namespace {

// A two-token toy policy: one step, pi = softmax(theta), the sampled token is 0.
double toy_loss(const torch::Tensor& theta, double old_p0, double adv, const LossConfig& cfg, torch::Tensor* grad) {
  auto th = theta.clone().requires_grad_(true);
  auto lp = torch::log_softmax(th, 0)[0].view({1, 1});
  LossInputs in{lp, torch::full({1, 1}, std::log(old_p0), torch::kFloat64), torch::Tensor(), torch::full({1}, adv, torch::kFloat64),
                torch::ones({1, 1}, torch::kFloat64)};
  auto loss = grpo_loss(in, cfg, LossNorm{1, 1, 1}, nullptr);
  loss.backward();
  if (grad) *grad = th.grad().clone();
  return loss.item<double>();
}

// Central difference of toy_loss in theta[j].
double toy_loss_fd(const torch::Tensor& theta, int j, double old_p0, double adv, const LossConfig& cfg) {
  const double h = 1e-6;
  auto plus = theta.clone(), minus = theta.clone();
  plus[j] += h;
  minus[j] -= h;
  return (toy_loss(plus, old_p0, adv, cfg, nullptr) - toy_loss(minus, old_p0, adv, cfg, nullptr)) / (2 * h);
}

}  // namespace

TEST_CASE("clipped-surrogate gradients on a two-token policy match finite differences") {
  LossConfig cfg = config(LossAggregation::token_mean);
  cfg.eps_low = 0.2;
  cfg.eps_high = 0.28;
  struct Case {
    double theta0, old_p0, adv;
    bool zero_grad;  // clipped: no gradient
  } cases[] = {
      {0.0, 0.5, 1.0, false},   // ratio 1: inside the trust region
      {0.0, 0.5, -1.0, false},
      {1.5, 0.5, 1.0, true},    // ratio 1.64 > 1.28 with A > 0: clipped
      {1.5, 0.5, -1.0, false},  // ratio above the region but A < 0: the min keeps the unclipped term
      {-1.5, 0.5, -1.0, true},  // ratio 0.36 < 0.8 with A < 0: clipped
      {-1.5, 0.5, 1.0, false},
  };
  for (const auto& c : cases) {
    auto theta = torch::tensor({c.theta0, 0.0}, torch::kFloat64);
    torch::Tensor g;
    toy_loss(theta, c.old_p0, c.adv, cfg, &g);
    auto ga = to_vec(g);
    for (int j = 0; j < 2; ++j) {
      double fd = toy_loss_fd(theta, j, c.old_p0, c.adv, cfg);
      INFO("theta0 " << c.theta0 << " adv " << c.adv << " j " << j);
      CHECK(ga[j] == doctest::Approx(fd).epsilon(1e-6).scale(1e-9));
      if (c.zero_grad) CHECK(ga[j] == 0.0);
      else CHECK(std::abs(ga[j]) > 1e-3);
    }
    // the analytic form inside the region: dL/dtheta_0 = -A * r * (1 - p0)
    if (!c.zero_grad) {
      double p0 = 1.0 / (1.0 + std::exp(-c.theta0));
      double r = p0 / c.old_p0;
      CHECK(ga[0] == doctest::Approx(-c.adv * r * (1 - p0)).epsilon(1e-9));
    }
  }
}

TEST_CASE("k3 KL: value exp(d) - d - 1 >= 0 with d = ref - logp, and its gradient 1 - exp(d)") {
  auto lp = torch::tensor({-0.5, -2.0, -1.0}, torch::kFloat64).view({1, 3}).requires_grad_(true);
  auto ref = torch::tensor({-1.0, -1.0, -1.0}, torch::kFloat64).view({1, 3});
  const double beta = 0.1;
  LossInputs in{lp, lp.detach().clone(), ref, torch::zeros({1}, torch::kFloat64), torch::ones({1, 3}, torch::kFloat64)};
  LossStats stats;
  auto loss = grpo_loss(in, config(LossAggregation::token_mean, beta), LossNorm{3, 1, 3}, &stats);
  loss.backward();
  double kl_sum = 0;
  std::vector<double> lpv{-0.5, -2.0, -1.0}, want_grad;
  for (double l : lpv) {
    double d = -1.0 - l;
    kl_sum += std::exp(d) - d - 1;
    want_grad.push_back(beta * (1 - std::exp(d)) / 3.0);
  }
  CHECK(loss.item<double>() == doctest::Approx(beta * kl_sum / 3.0).epsilon(1e-12));
  CHECK(stats.kl_sum == doctest::Approx(kl_sum).epsilon(1e-12));
  CHECK(kl_sum > 0);
  check_close(to_vec(lp.grad()), want_grad, 1e-10);
  // equal policies: KL 0 and no gradient from it
  auto same = torch::tensor({-1.0, -1.0, -1.0}, torch::kFloat64).view({1, 3}).requires_grad_(true);
  LossInputs eq{same, same.detach().clone(), ref, torch::zeros({1}, torch::kFloat64), torch::ones({1, 3}, torch::kFloat64)};
  auto l0 = grpo_loss(eq, config(LossAggregation::token_mean, beta), LossNorm{3, 1, 3}, nullptr);
  l0.backward();
  CHECK(l0.item<double>() == doctest::Approx(0.0));
  check_close(to_vec(same.grad()), {0, 0, 0}, 1e-12);
}

TEST_CASE("GSPO: one ratio per sequence, exp of the mean token log-ratio, clipped as a whole") {
  auto lp = torch::tensor({-1.0, -2.0, -0.5, 0.0}, torch::kFloat64).view({1, 4});
  auto old = torch::tensor({-1.5, -1.5, -0.5, 0.0}, torch::kFloat64).view({1, 4});
  auto mask = torch::tensor({1.0, 1.0, 1.0, 0.0}, torch::kFloat64).view({1, 4});
  LossConfig cfg = config(LossAggregation::token_mean);
  cfg.ratio = RatioLevel::sequence;
  LossStats stats;
  LossInputs in{lp, old, torch::Tensor(), torch::full({1}, 1.0, torch::kFloat64), mask};
  auto loss = grpo_loss(in, cfg, LossNorm{3, 1, 4}, &stats);
  double s = std::exp((0.5 - 0.5 + 0.0) / 3.0);  // = 1: the token ratios cancel in the mean
  CHECK(loss.item<double>() == doctest::Approx(-s));
  CHECK(stats.ratio_min == doctest::Approx(1.0));
  CHECK(stats.ratio_max == doctest::Approx(1.0));
  // token level: the same tokens have ratios e^0.5 (clipped at 1.28 for A > 0) and e^-0.5
  LossConfig tok = config(LossAggregation::token_mean);
  LossStats ts;
  auto tl = grpo_loss(in, tok, LossNorm{3, 1, 4}, &ts);
  CHECK(tl.item<double>() == doctest::Approx(-(1.28 + std::exp(-0.5) + 1.0) / 3.0));
  CHECK(ts.clip_high == doctest::Approx(1.0));
  CHECK(ts.ratio_max == doctest::Approx(std::exp(0.5)));
}

TEST_CASE("k3 KL: a masked position with logp = -100 and a filler reference gives a finite loss and gradients") {
  // Outside the completion ref_logp is a filler 0; exp(0 - (-100)) overflows fp32.
  auto lp = torch::tensor({-1.0f, -100.0f}).view({1, 2}).requires_grad_(true);
  auto ref = torch::tensor({-1.2f, 0.0f}).view({1, 2});
  auto mask = torch::tensor({1.0f, 0.0f}).view({1, 2});
  LossInputs in{lp, lp.detach().clone(), ref, torch::ones({1}), mask};
  auto loss = grpo_loss(in, config(LossAggregation::token_mean, 0.1), LossNorm{1, 1, 2}, nullptr);
  loss.backward();
  CHECK(std::isfinite(loss.item<double>()));
  CHECK(torch::isfinite(lp.grad()).all().item<bool>());
  double d = -0.2;  // the one counted position: ref - logp
  CHECK(loss.item<double>() == doctest::Approx(-1.0 + 0.1 * (std::exp(d) - d - 1)).epsilon(1e-6));
  CHECK(lp.grad()[0][1].item<double>() == 0.0);
}

TEST_CASE("zero spread: equal non-dyadic rewards are one flag, and their advantages are exactly 0") {
  std::vector<double> tenths(8, 0.1);
  CHECK(zero_spread(tenths));
  CHECK(zero_spread({0.7, 0.7, 0.7}));
  CHECK_FALSE(zero_spread({0.1, 0.1, 0.1 + 1e-6}));
  CHECK(zero_spread({5.0}));
  std::vector<double> r = tenths;
  r.insert(r.end(), {1.0, 0.0, 0.0, 1.0});
  std::vector<int64_t> g{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
  auto flags = zero_spread_flags(r, g);
  for (int i = 0; i < 8; ++i) CHECK(flags[i]);
  for (int i = 8; i < 12; ++i) CHECK_FALSE(flags[i]);
  for (auto scale : {AdvantageScale::group, AdvantageScale::batch, AdvantageScale::none}) {
    auto a = to_vec(compute_advantages(torch::tensor(r, torch::kFloat64), g, AdvantageEstimator::grpo, scale, 1e-4));
    for (int i = 0; i < 8; ++i) CHECK(a[i] == 0.0);
    CHECK(a[8] > 0);
  }
}

TEST_CASE("temperature: log-probs, ratio and gradient are those of logits / T (T = 0.5, two tokens)") {
  // z = (0, ln 3): pi = (0.25, 0.75), pi^T at T = 0.5 = (0.1, 0.9). Token 0 sampled, A = 1, on
  // policy: dL/dz = -A (onehot - pi^T) / T = (-1.8, +1.8) (at T = 1 it would be (-0.75, 0.75)).
  auto z = torch::tensor({0.0, std::log(3.0)}, torch::kFloat64).view({1, 1, 2}).requires_grad_(true);
  auto target = torch::zeros({1, 1}, torch::kLong);
  auto lp = token_logprobs(z, target, 0.5);
  CHECK(lp.item<double>() == doctest::Approx(std::log(0.1)).epsilon(1e-6));
  LossInputs in{lp, lp.detach().clone(), torch::Tensor(), torch::ones({1}), torch::ones({1, 1})};
  auto loss = grpo_loss(in, config(LossAggregation::token_mean), LossNorm{1, 1, 1}, nullptr);
  loss.backward();
  check_close(to_vec(z.grad()), {-1.8, 1.8}, 1e-5);
  auto ent = token_entropy(z.detach(), 0.5).item<double>();
  CHECK(ent == doctest::Approx(-(0.1 * std::log(0.1) + 0.9 * std::log(0.9))).epsilon(1e-6));
}

TEST_CASE("dual-clip bounds the loss of a negative-advantage token with a huge ratio") {
  // ratio 5, A = -1: PPO's loss is -r A = 5 with gradient; the dual clip (c = 3) makes it 3, flat.
  auto lp = torch::tensor({std::log(0.5)}, torch::kFloat64).view({1, 1}).requires_grad_(true);
  auto old = torch::tensor({std::log(0.1)}, torch::kFloat64).view({1, 1});
  LossInputs in{lp, old, torch::Tensor(), torch::full({1}, -1.0, torch::kFloat64), torch::ones({1, 1}, torch::kFloat64)};
  LossConfig cfg = config(LossAggregation::token_mean);
  LossStats st;
  auto loss = grpo_loss(in, cfg, LossNorm{1, 1, 1}, &st);
  loss.backward();
  CHECK(loss.item<double>() == doctest::Approx(3.0));
  CHECK(lp.grad().item<double>() == 0.0);
  CHECK(st.clip_dual == doctest::Approx(1.0));
  lp.grad().zero_();
  cfg.clip_ratio_c = 0;
  auto off = grpo_loss(in, cfg, LossNorm{1, 1, 1}, nullptr);
  off.backward();
  CHECK(off.item<double>() == doctest::Approx(5.0));
  CHECK(lp.grad().item<double>() == doctest::Approx(5.0));
  // positive advantages are never dual-clipped
  cfg.clip_ratio_c = 3;
  LossInputs pos{lp, old, torch::Tensor(), torch::full({1}, 1.0, torch::kFloat64), torch::ones({1, 1}, torch::kFloat64)};
  CHECK(grpo_loss(pos, cfg, LossNorm{1, 1, 1}, nullptr).item<double>() == doctest::Approx(-1.28));
}

TEST_CASE("rollout importance-sampling correction: TIS caps the weight, MIS masks the token") {
  // pi_old / pi_rollout = 4 for token 0, 1.5 for token 1; on policy (ratio 1), A = 1.
  auto lp = torch::tensor({std::log(0.4), std::log(0.3)}, torch::kFloat64).view({1, 2});
  auto rollout = torch::tensor({std::log(0.1), std::log(0.2)}, torch::kFloat64).view({1, 2});
  LossInputs in{lp, lp.clone(), torch::Tensor(), torch::ones({1}, torch::kFloat64), torch::ones({1, 2}, torch::kFloat64), rollout};
  LossConfig cfg = config(LossAggregation::token_mean);
  cfg.is_cap = 2.0;
  cfg.is_correction = IsCorrection::tis;
  LossStats st;
  CHECK(grpo_loss(in, cfg, LossNorm{2, 1, 2}, &st).item<double>() == doctest::Approx(-(2.0 + 1.5) / 2));
  CHECK(st.is_weight_sum == doctest::Approx(3.5));
  CHECK(st.is_limited == doctest::Approx(1.0));
  cfg.is_correction = IsCorrection::mis;
  LossStats sm;
  CHECK(grpo_loss(in, cfg, LossNorm{2, 1, 2}, &sm).item<double>() == doctest::Approx(-(0.0 + 1.0) / 2));
  CHECK(sm.is_limited == doctest::Approx(1.0));
  cfg.is_correction = IsCorrection::none;
  CHECK(grpo_loss(in, cfg, LossNorm{2, 1, 2}, nullptr).item<double>() == doctest::Approx(-1.0));
}

TEST_CASE("mismatch statistics: k3 of rollout vs learner, max |diff|, tokens over 0.5") {
  auto learner = torch::tensor({-1.0, -2.0, -3.0, -50.0}).view({1, 4});
  auto rollout = torch::tensor({-1.0, -1.4, -3.1, 0.0}).view({1, 4});
  auto mask = torch::tensor({1.0, 1.0, 1.0, 0.0}).view({1, 4});
  MismatchStats m;
  m.add(learner, rollout, mask);
  auto k3 = [](double d) { return std::exp(d) - d - 1; };
  CHECK(m.tokens == 3);
  CHECK(m.k3_sum == doctest::Approx(k3(0.0) + k3(0.6) + k3(-0.1)).epsilon(1e-5));
  CHECK(m.max_abs_diff == doctest::Approx(0.6).epsilon(1e-5));
  CHECK(m.over_half == 1);
}

TEST_CASE("learning-rate schedule: warm-up, then constant, linear or cosine to the floor") {
  RlConfig c;
  c.warmup_steps = 4;
  CHECK(lr_factor(c, 0, 100) == doctest::Approx(0.25));
  CHECK(lr_factor(c, 3, 100) == doctest::Approx(1.0));
  CHECK(lr_factor(c, 50, 100) == doctest::Approx(1.0));
  c.lr_schedule = LrSchedule::linear;
  c.min_lr_ratio = 0.1;
  CHECK(lr_factor(c, 4, 104) == doctest::Approx(1.0));
  CHECK(lr_factor(c, 54, 104) == doctest::Approx(0.55));
  CHECK(lr_factor(c, 104, 104) == doctest::Approx(0.1));
  c.lr_schedule = LrSchedule::cosine;
  CHECK(lr_factor(c, 54, 104) == doctest::Approx(0.55));
  CHECK(lr_factor(c, 29, 104) == doctest::Approx(0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.25))));
  CHECK(lr_factor(c, 104, 104) == doctest::Approx(0.1));
}

TEST_CASE("RLOO: each sample's baseline is the mean of the other G - 1 rewards (G = 4, G = 2, one distinct reward)") {
  // {1, 0, 0, 1}: a 1 is compared with (0 + 0 + 1) / 3, a 0 with (0 + 1 + 1) / 3 -> +-2/3.
  // {1, 0} (G = 2): each is compared with the other -> +-1. {0.7, 0.7, 0.7}: no signal -> 0.
  auto r = torch::tensor({1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.7, 0.7, 0.7});
  std::vector<int64_t> g{0, 0, 0, 0, 1, 1, 2, 2, 2};
  const double eps = 1e-4;
  check_close(to_vec(compute_advantages(r, g, AdvantageEstimator::rloo, AdvantageScale::none, eps)),
              {2.0 / 3, -2.0 / 3, -2.0 / 3, 2.0 / 3, 1.0, -1.0, 0.0, 0.0, 0.0}, 1e-6);
  // `scale` still divides: group std (Bessel) sqrt(1/3) for the first group, sqrt(1/2) for the pair.
  const double s0 = std::sqrt(1.0 / 3.0), s1 = std::sqrt(0.5);
  check_close(to_vec(compute_advantages(r, g, AdvantageEstimator::rloo, AdvantageScale::group, eps)),
              {(2.0 / 3) / (s0 + eps), -(2.0 / 3) / (s0 + eps), -(2.0 / 3) / (s0 + eps), (2.0 / 3) / (s0 + eps), 1 / (s1 + eps),
               -1 / (s1 + eps), 0.0, 0.0, 0.0},
              1e-5);
  // The same rewards written out as r_i - mean(others), one by one.
  auto direct = [](const std::vector<double>& grp, size_t i) {
    double others = 0;
    for (size_t j = 0; j < grp.size(); ++j)
      if (j != i) others += grp[j];
    return grp[i] - others / static_cast<double>(grp.size() - 1);
  };
  std::vector<double> grp{0.3, 0.9, 0.1, 0.5, 0.2};
  auto a = to_vec(compute_advantages(torch::tensor(grp, torch::kFloat64), {7, 7, 7, 7, 7}, AdvantageEstimator::rloo,
                                     AdvantageScale::none, eps));
  for (size_t i = 0; i < grp.size(); ++i) CHECK(a[i] == doctest::Approx(direct(grp, i)).epsilon(1e-6));
}

TEST_CASE("CISPO: the clipped, detached weight scales A * grad log pi, and out-of-band tokens keep their gradient") {
  LossConfig cfg = config(LossAggregation::token_mean);
  cfg.policy_loss = PolicyLoss::cispo;
  cfg.eps_low = 1.0;  // MiniMax-M1: no lower bound
  cfg.eps_high = 0.28;
  // theta0 = 1.5 against old p0 = 0.5: ratio 1.64, above 1.28. PPO's clip would zero this
  // token's gradient when A > 0; CISPO keeps it, weighted by the clipped ratio 1.28.
  for (double theta0 : {0.0, 1.5, -1.5})
    for (double adv : {1.0, -1.0}) {
      torch::Tensor g;
      toy_loss(torch::tensor({theta0, 0.0}, torch::kFloat64), 0.5, adv, cfg, &g);
      const double p0 = 1.0 / (1.0 + std::exp(-theta0));
      const double w = std::min(p0 / 0.5, 1.28);
      // loss = -w * A * log p0; d log p0 / d theta = (1 - p0, -(1 - p0)). The weight is a
      // constant to autograd, so the check is the analytic gradient, not a finite difference.
      INFO("theta0 " << theta0 << " adv " << adv);
      check_close(to_vec(g), {-w * adv * (1 - p0), w * adv * (1 - p0)}, 1e-12);
      CHECK(std::abs(to_vec(g)[0]) > 1e-3);
    }
}

TEST_CASE("SAPO: the soft gate's gradient matches finite differences and equals the policy gradient on policy") {
  LossConfig cfg = config(LossAggregation::token_mean);
  cfg.policy_loss = PolicyLoss::sapo;
  cfg.sapo_tau_pos = 1.0;
  cfg.sapo_tau_neg = 1.05;
  for (double theta0 : {0.0, 1.5, -1.5, 4.0})
    for (double adv : {1.0, -1.0}) {
      auto theta = torch::tensor({theta0, 0.0}, torch::kFloat64);
      torch::Tensor g;
      toy_loss(theta, 0.5, adv, cfg, &g);
      auto ga = to_vec(g);
      for (int j = 0; j < 2; ++j) {
        double fd = toy_loss_fd(theta, j, 0.5, adv, cfg);
        INFO("theta0 " << theta0 << " adv " << adv << " j " << j);
        CHECK(ga[j] == doctest::Approx(fd).epsilon(1e-6).scale(1e-9));
      }
      // Analytic: dL/dtheta0 = -A * 4 s (1 - s) * r * (1 - p0), s = sigmoid(tau (r - 1)).
      const double p0 = 1.0 / (1.0 + std::exp(-theta0)), r = p0 / 0.5, tau = adv > 0 ? 1.0 : 1.05;
      const double s = 1.0 / (1.0 + std::exp(-tau * (r - 1)));
      CHECK(ga[0] == doctest::Approx(-adv * 4 * s * (1 - s) * r * (1 - p0)).epsilon(1e-9));
      if (theta0 == 0.0) CHECK(ga[0] == doctest::Approx(-adv * (1 - p0)).epsilon(1e-12));  // r = 1: plain policy gradient
    }
}

TEST_CASE("KL estimators k1, k2, k3, low_var_kl: values and gradients against their formulas") {
  const double beta = 0.1;
  const std::vector<double> lpv{-0.5, -2.0, -1.0, -7.0};  // d = ref - logp = -0.5, 1, 0, 6 with ref = -1
  struct Formula {
    KlEstimator est;
    double (*value)(double);
    double (*grad)(double);  // d value / d logp
  } formulas[] = {
      {KlEstimator::k1, [](double d) { return -d; }, [](double) { return 1.0; }},
      {KlEstimator::k2, [](double d) { return 0.5 * d * d; }, [](double d) { return -d; }},
      {KlEstimator::k3, [](double d) { return std::exp(d) - d - 1; }, [](double d) { return 1 - std::exp(d); }},
      // k3 clamped to [-10, 10]: at d = 6 (k3 = 396) the value is 10 and the gradient 0.
      {KlEstimator::low_var_kl, [](double d) { return std::min(std::exp(d) - d - 1, 10.0); },
       [](double d) { return std::exp(d) - d - 1 > 10 ? 0.0 : 1 - std::exp(d); }},
  };
  for (const auto& f : formulas) {
    auto lp = torch::tensor(lpv, torch::kFloat64).view({1, 4}).requires_grad_(true);
    auto ref = torch::full({1, 4}, -1.0, torch::kFloat64);
    LossInputs in{lp, lp.detach().clone(), ref, torch::zeros({1}, torch::kFloat64), torch::ones({1, 4}, torch::kFloat64)};
    LossConfig cfg = config(LossAggregation::token_mean, beta);
    cfg.kl_estimator = f.est;
    LossStats stats;
    auto loss = grpo_loss(in, cfg, LossNorm{4, 1, 4}, &stats);
    loss.backward();
    double sum = 0;
    std::vector<double> want;
    for (double l : lpv) {
      sum += f.value(-1.0 - l);
      want.push_back(beta * f.grad(-1.0 - l) / 4.0);
    }
    INFO("estimator " << static_cast<int>(f.est));
    CHECK(stats.kl_sum == doctest::Approx(sum).epsilon(1e-12));
    CHECK(loss.item<double>() == doctest::Approx(beta * sum / 4.0).epsilon(1e-12));
    check_close(to_vec(lp.grad()), want, 1e-10);
  }
}

TEST_CASE("entropy bonus: the loss gains -coef * H per token, aggregated like the rest") {
  // Two tokens of one sequence with entropies 0.5 and 1.5, A = 0: token_mean loss = -coef * 1.0.
  auto lp = torch::tensor({-1.0, -2.0}, torch::kFloat64).view({1, 2});
  auto ent = torch::tensor({0.5, 1.5}, torch::kFloat64).view({1, 2}).requires_grad_(true);
  LossConfig cfg = config(LossAggregation::token_mean);
  cfg.entropy_coef = 0.01;
  LossInputs in{lp, lp.clone(), torch::Tensor(), torch::zeros({1}, torch::kFloat64), torch::ones({1, 2}, torch::kFloat64),
                torch::Tensor(), ent};
  auto loss = grpo_loss(in, cfg, LossNorm{2, 1, 2}, nullptr);
  loss.backward();
  CHECK(loss.item<double>() == doctest::Approx(-0.01).epsilon(1e-12));
  check_close(to_vec(ent.grad()), {-0.005, -0.005}, 1e-12);
  // A masked token's entropy counts for nothing.
  auto ent2 = ent.detach().clone().requires_grad_(true);
  LossInputs half{lp, lp.clone(), torch::Tensor(), torch::zeros({1}, torch::kFloat64), torch::tensor({{1.0, 0.0}}, torch::kFloat64),
                  torch::Tensor(), ent2};
  auto l2 = grpo_loss(half, cfg, LossNorm{1, 1, 2}, nullptr);
  l2.backward();
  CHECK(l2.item<double>() == doctest::Approx(-0.005).epsilon(1e-12));
  check_close(to_vec(ent2.grad()), {-0.01, 0.0}, 1e-12);
}

TEST_CASE("REINFORCE++: scores, token returns with the KL folded into the reward, batch whitening (hand table)") {
  // Scores at sequence level: reinforce_pp keeps the raw reward (even in a zero-spread group),
  // reinforce_pp_baseline subtracts the group mean (a zero-spread group gets 0).
  auto r = torch::tensor({1.0, 0.0, 0.5, 0.5});
  std::vector<int64_t> g{0, 0, 1, 1};
  check_close(to_vec(compute_advantages(r, g, AdvantageEstimator::reinforce_pp, AdvantageScale::group, 1e-4)), {1.0, 0.0, 0.5, 0.5}, 1e-7);
  check_close(to_vec(compute_advantages(r, g, AdvantageEstimator::reinforce_pp_baseline, AdvantageScale::group, 1e-4)),
              {0.5, -0.5, 0.0, 0.0}, 1e-7);
  // Two sequences, scores 1 and 0, per-token KL (0.1, 0.2) and (0.3), beta = 0.5:
  // G = (1 - 0.5 * 0.3, 1 - 0.5 * 0.2) = (0.85, 0.9) and (0 - 0.5 * 0.3) = (-0.15).
  std::vector<torch::Tensor> kl{torch::tensor({0.1, 0.2}, torch::kFloat64), torch::tensor({0.3}, torch::kFloat64),
                                torch::tensor({5.0}, torch::kFloat64)};
  std::vector<double> scores{1.0, 0.0, 9.0};
  std::vector<bool> counted{true, true, false};  // the third is masked: outside the statistics
  auto grpo = token_advantages(scores, kl, counted, AdvantageEstimator::grpo, 0.5, 1e-4);
  check_close(to_vec(grpo[0]), {0.85, 0.9}, 1e-6);
  check_close(to_vec(grpo[1]), {-0.15}, 1e-6);
  const double mean = (0.85 + 0.9 - 0.15) / 3;
  const double sd = std::sqrt((std::pow(0.85 - mean, 2) + std::pow(0.9 - mean, 2) + std::pow(-0.15 - mean, 2)) / 3);
  auto pp = token_advantages(scores, kl, counted, AdvantageEstimator::reinforce_pp, 0.5, 1e-4);
  check_close(to_vec(pp[0]), {(0.85 - mean) / (sd + 1e-4), (0.9 - mean) / (sd + 1e-4)}, 1e-5);
  check_close(to_vec(pp[1]), {(-0.15 - mean) / (sd + 1e-4)}, 1e-5);
  auto ppb = token_advantages(scores, kl, counted, AdvantageEstimator::reinforce_pp_baseline, 0.5, 1e-4);
  check_close(to_vec(ppb[0]), {0.85 / (sd + 1e-4), 0.9 / (sd + 1e-4)}, 1e-5);
  // Each token's own KL only (on-policy distillation's discount 0): G = (1 - 0.05, 1 - 0.1), (-0.15).
  auto own = token_advantages(scores, kl, counted, AdvantageEstimator::grpo, 0.5, 1e-4, false);
  check_close(to_vec(own[0]), {0.95, 0.9}, 1e-6);
  check_close(to_vec(own[1]), {-0.15}, 1e-6);
  // Without a KL in the reward every token of a sequence carries its score.
  auto flat = token_advantages({1.0, 0.0}, {torch::zeros({3}), torch::zeros({1})}, {true, true}, AdvantageEstimator::grpo, 0.0, 1e-4);
  check_close(to_vec(flat[0]), {1.0, 1.0, 1.0}, 1e-7);
}

TEST_CASE("per-token advantages: each token's loss uses its own A") {
  auto lp = torch::tensor({-1.0, -2.0}, torch::kFloat64).view({1, 2}).requires_grad_(true);
  LossInputs in{lp, lp.detach().clone(), torch::Tensor(), torch::tensor({{1.0, 3.0}}, torch::kFloat64), torch::ones({1, 2}, torch::kFloat64)};
  auto loss = grpo_loss(in, config(LossAggregation::token_mean), LossNorm{2, 1, 2}, nullptr);
  loss.backward();
  // On policy (ratio 1): loss = -(1 + 3) / 2, d loss / d logp_t = -A_t / 2.
  CHECK(loss.item<double>() == doctest::Approx(-2.0));
  check_close(to_vec(lp.grad()), {-0.5, -1.5}, 1e-12);
}

TEST_CASE("adaptive KL: beta grows above the target, shrinks below, by at most 0.2 x samples / horizon") {
  CHECK(adapt_kl_coef(0.1, 0.02, 0.01, 100, 1000) == doctest::Approx(0.1 * (1 + 0.2 * 0.1)));   // KL 2x the target: +0.2 clipped
  CHECK(adapt_kl_coef(0.1, 0.011, 0.01, 100, 1000) == doctest::Approx(0.1 * (1 + 0.1 * 0.1)));  // +10 %
  CHECK(adapt_kl_coef(0.1, 0.0, 0.01, 100, 1000) == doctest::Approx(0.1 * (1 - 0.2 * 0.1)));    // far below: -0.2 clipped
  CHECK(adapt_kl_coef(0.1, 0.01, 0.01, 100, 1000) == doctest::Approx(0.1));                     // on target: unchanged
  // Iterated against a KL that follows beta (KL ~ 0.001 / beta), beta settles where KL = target.
  double beta = 0.5;
  for (int i = 0; i < 2000; ++i) beta = adapt_kl_coef(beta, 0.001 / beta, 0.01, 64, 1000);
  CHECK(beta == doctest::Approx(0.1).epsilon(0.01));
}

TEST_CASE("ReMax: the baseline is the greedy completion's reward, even for a group of equal rewards") {
  auto r = torch::tensor({1.0, 0.0, 0.0, 1.0, 1.0, 1.0});
  std::vector<int64_t> g{0, 0, 0, 0, 1, 1};
  std::vector<double> greedy{1.0, 1.0, 1.0, 1.0, 0.0, 0.0};
  check_close(to_vec(compute_advantages(r, g, AdvantageEstimator::remax, AdvantageScale::none, 1e-4, nullptr, &greedy)),
              {0.0, -1.0, -1.0, 0.0, 1.0, 1.0}, 1e-7);
}

TEST_CASE("GAE: a three-token trajectory against the hand-computed recursion, and its lambda = 0 and 1 limits") {
  auto r = torch::tensor({0.0, 0.0, 1.0});
  auto v = torch::tensor({0.5, 0.2, 0.6});
  // gamma 0.9, lambda 0.8, V_3 = 0:
  //   delta_2 = 1 - 0.6 = 0.4                     A_2 = 0.4
  //   delta_1 = 0.9 * 0.6 - 0.2 = 0.34            A_1 = 0.34 + 0.72 * 0.4 = 0.628
  //   delta_0 = 0.9 * 0.2 - 0.5 = -0.32           A_0 = -0.32 + 0.72 * 0.628 = 0.13216
  GaeResult g = gae(r, v, 0.9, 0.8);
  check_close(to_vec(g.advantages), {0.13216, 0.628, 0.4}, 1e-6);
  check_close(to_vec(g.returns), {0.63216, 0.828, 1.0}, 1e-6);
  // lambda = 1, gamma = 1: the Monte-Carlo return (1 everywhere) minus the value.
  check_close(to_vec(gae(r, v, 1.0, 1.0).advantages), {0.5, 0.8, 0.4}, 1e-6);
  // lambda = 0: one-step TD errors.
  check_close(to_vec(gae(r, v, 0.9, 0.0).advantages), {-0.32, 0.34, 0.4}, 1e-6);
  // With zero values, gamma = lambda = 1 and the KL in the reward, GAE is token_advantages' return.
  auto kl = torch::tensor({0.1, 0.2}, torch::kFloat64);
  auto rewards = (-0.5 * kl).clone();
  rewards[1] += 1.0;
  auto ta = token_advantages({1.0}, {kl}, {true}, AdvantageEstimator::grpo, 0.5, 1e-4);
  check_close(to_vec(gae(rewards, torch::zeros({2}), 1.0, 1.0).advantages), to_vec(ta[0]), 1e-6);
  // A one-token completion: A = r - V.
  check_close(to_vec(gae(torch::tensor({2.0}), torch::tensor({0.5}), 0.9, 0.8).advantages), {1.5}, 1e-7);
  // The sequence score GAE starts from is the raw reward, zero-spread group or not.
  check_close(to_vec(compute_advantages(torch::tensor({1.0, 1.0, 0.0, 0.5}), {0, 0, 1, 1}, AdvantageEstimator::gae,
                                        AdvantageScale::batch, 1e-4)),
              {1.0, 1.0, 0.0, 0.5}, 1e-7);
}

TEST_CASE("whitening over the batch's counted tokens: mean 0, population std 1, masked sequences untouched") {
  std::vector<torch::Tensor> x{torch::tensor({1.0, 3.0}), torch::tensor({5.0}), torch::tensor({100.0})};
  whiten_tokens(x, {true, true, false}, true, 0.0);
  const double sd = std::sqrt((4.0 + 0.0 + 4.0) / 3.0);  // values 1, 3, 5 around 3
  check_close(to_vec(x[0]), {-2.0 / sd, 0.0}, 1e-6);
  check_close(to_vec(x[1]), {2.0 / sd}, 1e-6);
  check_close(to_vec(x[2]), {100.0}, 1e-7);
}

TEST_CASE("PPO value loss: the larger of the plain and the clipped squared error, its gradient and clip fraction") {
  // Token 0 moved from 0.5 to 1.0 (past the 0.2 clip) toward a return of 2: the clipped value 0.7
  // is further, so 0.5 * 1.69 counts and its gradient is 0. Token 1 moved within the clip: 0.5 * 0.36,
  // gradient (0.6 - 0) / 2 tokens.
  auto v = torch::tensor({{1.0, 0.6}}, torch::kFloat64).requires_grad_(true);
  auto old = torch::tensor({{0.5, 0.5}}, torch::kFloat64);
  auto ret = torch::tensor({{2.0, 0.0}}, torch::kFloat64);
  auto mask = torch::ones({1, 2}, torch::kFloat64);
  ValueLossStats st;
  auto loss = value_loss(v, old, ret, mask, 0.2, 2.0, &st);
  loss.backward();
  CHECK(loss.item<double>() == doctest::Approx(0.5 * (1.69 + 0.36) / 2));
  check_close(to_vec(v.grad()), {0.0, 0.3}, 1e-9);
  CHECK(st.clipped == 1.0);
  CHECK(st.tokens == 2.0);
  // vf_clip = 0: the plain squared error; a masked token counts for nothing.
  auto v2 = torch::tensor({{1.0, 0.6}}, torch::kFloat64).requires_grad_(true);
  auto plain = value_loss(v2, old, ret, torch::tensor({{1.0, 0.0}}, torch::kFloat64), 0.0, 1.0, nullptr);
  plain.backward();
  CHECK(plain.item<double>() == doctest::Approx(0.5));
  check_close(to_vec(v2.grad()), {-1.0, 0.0}, 1e-9);
}
