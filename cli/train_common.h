// Pieces shared by the training commands (train, pretrain, sft, demo).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "rl/recipe.h"
#include "rl/trainer.h"

namespace r1::cli {

std::string shared_dir();  // $R1_SHARED or ../shared when it exists, else ""
rl::Recipe recipe_of_run(const experiments::RunInfo& run);
experiments::NewRun new_run_of(const rl::ResolvedRecipe& r, const std::string& kind);

// The arguments of a training command (train, pretrain, sft, distill) and what it runs.
struct TrainArgs {
  std::string recipe, name, resume;
  std::vector<std::string> sets;
  CLI::App* command = nullptr;
  std::function<void(const rl::Recipe&)> check;  // refuses a new run's recipe (InputError)
  std::function<void()> run;
};
using TrainFn = std::function<rl::TrainResult(const rl::Recipe&, int64_t run_id, experiments::RunStore&, const rl::TrainEnv&, bool resume)>;
// Adds the subcommand with its recipe, --set, --name and --resume; the caller sets `run`.
TrainArgs& add_training_command(CLI::App& app, const char* name, const char* help, const char* recipe_help);
// Creates the run (or finds the one to resume), runs `train`, records how it ended; exit 130 when interrupted.
void run_training(Context& ctx, const TrainArgs& a, const std::string& kind, const TrainFn& train);

class ProgressPrinter;
// What a trainer run from the command line gets: shared data, the reward host, Ctrl-C, progress.
rl::TrainEnv command_train_env(ProgressPrinter& progress);

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
