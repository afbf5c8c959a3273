// Recipe loading: TOML tree -> typed sections, with defaults and unknown-key checks.
#include "rl/recipe.h"

#include <filesystem>

#include "experiments/config_binder.h"
#include "experiments/recipe_loader.h"

namespace r1::rl {

experiments::ConfigNode resolve(Recipe& recipe) { return experiments::to_tree(recipe); }

ResolvedRecipe load_recipe(const std::string& path, const std::vector<std::string>& sets) {
  experiments::RecipeSource src = experiments::load_recipe(path, sets);
  ResolvedRecipe out;
  experiments::bind_table(src.tree, "", out.recipe);
  if (out.recipe.run.name.empty()) out.recipe.run.name = std::filesystem::path(path).stem().string();
  if (out.recipe.rewards.empty()) {
    rewards::RewardSpec acc, fmt;
    acc.name = "math_accuracy";
    fmt.name = "format";
    out.recipe.rewards = {acc, fmt};
  }
  out.resolved = resolve(out.recipe);
  out.source_text = std::move(src.text);
  out.path = path;
  return out;
}

}  // namespace r1::rl
