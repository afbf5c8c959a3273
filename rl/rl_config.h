// [rl]: the GRPO learner. Defaults are R1-Zero's at small scale (../shared/docs/GRPO.md):
// token-mean aggregation, eps 0.2 / 0.28, beta 0.001 with the reference refreshed every 400 steps.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

namespace r1::rl {

enum class AdvantageScale { group, batch, none };
constexpr std::array<std::pair<AdvantageScale, std::string_view>, 3> enum_names(AdvantageScale) {
  return {{{AdvantageScale::group, "group"}, {AdvantageScale::batch, "batch"}, {AdvantageScale::none, "none"}}};
}

enum class LossAggregation { seq_mean_token_mean, token_mean, seq_mean_token_sum_norm };
constexpr std::array<std::pair<LossAggregation, std::string_view>, 3> enum_names(LossAggregation) {
  return {{{LossAggregation::seq_mean_token_mean, "seq_mean_token_mean"},
           {LossAggregation::token_mean, "token_mean"},
           {LossAggregation::seq_mean_token_sum_norm, "seq_mean_token_sum_norm"}}};
}

enum class RatioLevel { token, sequence };
constexpr std::array<std::pair<RatioLevel, std::string_view>, 2> enum_names(RatioLevel) {
  return {{{RatioLevel::token, "token"}, {RatioLevel::sequence, "sequence"}}};
}

enum class IsCorrection { none, tis, mis };
constexpr std::array<std::pair<IsCorrection, std::string_view>, 3> enum_names(IsCorrection) {
  return {{{IsCorrection::none, "none"}, {IsCorrection::tis, "tis"}, {IsCorrection::mis, "mis"}}};
}

// Where a sample's advantage comes from (the baseline subtracted from its reward). `scale` then
// divides as for GRPO (group std, batch std, or not at all).
// reinforce_pp (REINFORCE++, Hu 2025): no baseline, token returns whitened over the batch;
// reinforce_pp_baseline: the group mean subtracted, returns divided by the batch std.
// remax (ReMax, Li et al. 2024): the baseline is the reward of one greedy completion per prompt.
// gae (PPO, Schulman et al. 2016): per-token advantages from a learned value model (rl.critic).
enum class AdvantageEstimator { grpo, rloo, reinforce_pp, reinforce_pp_baseline, remax, gae };
constexpr std::array<std::pair<AdvantageEstimator, std::string_view>, 6> enum_names(AdvantageEstimator) {
  return {{{AdvantageEstimator::grpo, "grpo"},
           {AdvantageEstimator::rloo, "rloo"},
           {AdvantageEstimator::reinforce_pp, "reinforce_pp"},
           {AdvantageEstimator::reinforce_pp_baseline, "reinforce_pp_baseline"},
           {AdvantageEstimator::remax, "remax"},
           {AdvantageEstimator::gae, "gae"}}};
}
inline bool is_reinforce_pp(AdvantageEstimator e) {
  return e == AdvantageEstimator::reinforce_pp || e == AdvantageEstimator::reinforce_pp_baseline;
}

// PPO's value model: none, a linear head on the policy's last hidden state (the trunk shared and
// trained by both losses), or a separate copy of the policy's trunk with its own head and
// optimizer (as OpenRLHF and veRL).
enum class CriticKind { none, head, separate };
constexpr std::array<std::pair<CriticKind, std::string_view>, 3> enum_names(CriticKind) {
  return {{{CriticKind::none, "none"}, {CriticKind::head, "head"}, {CriticKind::separate, "separate"}}};
}

// Where the KL to the reference acts: a loss term, or a per-token penalty folded into the reward
// (then advantages are per token: the return of the penalised rewards).
enum class KlPlacement { loss, reward };
constexpr std::array<std::pair<KlPlacement, std::string_view>, 2> enum_names(KlPlacement) {
  return {{{KlPlacement::loss, "loss"}, {KlPlacement::reward, "reward"}}};
}

// The surrogate each token's loss is: PPO's clip, CISPO's clipped and detached IS weight, or
// SAPO's soft gate.
enum class PolicyLoss { ppo_clip, cispo, sapo };
constexpr std::array<std::pair<PolicyLoss, std::string_view>, 3> enum_names(PolicyLoss) {
  return {{{PolicyLoss::ppo_clip, "ppo_clip"}, {PolicyLoss::cispo, "cispo"}, {PolicyLoss::sapo, "sapo"}}};
}

// How the KL to the reference is estimated per token, with d = log pi_ref - log pi.
enum class KlEstimator { k1, k2, k3, low_var_kl };
constexpr std::array<std::pair<KlEstimator, std::string_view>, 4> enum_names(KlEstimator) {
  return {{{KlEstimator::k1, "k1"}, {KlEstimator::k2, "k2"}, {KlEstimator::k3, "k3"}, {KlEstimator::low_var_kl, "low_var_kl"}}};
}

enum class LrSchedule { constant, linear, cosine };
constexpr std::array<std::pair<LrSchedule, std::string_view>, 3> enum_names(LrSchedule) {
  return {{{LrSchedule::constant, "constant"}, {LrSchedule::linear, "linear"}, {LrSchedule::cosine, "cosine"}}};
}

// What the loss itself needs (grpo_loss): the rest of [rl] is the loop's business.
struct LossConfig {
  LossAggregation loss_agg = LossAggregation::token_mean;
  double eps_low = 0.2, eps_high = 0.28;
  RatioLevel ratio = RatioLevel::token;
  double clip_ratio_c = 3.0;  // dual-clip bound for A < 0 (ppo_clip); 0 = off
  double beta = 0.0;          // KL weight
  IsCorrection is_correction = IsCorrection::none;
  double is_cap = 2.0;
  PolicyLoss policy_loss = PolicyLoss::ppo_clip;
  double sapo_tau_pos = 1.0, sapo_tau_neg = 1.05;  // SAPO's gate temperatures for A > 0 and A < 0
  KlEstimator kl_estimator = KlEstimator::k3;
  double entropy_coef = 0.0;  // entropy bonus: the loss gains -coef * H per token
};

// GSPO's clip range (Zheng et al. 2025), used with ratio = "sequence" unless the recipe sets one.
inline constexpr double kGspoEpsLow = 3e-4, kGspoEpsHigh = 4e-4;

struct RlConfig {
  int64_t prompts_per_step = 8;        // B: prompts per rollout batch (B * G completions)
  double lr = 3e-6;                    // AdamW peak learning rate (R1-Zero: 3e-6)
  AdvantageScale scale = AdvantageScale::group;
  LossAggregation loss_agg = LossAggregation::token_mean;
  double eps_low = 0.2;                // clip range below 1
  double eps_high = 0.28;              // clip range above 1 (DAPO clip-higher)
  RatioLevel ratio = RatioLevel::token;
  double beta = 0.001;                 // k3 KL weight; 0 = no reference model at all
  int64_t ref_sync_every = 400;        // copy policy -> reference every N steps; 0 = never
  int64_t mu = 1;                      // inner epochs over each rollout batch
  int64_t n_minibatches = 1;           // optimizer steps per epoch
  int64_t micro_batch_size = 0;        // sequences per forward/backward; 0 = whole minibatch
  double max_grad_norm = 1.0;          // 0 = no clipping
  bool shard_optimizer = false;        // ZeRO-1: each rank keeps the AdamW moments of its share of the parameters
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.99;
  double adam_eps = 1e-8;
  double weight_decay = 0.0;
  LrSchedule lr_schedule = LrSchedule::constant;
  int64_t warmup_steps = 0;            // linear warm-up from 0
  double min_lr_ratio = 0.0;           // final lr / peak lr for linear and cosine
  bool mask_truncated = false;         // DAPO overlong filtering: truncated completions get no loss
  bool dynamic_sampling = false;       // DAPO: drop zero-variance groups, sample more prompts
  int64_t max_extra_rounds = 3;        // dynamic sampling: extra generation rounds per step
  double adv_eps = 1e-4;               // added to the std before dividing
  double bias_update_speed = 0.001;    // MoE aux-loss-free balancing bias step; 0 = frozen
  double clip_ratio_c = 3.0;           // veRL's dual-clip: loss of A < 0 tokens bounded by -c * A; 0 = off
  IsCorrection is_correction = IsCorrection::none;  // rollout/learner importance-sampling correction
  double is_cap = 2.0;                 // TIS: weight capped at C; MIS: tokens outside [1/C, C] masked
  bool routing_replay = false;         // MoE: the learner routes each token to the rollout's experts
  AdvantageEstimator advantage = AdvantageEstimator::grpo;
  PolicyLoss policy_loss = PolicyLoss::ppo_clip;
  double sapo_tau_pos = 1.0;           // SAPO (Gao et al. 2025): gate temperature for A > 0
  double sapo_tau_neg = 1.05;          // and for A < 0 (larger: negative updates damp faster)
  KlEstimator kl_estimator = KlEstimator::k3;
  double entropy_coef = 0.0;           // entropy bonus weight; 0 = off
  KlPlacement kl_in = KlPlacement::loss;
  double kl_target = 0.0;              // adaptive KL: beta moves so the KL approaches this; 0 = fixed beta
  int64_t kl_horizon = 10000;          // adaptive KL: samples over which beta may change by e^0.2
  bool kl_to_go = true;                // kl_in = reward: a token's return holds the KL from it to the end (false: its own only)
  CriticKind critic = CriticKind::none;  // PPO's value model (advantage = gae)
  double gamma = 1.0;                  // GAE discount per token
  double lam = 1.0;                    // GAE lambda (1 = Monte-Carlo returns minus the value, as veRL)
  double vf_clip = 0.2;                // value clipping around the old values; 0 = off
  double vf_coef = 0.5;                // critic = head: weight of the value loss in the shared trunk's loss
  double critic_lr = 1e-5;             // the critic's AdamW learning rate (constant)
  int64_t critic_warmup = 0;           // first steps train only the critic (the policy is not updated)

