// Recipe files: `include = ["base.toml"]` (paths relative to the including file, applied in order,
// then overridden by the including file) and `--set section.key=value` overrides.
#pragma once

#include <string>
#include <vector>

#include "experiments/config_tree.h"

namespace r1::experiments {

struct RecipeSource {
  Value tree;                       // merged tree, before binding
  std::string text;                 // the main file's text, as written
  std::vector<std::string> files;   // every file read, main file last
};

// Reads `path` with its includes (cycles and missing files are errors naming the including line)
// and applies each `--set` assignment ("rl.lr=1e-5", "rewards.0.weight=2").
RecipeSource load_recipe(const std::string& path, const std::vector<std::string>& sets);

// Applies one "dotted.key=value" assignment; the value is TOML (`0.2`, `true`, `"a"`, `[1,2]`) or a bare string.
void apply_set(Value& root, const std::string& assignment);

}  // namespace r1::experiments
