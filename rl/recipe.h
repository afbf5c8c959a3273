// A whole recipe: one typed struct per [section], each owned by its component, bound from TOML
// through text/value_binder.h. `r1 config show` prints `resolved` as TOML.
#pragma once

#include <string>
#include <vector>

#include "datasets/data_config.h"
#include "dist/dist_config.h"
#include "experiments/config_tree.h"
#include "experiments/run_config.h"
#include "policy/policy_config.h"
#include "rewards/reward_spec.h"
#include "rl/distill_config.h"
#include "rl/eval_config.h"
#include "rl/lm_config.h"
#include "rl/rl_config.h"
#include "rollout/rollout_config.h"

namespace r1::rl {

struct Recipe {
  experiments::RunConfig run;
  policy::PolicyConfig model;
  rollout::RolloutConfig rollout;
  std::vector<rewards::RewardSpec> rewards;
  RlConfig rl;
  datasets::DataConfig data;
  EvalConfig eval;
  LmConfig lm;
  DistillConfig distill;
  dist::DistConfig dist;

  template <class V>
  void visit(V& v) {
    v.table("run", run, "the run: name, seed, length, checkpoints, recording");
    v.table("model", model, "the policy being trained");
    v.table("rollout", rollout, "sampling of completion groups");
    v.table_array("rewards", rewards, "reward functions; the total is their weighted sum");
    v.table("rl", rl, "the GRPO learner");
    v.table("data", data, "training tasks");
    v.table("eval", eval, "held-out evaluation");
    v.table("lm", lm, "next-token training (r1 pretrain, r1 sft)");
    v.table("distill", distill, "distillation into the [model] student (r1 distill)");
    v.table("dist", dist, "data-parallel ranks (torchrun, Slurm, r1 launch): how they talk");
  }
};

struct ResolvedRecipe {
  Recipe recipe;
  text::Value resolved;  // every key with its value, defaults filled in
  std::string source_text;           // the main recipe file as written
  std::string path;
  std::vector<std::string> missing_inputs;  // load_recipe(..., require_paths = false): one message each
};

// Reads a recipe (with includes and --set overrides), checks every key, fills defaults. A recipe
// with no [[rewards]] gets R1's two: math_accuracy + format. Paths in the recipe resolve against
// the file that wrote them (text::resolve_path) and must exist; with `require_paths` false a
// missing one is listed in `missing_inputs` instead (showing a recipe, or one whose inputs a
// command makes before it runs). Throws
// experiments::ConfigError.
ResolvedRecipe load_recipe(const std::string& path, const std::vector<std::string>& sets, bool require_paths = true);
// Binds an already merged recipe tree (a pipeline stage's tables) as load_recipe does; `path`
// names it in errors and gives run.name's default.
ResolvedRecipe bind_recipe(const text::Value& tree, const std::string& path, bool require_paths = true);
// Builds the resolved tree of a recipe struct (e.g. after code changed a field).
text::Value resolve(Recipe& recipe);

}  // namespace r1::rl