  // Advantages are per token (a KL in the reward, REINFORCE++'s returns, GAE).
  bool token_level_advantages() const {
    return kl_in == KlPlacement::reward || is_reinforce_pp(advantage) || advantage == AdvantageEstimator::gae;
  }

  LossConfig loss_config() const {
    return {loss_agg, eps_low, eps_high, ratio, clip_ratio_c, beta, is_correction, is_cap, policy_loss, sapo_tau_pos, sapo_tau_neg,
            kl_estimator, entropy_coef};
  }

  template <class V>
  void visit(V& v) {
    v("prompts_per_step", prompts_per_step, "B: prompts per rollout batch (B*G completions)", 1, 1 << 24);
    v("lr", lr, "AdamW peak learning rate", 0.0, 1.0);
    v("scale", scale, "advantage scaling: group (GRPO) | batch | none (Dr. GRPO)");
    v("loss_agg", loss_agg, "loss aggregation: token_mean (DAPO) | seq_mean_token_mean (GRPO) | "
                            "seq_mean_token_sum_norm (Dr. GRPO)");
    v("eps_low", eps_low, "clip range below 1 of the ratio", 0.0, 1.0);
    v("eps_high", eps_high, "clip range above 1 of the ratio (DAPO: 0.28)", 0.0, 1000.0);
    v("ratio", ratio, "importance ratio: token | sequence (GSPO)");
    v("beta", beta, "k3 KL weight against the reference; 0 = no reference model", 0.0, 1000.0);
    v("ref_sync_every", ref_sync_every, "copy the policy into the reference every N steps; 0 = never", 0, 1e12);
    v("mu", mu, "inner epochs over each rollout batch", 1, 1000);
    v("n_minibatches", n_minibatches, "optimizer steps per inner epoch", 1, 1 << 20);
    v("micro_batch_size", micro_batch_size, "sequences per forward/backward; 0 = whole minibatch", 0, 1 << 24);
    v("max_grad_norm", max_grad_norm, "gradient norm clip; 0 = off", 0.0, 1e9);
    v("shard_optimizer", shard_optimizer, "several ranks: each keeps and updates the optimizer state of its share of the parameters (ZeRO-1)");
    v("adam_beta1", adam_beta1, "AdamW beta1", 0.0, 1.0);
    v("adam_beta2", adam_beta2, "AdamW beta2", 0.0, 1.0);
    v("adam_eps", adam_eps, "AdamW epsilon", 0.0, 1.0);
    v("weight_decay", weight_decay, "AdamW decoupled weight decay", 0.0, 10.0);
    v("lr_schedule", lr_schedule, "constant | linear | cosine (after warm-up)");
    v("warmup_steps", warmup_steps, "linear learning-rate warm-up steps", 0, 1e12);
    v("min_lr_ratio", min_lr_ratio, "final lr as a fraction of the peak (linear, cosine)", 0.0, 1.0);
    v("mask_truncated", mask_truncated, "DAPO overlong filtering: no loss on truncated completions");
    v("dynamic_sampling", dynamic_sampling, "DAPO: drop zero-variance groups and sample more prompts");
    v("max_extra_rounds", max_extra_rounds, "dynamic sampling: extra generation rounds per step", 0, 1000);
    v("adv_eps", adv_eps, "added to the reward std before dividing", 0.0, 1.0);
    v("bias_update_speed", bias_update_speed, "MoE aux-loss-free balancing bias step; 0 = frozen", 0.0, 1.0);
    v("clip_ratio_c", clip_ratio_c, "dual-clip: loss of negative-advantage tokens bounded by c * |A| (> 1); 0 = off", 0.0, 1e6);
    v("is_correction", is_correction, "rollout importance-sampling correction: none | tis (weight min(pi_old/pi_rollout, C)) | "
                                      "mis (tokens with the ratio outside [1/C, C] masked)");
    v("is_cap", is_cap, "C of is_correction (> 1)", 1.0, 1e6);
    v("routing_replay", routing_replay, "MoE: the learner uses the experts the rollout routed each token to");
    v("advantage", advantage, "grpo (group-mean baseline) | rloo (mean of the other G-1 rewards); then `scale` divides | "
                              "reinforce_pp (no baseline; token returns whitened over the batch) | reinforce_pp_baseline "
                              "(group-mean baseline; returns divided by the batch std) | remax (the reward of a greedy "
                              "completion of the prompt; scale none or batch) | gae (PPO: per-token GAE from the critic's "
                              "values; scale batch whitens them, none keeps them)");
    v("policy_loss", policy_loss, "ppo_clip (eps_low/eps_high, dual-clip) | cispo (MiniMax-M1: clipped, detached IS weight "
                                  "times log-prob; eps_low = 1 for no lower bound) | sapo (soft gate, sapo_tau_pos/neg)");
    v("sapo_tau_pos", sapo_tau_pos, "SAPO gate temperature for positive advantages", 1e-6, 1e6);
    v("sapo_tau_neg", sapo_tau_neg, "SAPO gate temperature for negative advantages", 1e-6, 1e6);
    v("kl_estimator", kl_estimator, "KL to the reference per token: k1 | k2 | k3 | low_var_kl (k3 clamped to [-10, 10], veRL)");
    v("entropy_coef", entropy_coef, "entropy bonus: the loss gains -coef * entropy per completion token; 0 = off", 0.0, 1e3);
    v("kl_in", kl_in, "where the KL acts: loss (a term of the loss) | reward (a per-token penalty in the reward, as PPO and REINFORCE++)");
    v("kl_target", kl_target, "adaptive KL (PPO): beta moves so the per-token KL approaches this; 0 = fixed beta", 0.0, 1e6);
    v("kl_horizon", kl_horizon, "adaptive KL: samples over which beta may change by a factor e^0.2", 1, 1e12);
    v("kl_to_go", kl_to_go, "kl_in = reward: each token's return holds the KL from it to the end; false = its own KL only (on-policy distillation)");
    v("critic", critic, "PPO's value model (advantage = gae): none | head (a value head on the policy's trunk) | separate "
                        "(a copy of the policy's trunk with its own head and optimizer)");
    v("gamma", gamma, "GAE discount per completion token", 0.0, 1.0);
    v("lam", lam, "GAE lambda: 0 = one-step TD, 1 = Monte-Carlo return minus the value", 0.0, 1.0);
    v("vf_clip", vf_clip, "value clipping: new values kept within +-vf_clip of the old ones in the loss; 0 = off", 0.0, 1e6);
    v("vf_coef", vf_coef, "critic = head: weight of the value loss in the shared trunk's loss", 0.0, 1e6);
    v("critic_lr", critic_lr, "the critic's AdamW learning rate (the head's, or the separate critic's)", 0.0, 1.0);
    v("critic_warmup", critic_warmup, "the first N steps update only the critic (the policy and its rollouts stay as they are)", 0, 1e12);
  }
};

}  // namespace r1::rl
