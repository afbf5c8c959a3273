// Shared by every `r1` subcommand: global options, the error classes that map to exit codes, and
// output helpers (aligned tables or JSON). Subcommand files register themselves with add_*().
#pragma once

#include <CLI/CLI.hpp>

#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "experiments/run_store.h"

namespace r1::cli {

// Exit code 2: the user's input (usage, config, data) is wrong. Exit code 1: the job failed.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class JobError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Context {
  std::string db_path;  // --db, R1_DB, or runs/r1.db
  bool quiet = false;
  bool json = false;
  experiments::RunStore open_store(bool read_only = false, bool create = true) const;
};

// Set by SIGINT/SIGTERM; long jobs poll it, checkpoint and mark their run interrupted.
extern std::atomic<bool> g_interrupted;
void install_interrupt_handler();

// Output.
void print_table(const experiments::ResultSet& rs, bool json);
std::string sparkline(const std::vector<double>& values, size_t width = 24);
std::string format_number(double v);
std::string format_time(double unix_seconds);
std::string format_duration_short(double seconds);
bool stdout_is_terminal();

// The folder of r1's own assets (recipes/, with models/ and tokenizers/): $R1_ASSETS, else
// <prefix>/share/r1forge beside an installed binary, else the source tree the binary was built
// from. Throws InputError naming the places tried.
std::string asset_dir();

// Each command file adds its subcommands.
void add_runs_commands(CLI::App& app, Context& ctx);
void add_sql_command(CLI::App& app, Context& ctx);
void add_config_commands(CLI::App& app, Context& ctx);
void add_model_commands(CLI::App& app, Context& ctx);  // model, tokenizer, tokenize
void add_generate_command(CLI::App& app, Context& ctx);
void add_verify_commands(CLI::App& app, Context& ctx);
void add_reward_commands(CLI::App& app, Context& ctx);
void add_train_command(CLI::App& app, Context& ctx);
void add_distill_command(CLI::App& app, Context& ctx);
void add_eval_command(CLI::App& app, Context& ctx);
void add_sample_command(CLI::App& app, Context& ctx);
void add_pipeline_command(CLI::App& app, Context& ctx);
void add_lm_commands(CLI::App& app, Context& ctx);  // pretrain, sft, data corpus
void add_demo_command(CLI::App& app, Context& ctx);
void add_sandbox_commands(CLI::App& app, Context& ctx);
void add_serve_command(CLI::App& app, Context& ctx);
void add_launch_command(CLI::App& app, Context& ctx);
void add_rollout_commands(CLI::App& app, Context& ctx);  // rollout worker
void add_completion_command(CLI::App& app);  // last: it describes every command added before it

}  // namespace r1::cli
