#include "rl/grpo_learn.h"

#include <numeric>
#include <random>

#include "rl/grpo.h"

namespace r1::rl {

namespace {

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  return x ^ (x >> 29);
}

// A [completion_len] tensor of a sequence placed at its completion positions of a [b, L-1] row.
void place(torch::Tensor& dst, int64_t row, const Seq& q, const torch::Tensor& values) {
  if (q.completion_len > 0) dst[row].narrow(0, q.prompt_len - 1, q.completion_len).copy_(values);
}

torch::Tensor completion_of(const torch::Tensor& row, const Seq& q) {
  return q.completion_len > 0 ? row.narrow(0, q.prompt_len - 1, q.completion_len).clone() : torch::zeros({0});
}

// What a pass before the update computes per sequence's completion (no grad, in micro-batches):
// log-probs under `model` (the old policy's, or the reference's), and/or the critic's values.
struct PrePass {
  bool logp = false;
  bool reference = false;  // `model` is the reference: fill ref_logp, route by its own gates
  Critic* critic = nullptr;
};

void pre_update_pass(policy::CausalLM& model, const PrePass& what, std::vector<Seq>& seqs, int64_t micro, torch::Device dev,
                     double temperature) {
  torch::NoGradGuard ng;
  const bool need_hidden = what.logp || (what.critic && what.critic->kind() == CriticKind::head);
  std::vector<size_t> all(seqs.size());
  std::iota(all.begin(), all.end(), size_t{0});
  for (size_t off = 0; off < all.size(); off += static_cast<size_t>(micro)) {
    std::vector<size_t> rows(all.begin() + static_cast<long>(off), all.begin() + static_cast<long>(std::min(all.size(), off + static_cast<size_t>(micro))));
    MicroBatch mb = make_batch(seqs, rows, dev);
    if (what.reference) mb.forward.routing = torch::Tensor();  // the reference routes by its own gate
    auto h = need_hidden ? model->hidden(mb.input, {}, nullptr, mb.forward) : torch::Tensor();
    torch::Tensor lp, values;
    if (what.logp) lp = chunked_token_logprobs(h, model->output_weight(), mb.target, temperature).logp.to(torch::kCPU);
    if (what.critic) values = what.critic->values(mb.input, mb.forward, h).to(torch::kCPU);
    for (size_t i = 0; i < rows.size(); ++i) {
      Seq& s = seqs[rows[i]];
      const auto r = static_cast<int64_t>(i);
      if (lp.defined()) (what.reference ? s.ref_logp : s.old_logp) = completion_of(lp[r], s);
      if (values.defined()) s.old_values = completion_of(values[r], s);
    }
  }
}

struct StepTotals {
  LossStats loss;
  MismatchStats mismatch;
  ValueLossStats value;
  double value_loss_sum = 0, critic_grad_norm_sum = 0;
  int64_t critic_updates = 0;
  double reward_kl_sum = 0, reward_kl_tokens = 0;  // the KL folded into the reward (kl_in = reward)
  double loss_sum = 0, grad_norm_sum = 0, entropy_sum = 0, entropy_tokens = 0, learner_tokens = 0, max_load_ratio = 0, lr = 0;
  int64_t updates = 0;
  std::vector<torch::Tensor> expert_load;  // per MoE layer, summed over the step's updates
};

// The per-token KL of the old policy to the reference on each completion when it is folded into
// the reward (zeros otherwise), counted into the step's `kl` metric.
std::vector<torch::Tensor> reward_kl(const RlConfig& rl, const std::vector<Seq>& seqs, bool kl_in_reward, StepTotals& tot) {
  std::vector<torch::Tensor> kl;
  for (const Seq& q : seqs) {
    auto ones = torch::ones({q.completion_len}, torch::kFloat32);
    kl.push_back(kl_in_reward && q.completion_len > 0 ? kl_estimate(q.old_logp, q.ref_logp, ones, rl.kl_estimator).detach()
                                                      : torch::zeros({q.completion_len}));
    if (kl_in_reward && !q.masked) {
      tot.reward_kl_sum += kl.back().sum().item<double>();
      tot.reward_kl_tokens += static_cast<double>(q.completion_len);
    }
  }
  return kl;
}

// Several ranks: whitening's sums over every rank's tokens, so each whitens as one process would.
MomentsReduce moments_across_ranks(dist::ProcessGroup* group) {
  if (!group) return {};
  return [group](const std::array<double, 3>& m) {
    auto v = group->all_reduce({m[0], m[1], m[2]}, dist::ReduceOp::sum);
    return std::array<double, 3>{v[0], v[1], v[2]};
  };
}

// Stage 3b, when advantages are per token (a KL in the reward, REINFORCE++): each sequence's
// returns from its score and the KL of the old policy to the reference on its tokens.
void assign_token_advantages(const RlConfig& rl, std::vector<Seq>& seqs, double kl_coef, const MomentsReduce& reduce, StepTotals& tot) {
  const bool kl_in_reward = rl.kl_in == KlPlacement::reward && kl_coef > 0;
  std::vector<double> scores;
  std::vector<bool> counted;
  for (const Seq& q : seqs) scores.push_back(q.advantage), counted.push_back(!q.masked);
  auto kl = reward_kl(rl, seqs, kl_in_reward, tot);
  auto adv = token_advantages(scores, kl, counted, rl.advantage, kl_in_reward ? kl_coef : 0.0, rl.adv_eps, rl.kl_to_go, reduce);
  for (size_t i = 0; i < seqs.size(); ++i) seqs[i].token_advantage = adv[i];
}

// Stage 3b for PPO: per-token rewards (the score on the last token, minus kl_coef times the KL
// when it is in the reward), GAE over the critic's values before the update, the returns as the
// critic's targets; advantages whitened over the batch's counted tokens when scale = batch.
void assign_gae_advantages(const RlConfig& rl, std::vector<Seq>& seqs, double kl_coef, const MomentsReduce& reduce, StepTotals& tot) {
  const bool kl_in_reward = rl.kl_in == KlPlacement::reward && kl_coef > 0;
  auto kl = reward_kl(rl, seqs, kl_in_reward, tot);
  std::vector<torch::Tensor> adv;
  std::vector<bool> counted;
  for (size_t i = 0; i < seqs.size(); ++i) {
    Seq& q = seqs[i];
    auto rewards = (kl_in_reward ? -kl_coef * kl[i].to(torch::kFloat64) : torch::zeros({q.completion_len}, torch::kFloat64));
    if (q.completion_len > 0) rewards[q.completion_len - 1] += static_cast<double>(q.advantage);
    GaeResult g = gae(rewards, q.old_values, rl.gamma, rl.lam);
    adv.push_back(g.advantages);
    q.returns = g.returns;
    counted.push_back(!q.masked);
  }
  if (rl.scale == AdvantageScale::batch) whiten_tokens(adv, counted, true, rl.adv_eps, reduce);
  for (size_t i = 0; i < seqs.size(); ++i) seqs[i].token_advantage = adv[i];
}

// The policy's loss inputs of a micro-batch: the sequences' old, rollout and reference log-probs
// and advantages placed at their completion positions.
LossInputs policy_loss_inputs(Learner& L, const std::vector<Seq>& seqs, const MicroBatch& mb, const TokenLogprobs& lp, bool need_old,
                              bool with_ref) {
  const bool token_level = L.rl.token_level_advantages();
  auto old = torch::zeros_like(lp.logp), rollout = torch::zeros_like(lp.logp), ref = torch::Tensor();
  auto adv = token_level ? torch::zeros_like(lp.logp) : torch::empty({static_cast<int64_t>(mb.rows.size())});
  if (with_ref) ref = torch::zeros_like(lp.logp);
  for (size_t i = 0; i < mb.rows.size(); ++i) {
    const Seq& q = seqs[mb.rows[i]];
    const auto r = static_cast<int64_t>(i);
    if (!token_level) adv[r] = q.advantage;
    if (q.completion_len == 0) continue;
    if (token_level) place(adv, r, q, q.token_advantage.to(L.device));
    place(old, r, q, need_old ? q.old_logp.to(L.device) : lp.logp[r].narrow(0, q.prompt_len - 1, q.completion_len).detach());
    place(rollout, r, q, q.rollout_logp.to(L.device));
    if (with_ref) place(ref, r, q, q.ref_logp.to(L.device));
  }
  return {lp.logp, old, ref, adv.to(L.device), mb.mask, rollout, lp.entropy};
}

// The critic's clipped value loss on a micro-batch, toward the GAE returns.
torch::Tensor critic_loss(Learner& L, const std::vector<Seq>& seqs, const MicroBatch& mb, const torch::Tensor& hidden,
                          const LossNorm& norm, StepTotals& tot) {
  auto values = L.critic->values(mb.input, mb.forward, hidden);  // [b, L-1]
  auto old = torch::zeros_like(values), returns = torch::zeros_like(values);
  for (size_t i = 0; i < mb.rows.size(); ++i) {
    const Seq& q = seqs[mb.rows[i]];
    place(old, static_cast<int64_t>(i), q, q.old_values.to(L.device));
    place(returns, static_cast<int64_t>(i), q, q.returns.to(L.device));
  }
  auto loss = value_loss(values, old, returns, mb.mask, L.rl.vf_clip, norm.tokens, &tot.value);
  tot.value_loss_sum += loss.item<double>();
  return L.critic->kind() == CriticKind::head ? L.rl.vf_coef * loss : loss;
}

// Forward + backward of one micro-batch; returns its share of the minibatch's policy loss. With a
// critic its value loss joins the backward (for a head, through the shared trunk unless the policy
// is not being updated: then the head alone learns, from a detached hidden state).
double micro_step(Learner& L, std::vector<Seq>& seqs, const std::vector<size_t>& rows, const LossNorm& norm, const LossConfig& lc,
                  bool need_old, bool first_epoch, bool update_policy, StepTotals& tot) {
  MicroBatch mb = make_batch(seqs, rows, L.device);
  const bool head = L.critic && L.critic->kind() == CriticKind::head;
  torch::Tensor hidden, loss;
  if (update_policy) {
    hidden = L.model->hidden(mb.input, {}, nullptr, mb.forward);
  } else if (head) {
    torch::NoGradGuard ng;
    hidden = L.model->hidden(mb.input, {}, nullptr, mb.forward);
  }
  double policy_loss = 0;
  if (update_policy) {
    TokenLogprobs lp = chunked_token_logprobs(hidden, L.model->output_weight(), mb.target, L.temperature);  // [b, L-1]
    tot.learner_tokens += static_cast<double>(mb.input.numel());
    if (first_epoch) {
      tot.entropy_sum += (lp.entropy * mb.mask).sum().item<double>();
      tot.entropy_tokens += mb.mask.sum().item<double>();
    }
    LossInputs li = policy_loss_inputs(L, seqs, mb, lp, need_old, lc.beta > 0);
    // Before any update of this step, `old` is the learner's view of exactly what the rollout sampled.
    if (first_epoch) tot.mismatch.add(li.old_logp, li.rollout_logp, mb.mask);
    loss = grpo_loss(li, lc, norm, &tot.loss);
    policy_loss = loss.item<double>();
  }
  if (L.critic) {
    auto vl = critic_loss(L, seqs, mb, hidden, norm, tot);
    loss = loss.defined() ? loss + vl : vl;
  }
  if (loss.defined()) loss.backward();
  return policy_loss;
}

void critic_step(Learner& L, StepTotals& tot) {
  tot.critic_grad_norm_sum += L.critic->step(L.rl.max_grad_norm, L.group);
  ++tot.critic_updates;
}

// Several ranks: every rank's gradients (normalised by the global counts, so their sum is the
// gradient of the whole batch) and every rank's MoE loads (so each applies the same bias update).
// A parameter no token reached has no gradient on this rank but may on another: zeros keep every
// rank's buckets the same.
void sum_across_ranks(Learner& L) {
  std::vector<torch::Tensor> grads;
  for (auto& p : L.model->parameters()) {
    if (!p.requires_grad()) continue;
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  for (auto& moe : L.model->moe_layers()) grads.push_back(moe->load());
  L.group->all_reduce_sum(grads);
}

// The step's totals over every rank: sums, and the extremes of the ratios and mismatches.
void reduce_totals(dist::ProcessGroup& g, StepTotals& t) {
  std::vector<double*> sums = {&t.loss.clip_low, &t.loss.clip_high, &t.loss.clip_dual, &t.loss.kl_sum, &t.loss.tokens,
                               &t.loss.is_weight_sum, &t.loss.is_limited, &t.mismatch.k3_sum, &t.mismatch.over_half,
                               &t.mismatch.tokens, &t.reward_kl_sum, &t.reward_kl_tokens, &t.loss_sum, &t.entropy_sum,
                               &t.entropy_tokens, &t.learner_tokens, &t.value_loss_sum, &t.value.clipped, &t.value.sq_err,
                               &t.value.tokens};
  std::vector<double> v;
  for (double* p : sums) v.push_back(*p);
  v = g.all_reduce(v, dist::ReduceOp::sum);
  for (size_t i = 0; i < sums.size(); ++i) *sums[i] = v[i];
  auto mx = g.all_reduce({t.loss.ratio_max, t.mismatch.max_abs_diff, t.max_load_ratio}, dist::ReduceOp::max);
  t.loss.ratio_max = mx[0], t.mismatch.max_abs_diff = mx[1], t.max_load_ratio = mx[2];
  t.loss.ratio_min = g.all_reduce({t.loss.ratio_min}, dist::ReduceOp::min)[0];
}

// The optimizer step after a minibatch's backward passes, then the MoE balancing bias.
void optimizer_step(Learner& L, TrainState& state, StepTotals& tot) {
  if (L.group) sum_across_ranks(L);
  tot.grad_norm_sum += L.masters.gather_grads_and_clip(L.rl.max_grad_norm);
  tot.lr = L.rl.lr * lr_factor(L.rl, state.opt_steps, L.total_opt_steps);
  for (auto& g : L.optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(tot.lr);
  if (L.shards) L.shards->keep_own_grads();  // after the clip: its norm is over every gradient
  L.optimizer.step();
  if (L.shards) L.shards->share_params();
  L.masters.copy_down();
  ++state.opt_steps;
  ++tot.updates;
  // MoE aux-loss-free balancing after every optimizer step, from the loads of its forwards.
  auto layers = L.model->moe_layers();
  tot.expert_load.resize(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    auto& moe = layers[i];
    auto load = moe->load();
    tot.expert_load[i] = tot.expert_load[i].defined() ? tot.expert_load[i] + load : load.clone();
    if (load.sum().item<double>() > 0) tot.max_load_ratio = std::max(tot.max_load_ratio, (load.max() / load.mean()).item<double>());
    moe->update_bias(L.rl.bias_update_speed);
    moe->reset_load();
  }
}

// Values, returns and how much of the returns' variance the values explain (1 - Var(R - V) /
// Var(R), population variances over the counted tokens, with the values before the update), from
// sums that add up across ranks.
void record_critic_metrics(const std::vector<Seq>& seqs, const StepTotals& t, bool warmup, dist::ProcessGroup* group, Metrics& m) {
  std::vector<double> sums(6, 0.0);  // tokens, sum V, sum R, sum R^2, sum (R - V), sum (R - V)^2
  for (const Seq& q : seqs) {
    if (q.masked || q.completion_len == 0) continue;
    auto v = q.old_values.to(torch::kFloat64), r = q.returns.to(torch::kFloat64), d = r - v;
    sums[0] += static_cast<double>(v.numel());
    sums[1] += v.sum().item<double>();
    sums[2] += r.sum().item<double>();
    sums[3] += (r * r).sum().item<double>();
    sums[4] += d.sum().item<double>();
    sums[5] += (d * d).sum().item<double>();
  }
  if (group) sums = group->all_reduce(sums, dist::ReduceOp::sum);
  if (const double n = sums[0]; n > 0) {
    const double var_r = std::max(0.0, sums[3] / n - (sums[2] / n) * (sums[2] / n));
    const double var_d = std::max(0.0, sums[5] / n - (sums[4] / n) * (sums[4] / n));
    m["critic/values_mean"] = sums[1] / n;
    m["critic/returns_mean"] = sums[2] / n;
    m["critic/explained_variance"] = var_r > 0 ? 1.0 - var_d / var_r : 0.0;
  }
  const double tok = t.value.tokens;
  m["critic/value_loss"] = t.critic_updates ? t.value_loss_sum / t.critic_updates : 0;
  m["critic/vf_clipfrac"] = tok > 0 ? t.value.clipped / tok : 0;
  m["critic/grad_norm"] = t.critic_updates ? t.critic_grad_norm_sum / t.critic_updates : 0;
  m["critic/warmup"] = warmup ? 1.0 : 0.0;
}

void record_learner_metrics(const Learner& L, const StepTotals& t, double kl_coef, Metrics& m) {
  const double tok = t.loss.tokens;
  auto per_token = [&](double v) { return tok > 0 ? v / tok : 0.0; };
  m["lr"] = t.lr;
  m["policy_loss"] = t.updates ? t.loss_sum / t.updates : 0;
  m["grad_norm"] = t.updates ? t.grad_norm_sum / t.updates : 0;
  m["entropy"] = t.entropy_tokens > 0 ? t.entropy_sum / t.entropy_tokens : 0;
  if (L.rl.beta > 0) {
    m["kl"] = L.rl.kl_in == KlPlacement::reward ? (t.reward_kl_tokens > 0 ? t.reward_kl_sum / t.reward_kl_tokens : 0)
                                                : per_token(t.loss.kl_sum);
    m["kl_coef"] = kl_coef;
  }
  m["clip_ratio/low_mean"] = per_token(t.loss.clip_low);
  m["clip_ratio/high_mean"] = per_token(t.loss.clip_high);
  m["clip_ratio/region_mean"] = per_token(t.loss.clip_low + t.loss.clip_high);
  m["clip_ratio/dual_mean"] = per_token(t.loss.clip_dual);
  m["ratio/min"] = t.loss.ratio_min;  // exactly 1 when every update is on-policy (mu = 1, one minibatch)
  m["ratio/max"] = t.loss.ratio_max;
  const double mt = t.mismatch.tokens;
  m["mismatch/kl"] = mt > 0 ? t.mismatch.k3_sum / mt : 0;
  m["mismatch/max_abs_logp_diff"] = t.mismatch.max_abs_diff;
  m["mismatch/frac_abs_diff_gt_0.5"] = mt > 0 ? t.mismatch.over_half / mt : 0;
  if (L.rl.is_correction != IsCorrection::none) {
    m["is/mean_weight"] = per_token(t.loss.is_weight_sum);
    m["is/frac_limited"] = per_token(t.loss.is_limited);
  }
  if (!L.model->moe_layers().empty()) {
    double bias_abs = 0;
    int64_t layers = 0;
    for (auto& moe : L.model->moe_layers()) {
      if (moe->gate->e_score_correction_bias.defined()) bias_abs += moe->gate->e_score_correction_bias.abs().mean().item<double>();
      ++layers;
    }
    m["moe/max_load_ratio"] = t.max_load_ratio;
    for (size_t i = 0; i < t.expert_load.size(); ++i)
      if (t.expert_load[i].defined()) policy::MoeImpl::add_load_shares(static_cast<int64_t>(i), t.expert_load[i], m);
    m["moe/bias_abs_mean"] = bias_abs / layers;
  }
}

}  // namespace

MicroBatch make_batch(const std::vector<Seq>& seqs, const std::vector<size_t>& rows, torch::Device dev) {
  int64_t L = 2;
  const Seq* with_routing = nullptr;
  for (size_t r : rows) {
    L = std::max<int64_t>(L, static_cast<int64_t>(seqs[r].tokens.size()));
    if (seqs[r].routing.defined()) with_routing = &seqs[r];
  }
  const int64_t b = static_cast<int64_t>(rows.size());
  std::vector<int64_t> in(b * (L - 1), 0), tg(b * (L - 1), 0);
  std::vector<float> m(b * (L - 1), 0.f);
  std::vector<uint8_t> valid(b * (L - 1), 0);
  for (int64_t i = 0; i < b; ++i) {
    const Seq& s = seqs[rows[i]];
    const int64_t n = static_cast<int64_t>(s.tokens.size());
    for (int64_t t = 0; t + 1 < n; ++t) {
      in[i * (L - 1) + t] = s.tokens[t];
      tg[i * (L - 1) + t] = s.tokens[t + 1];
      valid[i * (L - 1) + t] = 1;
    }
    if (!s.masked)
      for (int64_t j = 0; j < s.completion_len; ++j) m[i * (L - 1) + s.prompt_len - 1 + j] = 1.f;
  }
  MicroBatch mb;
  mb.input = torch::tensor(in, torch::kLong).view({b, L - 1}).to(dev);
  mb.target = torch::tensor(tg, torch::kLong).view({b, L - 1}).to(dev);
  mb.mask = torch::tensor(m, torch::kFloat32).view({b, L - 1}).to(dev);
  mb.forward.valid = torch::tensor(valid, torch::kUInt8).view({b, L - 1}).to(torch::kBool).to(dev);
  if (with_routing) {
    const auto& r0 = with_routing->routing;  // [n - 1, layers, k]
    // Padding positions route to experts 0..k-1 (distinct, as top-k would); they are masked out,
    // as is a sequence without a completion (a prompt too long: nothing was routed).
    auto routing = torch::arange(r0.size(2), torch::kLong).view({1, 1, 1, -1}).expand({b, L - 1, r0.size(1), r0.size(2)}).clone();
    for (int64_t i = 0; i < b; ++i) {
      const Seq& s = seqs[rows[i]];
      if (!s.routing.defined()) {
        TORCH_CHECK(s.completion_len == 0, "routing replay: a completion of ", s.completion_len, " tokens has no recorded routing");
        continue;
      }
      const int64_t n = static_cast<int64_t>(s.tokens.size()) - 1;
      TORCH_CHECK(s.routing.size(0) == n, "routing replay: ", s.routing.size(0), " recorded positions for ", n, " inputs");
      routing[i].narrow(0, 0, n).copy_(s.routing);
    }
    mb.forward.routing = routing.to(dev);
  }
  mb.rows = rows;
  return mb;
}

TokenLogprobs policy_logprobs(policy::CausalLM& model, const MicroBatch& mb, double temperature) {
  auto h = model->hidden(mb.input, {}, nullptr, mb.forward);
  return chunked_token_logprobs(h, model->output_weight(), mb.target, temperature);
}

double learn(Learner& L, std::vector<Seq>& seqs, int64_t step, TrainState& state, Metrics& m) {
  const RlConfig& rl = L.rl;
  const int64_t N = static_cast<int64_t>(seqs.size());
  const int64_t micro = rl.micro_batch_size > 0 ? rl.micro_batch_size : std::max<int64_t>(1, N);
  // The KL in the reward is the old policy's to the reference, so it needs the old log-probs.
  const double kl_coef = state.kl_coef >= 0 ? state.kl_coef : rl.beta;
  const bool need_old = !(rl.mu == 1 && rl.n_minibatches == 1) || (rl.kl_in == KlPlacement::reward && rl.beta > 0);
  // PPO's critic warm-up: the first steps fit the values to the initial policy's returns.
  const bool update_policy = !L.critic || step > rl.critic_warmup;
  LossConfig lc = rl.loss_config();
  lc.beta = rl.kl_in == KlPlacement::loss ? kl_coef : 0.0;
  StepTotals tot;
  // Every rank takes every optimizer step (they meet in its all-reduce), even with nothing to learn.
  const int64_t N_all = L.group ? static_cast<int64_t>(L.group->all_reduce({static_cast<double>(N)}, dist::ReduceOp::sum)[0]) : N;
  L.model->train();
  if (N > 0 && (need_old || L.critic)) pre_update_pass(L.model, {need_old, false, L.critic}, seqs, micro, L.device, L.temperature);
  if (N > 0 && rl.beta > 0) pre_update_pass(*L.reference, {true, true, nullptr}, seqs, micro, L.device, L.temperature);
  const MomentsReduce reduce = moments_across_ranks(L.group);
  if (rl.advantage == AdvantageEstimator::gae) assign_gae_advantages(rl, seqs, kl_coef, reduce, tot);
  else if (rl.token_level_advantages()) assign_token_advantages(rl, seqs, kl_coef, reduce, tot);
  for (auto& moe : L.model->moe_layers()) moe->reset_load();
  for (int64_t epoch = 0; N_all > 0 && epoch < rl.mu; ++epoch) {
    std::vector<size_t> order(N);
    std::iota(order.begin(), order.end(), size_t{0});
    std::mt19937_64 rng(mix(mix(L.seed, static_cast<uint64_t>(step)), static_cast<uint64_t>(epoch) + 17));
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
    const int64_t per_mb = (N + rl.n_minibatches - 1) / rl.n_minibatches;
    for (int64_t mbi = 0; mbi < rl.n_minibatches; ++mbi) {
      const int64_t from = std::min<int64_t>(N, mbi * per_mb), to = std::min<int64_t>(N, from + per_mb);
      if (from >= to && !L.group) break;
      LossNorm norm;
      norm.max_len = static_cast<double>(L.max_new_tokens);
      norm.sequences = static_cast<double>(to - from);
      for (int64_t i = from; i < to; ++i)
        if (!seqs[order[i]].masked) norm.tokens += static_cast<double>(seqs[order[i]].completion_len);
      if (L.group) {  // the loss is normalised by the whole minibatch, over every rank
        auto n = L.group->all_reduce({norm.sequences, norm.tokens}, dist::ReduceOp::sum);
        norm.sequences = n[0], norm.tokens = n[1];
      }
      L.masters.zero_grad();
      if (L.critic) L.critic->zero_grad();
      double mb_loss = 0;
      for (int64_t off = from; off < to; off += micro) {
        std::vector<size_t> rows(order.begin() + off, order.begin() + std::min<int64_t>(to, off + micro));
        mb_loss += micro_step(L, seqs, rows, norm, lc, need_old, epoch == 0, update_policy, tot);
      }
      if (update_policy) optimizer_step(L, state, tot);
      if (L.critic) critic_step(L, tot);
      tot.loss_sum += mb_loss;
    }
  }
  if (L.group) reduce_totals(*L.group, tot);
  record_learner_metrics(L, tot, kl_coef, m);
  if (L.critic) record_critic_metrics(seqs, tot, !update_policy, L.group, m);
  if (rl.kl_target > 0 && rl.beta > 0) {
    // The adaptive controller, from this step's measured KL: the next step's beta.
    const double kl = m["kl"];
    state.kl_coef = adapt_kl_coef(kl_coef, kl, rl.kl_target, N_all, rl.kl_horizon);
  }
  return tot.learner_tokens;
}

}  // namespace r1::rl
