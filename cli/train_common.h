// Pieces shared by the training commands (train, pretrain, sft, demo).
#pragma once

#include <string>

#include "cli/cli_common.h"
#include "rl/recipe.h"
#include "rl/trainer.h"

namespace r1::cli {

std::string shared_dir();  // $R1_SHARED or ../shared when it exists, else ""
rl::Recipe recipe_of_run(const experiments::RunInfo& run);
experiments::NewRun new_run_of(const rl::ResolvedRecipe& r, const std::string& kind);

// The live progress line on a terminal; plain log lines otherwise.
class ProgressPrinter {
 public:
  ProgressPrinter(bool quiet, int64_t log_every);
  void step(const rl::StepReport& r);
  void message(const std::string& s);

 private:
  bool quiet_, tty_;
  int64_t every_;
};

}  // namespace r1::cli
