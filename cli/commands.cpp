// Which subcommands exist, and how library errors map to exit codes.
#include "cli/commands.h"

#include "experiments/config_tree.h"
#include "datasets/task.h"
#include "text/json_value.h"
#include "rewards/reward.h"

namespace r1::cli {

void register_all_commands(CLI::App& app, Context& ctx) {
  add_runs_commands(app, ctx);
  add_sql_command(app, ctx);
  add_config_commands(app, ctx);
  add_model_commands(app, ctx);
  add_generate_command(app, ctx);
  add_verify_commands(app, ctx);
  add_sandbox_commands(app, ctx);
  add_reward_commands(app, ctx);
  add_train_command(app, ctx);
  add_distill_command(app, ctx);
  add_eval_command(app, ctx);
  add_sample_command(app, ctx);
  add_pipeline_command(app, ctx);
  add_lm_commands(app, ctx);
  add_demo_command(app, ctx);
  add_serve_command(app, ctx);
  add_launch_command(app, ctx);
  add_rollout_commands(app, ctx);
  add_completion_command(app);
}

std::string parse_error_message(CLI::App& app, int argc, char** argv, const CLI::ParseError& e) {
  // The first word that is neither an option nor an option's value names the command.
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--db") {
      ++i;
      continue;
    }
    if (!a.empty() && a[0] == '-') continue;
    bool known = false;
    for (const auto* sub : app.get_subcommands({})) known = known || sub->get_name() == a;
    if (!known) return "unknown command '" + a + "'";
    break;
  }
  return e.what();
}

int exit_code_for(const std::exception& e) {
  if (dynamic_cast<const experiments::ExperimentsError*>(&e)) return 2;
  if (dynamic_cast<const text::TextError*>(&e)) return 2;  // also policy::PolicyError (the same type)
  if (dynamic_cast<const rewards::RewardError*>(&e)) return 2;
  if (dynamic_cast<const datasets::DataError*>(&e)) return 2;
  return 1;
}

}  // namespace r1::cli
