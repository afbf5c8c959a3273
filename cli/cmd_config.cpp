// `r1 config show RECIPE [--set k=v]`: the fully resolved recipe, defaults filled in, as TOML.
#include <iostream>

#include "cli/cli_common.h"
#include "experiments/config_tree.h"
#include "rl/recipe.h"

namespace r1::cli {

void add_config_commands(CLI::App& app, Context& ctx) {
  auto* config = app.add_subcommand("config", "Inspect recipes");
  config->require_subcommand(1);
  struct Args {
    std::string recipe;
    std::vector<std::string> sets;
  };
  auto a = std::make_shared<Args>();
  auto* show = config->add_subcommand("show", "Print the fully resolved recipe (with defaults) as TOML");
  show->add_option("recipe", a->recipe, "recipe file (.toml)")->required();
  show->add_option("--set", a->sets, "override a key: section.key=value (repeatable)");
  show->callback([a, &ctx] {
    rl::ResolvedRecipe r = rl::load_recipe(a->recipe, a->sets, /*require_paths=*/false);
    // Shown all the same; each missing input is said as `r1 train` would say it.
    for (const auto& m : r.missing_inputs) std::cerr << "r1: warning: " << m << "\n";
    if (ctx.json) std::cout << experiments::to_json(r.resolved) << "\n";
    else std::cout << "# resolved from " << a->recipe << "\n" << experiments::to_toml(r.resolved);
  });
}

}  // namespace r1::cli
