// Recipe loading: TOML tree -> typed sections, with defaults and unknown-key checks; then the
// choices that depend on each other (GSPO's defaults) and the combinations that cannot learn.
#include "rl/recipe.h"

#include <cstdlib>
#include <filesystem>

#include "experiments/recipe_loader.h"
#include "rollout/handshake.h"
#include "rollout/worker_gate.h"
#include "text/value_binder.h"

namespace r1::rl {

namespace {

const text::Value* find_key(const text::Value& root, std::string_view section, std::string_view key) {
  const auto* t = root.find(section);
  return t ? t->find(key) : nullptr;
}

// Where a key was written ("file:line"), or the main recipe when it is a default.
std::string where(const text::Value& root, const std::string& path, std::string_view section, std::string_view key) {
  const auto* n = find_key(root, section, key);
  return n ? n->origin().str() : path;
}

// GSPO (ratio = "sequence"): length-weighted token_mean and a PPO-sized clip range are both
// wrong for a sequence ratio, so unless the recipe sets them the paper's choices apply.
// Returns the keys so defaulted (r1 config show marks them).
std::vector<std::string> apply_gspo_defaults(RlConfig& rl, const text::Value& tree) {
  std::vector<std::string> set;
  if (rl.ratio != RatioLevel::sequence) return set;
  if (!find_key(tree, "rl", "loss_agg")) rl.loss_agg = LossAggregation::seq_mean_token_mean, set.push_back("loss_agg");
  if (!find_key(tree, "rl", "eps_low")) rl.eps_low = kGspoEpsLow, set.push_back("eps_low");
  if (!find_key(tree, "rl", "eps_high")) rl.eps_high = kGspoEpsHigh, set.push_back("eps_high");
  return set;
}

// On-policy distillation is the GRPO loop with the teacher as the KL anchor: the anchor's weight
// is distill.kl_coef (an included GRPO recipe's small rl.beta must not silently become the
// distillation signal), the anchor is never replaced by the student, and unless the recipe says
// otherwise the per-token KL goes into the reward as k1 (log pi_student - log pi_teacher on the
// student's own tokens: a sampled reverse KL), each token's own (discount 0, as Thinking
// Machines' on-policy distillation). Returns the keys so set.
std::vector<std::string> apply_distill_defaults(Recipe& r, const text::Value& tree, const std::string& path) {
  std::vector<std::string> set;
  if (r.distill.mode != DistillMode::on_policy) return set;
  if (r.distill.teacher.empty())
    throw experiments::ConfigError(where(tree, path, "distill", "mode") + ": distill.teacher: on_policy needs the teacher's model folder");
  r.rl.beta = r.distill.kl_coef, set.push_back("beta");
  r.rl.ref_sync_every = 0, set.push_back("ref_sync_every");
  if (!find_key(tree, "rl", "kl_in")) r.rl.kl_in = KlPlacement::reward, set.push_back("kl_in");
  if (!find_key(tree, "rl", "kl_estimator")) r.rl.kl_estimator = KlEstimator::k1, set.push_back("kl_estimator");
  if (!find_key(tree, "rl", "kl_to_go")) r.rl.kl_to_go = false, set.push_back("kl_to_go");
  return set;
}

// Combinations that make every advantage NaN or identically zero, or a loss term meaningless.
void check_learnable(const Recipe& r, const text::Value& tree, const std::string& path) {
  auto fail = [&](std::string_view section, std::string_view key, const std::string& why) {
    throw experiments::ConfigError(where(tree, path, section, key) + ": " + std::string(section) + "." + std::string(key) + ": " + why);
  };
  if (r.rollout.group_size < 2)
    fail("rollout", "group_size", "GRPO needs at least 2 completions per prompt (with 1 every advantage is 0)");
  if (r.rollout.temperature <= 0)
    fail("rollout", "temperature", "greedy rollouts (0) give G identical completions and zero advantages; use > 0");
  if (r.rollout.max_staleness > 0 && r.rollout.backend != rollout::BackendKind::remote)
    fail("rollout", "max_staleness", "sampling ahead of the learner needs rollout.backend = \"remote\" (the in-process engine shares the learner's threads)");
  // Step s's extra rounds draw prompts after steps s+1 .. s+k-1 drew theirs: with k >= 2 a
  // checkpoint could not say which prompts were trained on.
  if (r.rl.dynamic_sampling && r.rollout.max_staleness >= 2)
    fail("rl", "dynamic_sampling", "with rollout.max_staleness >= 2 the extra rounds' prompts interleave with batches sampled ahead; use max_staleness <= 1");
  if (r.rollout.backend == rollout::BackendKind::remote) {
    std::string host;
    try {
      host = rollout::parse_host_port(r.rollout.listen, "rollout.listen").first;
    } catch (const rollout::ServiceError& e) {
      fail("rollout", "listen", std::string(e.what()).substr(std::string("rollout.listen = ").size()));
    }
    const char* env_token = std::getenv("R1_ROLLOUT_TOKEN");
    if (rollout::wire::needs_token(host) && r.rollout.token_file.empty() && !(env_token && *env_token))
      fail("rollout", "token_file", "rollout.listen = \"" + r.rollout.listen + "\" is reachable from other hosts: workers must present a shared token "
                                    "(a file here, or $R1_ROLLOUT_TOKEN)");
  }
  if (r.rollout.weight_sync == rollout::WeightSync::c10d && r.rollout.backend != rollout::BackendKind::remote)
    fail("rollout", "weight_sync", "c10d broadcasts weights to remote workers: set rollout.backend = \"remote\"");
  if (r.rollout.weight_sync == rollout::WeightSync::c10d && r.rollout.workers < 1)
    fail("rollout", "workers", "weight_sync = \"c10d\" needs the fixed number of workers that form its group (>= 1)");
  if (r.rollout.weight_sync == rollout::WeightSync::c10d && r.rollout.inflight_update)
    fail("rollout", "inflight_update", "in-flight updates take weights between decode steps from the connection; use weight_sync = \"connection\"");
  if (r.rollout.inflight_update && r.rollout.max_staleness < 1)
    fail("rollout", "inflight_update", "weights change while completions are sampled only when batches are sampled ahead: set rollout.max_staleness >= 1");
  if (r.rl.adv_eps <= 0 && r.rl.scale != AdvantageScale::none)
    fail("rl", "adv_eps", "must be > 0 when advantages are divided by a std (a group of equal rewards gives 0/0 = NaN)");
  if (r.rl.clip_ratio_c != 0 && r.rl.clip_ratio_c <= 1)
    fail("rl", "clip_ratio_c", "the dual-clip bound must be > 1 (or 0 = off)");
  if (r.rl.is_correction != IsCorrection::none && r.rl.is_cap <= 1)
    fail("rl", "is_cap", "must be > 1 with an importance-sampling correction");
  if (r.rl.advantage == AdvantageEstimator::remax && r.rl.scale == AdvantageScale::group)
    fail("rl", "scale", "ReMax's advantage r - r_greedy is not divided by a group std (equal rewards have none): use none or batch");
  if (r.rl.kl_in == KlPlacement::reward && r.rl.beta <= 0)
    fail("rl", "kl_in", "a KL in the reward needs rl.beta > 0 (its weight; there is no reference model at 0)");
  if (r.rl.kl_target > 0 && r.rl.beta <= 0)
    fail("rl", "kl_target", "the adaptive KL scales rl.beta, which is 0 (set an initial beta > 0)");
  const bool gae = r.rl.advantage == AdvantageEstimator::gae;
  if (gae && r.rl.critic == CriticKind::none)
    fail("rl", "advantage", "gae needs a value model: set rl.critic = \"head\" or \"separate\"");
  if (!gae && r.rl.critic != CriticKind::none)
    fail("rl", "critic", "only advantage = \"gae\" uses a critic (this recipe's advantage would ignore it)");
  if (gae && r.rl.scale == AdvantageScale::group)
    fail("rl", "scale", "GAE's advantages are per token, not per group: use batch (whitened over the batch, as veRL) or none");
  if (gae && r.rl.critic_warmup >= r.run.steps && r.run.steps > 0)
    fail("rl", "critic_warmup", "the policy would never be updated (critic_warmup >= run.steps)");
  if (!r.lm.mix.empty() && r.lm.mix_share <= 0)
    fail("lm", "mix", "set lm.mix_share, the share of training sequences drawn from these files (e.g. 0.25)");
  if (r.lm.mix.empty() && r.lm.mix_share > 0) fail("lm", "mix_share", "lm.mix lists no files to draw that share from");
  if (r.rl.eps_low >= 1 && r.rl.policy_loss == PolicyLoss::ppo_clip)
    fail("rl", "eps_low", "must be < 1 with ppo_clip (the ratio's lower clip bound 1 - eps_low would be <= 0)");
}

}  // namespace

text::Value resolve(Recipe& recipe) { return text::to_tree(recipe); }

ResolvedRecipe bind_recipe(const text::Value& tree, const std::string& path, bool require_paths) {
  ResolvedRecipe out;
  text::bind_table(tree, "", out.recipe, path, require_paths ? nullptr : &out.missing_inputs);
  if (out.recipe.run.name.empty()) out.recipe.run.name = std::filesystem::path(path).stem().string();
  if (out.recipe.rewards.empty()) {
    rewards::RewardSpec acc, fmt;
    acc.name = "math_accuracy";
    fmt.name = "format";
    out.recipe.rewards = {acc, fmt};
  }
  auto gspo = apply_gspo_defaults(out.recipe.rl, tree);
  auto distill = apply_distill_defaults(out.recipe, tree, path);
  check_learnable(out.recipe, tree, path);
  out.resolved = resolve(out.recipe);
  if (auto* rl = out.resolved.find("rl")) {
    for (const auto& key : gspo)
      if (auto* n = rl->find(key)) n->set_doc(n->doc() + " [GSPO default: rl.ratio = \"sequence\" and the recipe does not set it]");
    for (const auto& key : distill)
      if (auto* n = rl->find(key)) n->set_doc(n->doc() + " [set by distill.mode = \"on_policy\"]");
  }
  out.path = path;
  return out;
}

ResolvedRecipe load_recipe(const std::string& path, const std::vector<std::string>& sets, bool require_paths) {
  experiments::RecipeSource src = experiments::load_recipe(path, sets);
  ResolvedRecipe out = bind_recipe(src.tree, path, require_paths);
  out.source_text = std::move(src.text);
  return out;
}

}  // namespace r1::rl
