// `r1 pretrain`, `r1 sft` and `r1 data corpus` (the demo base model's generated text).
#include <iostream>

#include "cli/cli_common.h"
#include "cli/json_lines.h"
#include "cli/train_common.h"
#include "datasets/corpus.h"
#include "text/chat_template.h"
#include "rl/lm_trainer.h"

namespace r1::cli {

namespace {

void add_lm_command(CLI::App& app, Context& ctx, const char* name, rl::LmMode mode, const char* help) {
  struct Args {
    std::string recipe, name, resume;
    std::vector<std::string> sets;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand(name, help);
  c->add_option("recipe", a->recipe, "recipe (.toml) with [model] and [lm]");
  c->add_option("--set", a->sets, "override a recipe key (repeatable)");
  c->add_option("--name", a->name, "run name");
  c->add_option("--resume", a->resume, "continue this run from its last checkpoint");
  const std::string kind = name;
  c->callback([a, &ctx, mode, kind] {
    auto store = ctx.open_store();
    rl::Recipe recipe;
    int64_t run_id = 0;
    bool resume = !a->resume.empty();
    if (resume) {
      auto run = store.find_run(a->resume);
      if (!run) throw InputError("no run '" + a->resume + "' in " + store.path());
      if (run->kind != kind) throw InputError("run " + std::to_string(run->id) + " is a " + run->kind + " run, not " + kind);
      recipe = recipe_of_run(*run);
      run_id = run->id;
    } else {
      if (a->recipe.empty()) throw InputError(kind + ": pass a recipe, or --resume RUN");
      rl::ResolvedRecipe r = rl::load_recipe(a->recipe, a->sets);
      if (!a->name.empty()) {
        r.recipe.run.name = a->name;
        r.resolved = rl::resolve(r.recipe);
      }
      recipe = r.recipe;
      run_id = store.create_run(new_run_of(r, kind));
    }
    install_interrupt_handler();
    ProgressPrinter progress(ctx.quiet, recipe.run.log_every);
    rl::TrainEnv env;
    env.shared_dir = shared_dir();
    env.interrupted = &g_interrupted;
    env.on_step = [&](const rl::StepReport& r) { progress.step(r); };
    env.log = [&](const std::string& s) { progress.message(s); };
    rl::TrainResult res;
    try {
      res = rl::train_lm(recipe, mode, run_id, store, env, resume);
    } catch (...) {
      store.finish_run(run_id, experiments::RunStatus::failed);
      throw;
    }
    store.finish_run(run_id, res.status);
    if (ctx.json) std::cout << "{\"run\": " << run_id << ", \"status\": \"" << experiments::to_string(res.status) << "\", \"checkpoint\": \""
                            << res.last_checkpoint << "\"}\n";
    else std::cout << "run " << run_id << " " << experiments::to_string(res.status) << " after " << res.steps_done << " steps; last checkpoint "
                   << res.last_checkpoint << "\n";
    if (res.status == experiments::RunStatus::interrupted) std::exit(130);
  });
}

}  // namespace

std::string apply_template(const std::string& tmpl, const std::string& question) {
  if (tmpl == "r1-zero") return text::r1_zero_prompt(question);
  if (tmpl == "none") return question;
  std::string out = tmpl;
  size_t at = out.find("{question}");
  if (at == std::string::npos) throw InputError("--template: expected r1-zero, none, or a string containing {question}");
  return out.replace(at, 10, question);
}

void write_corpus(const std::string& task, int64_t count, int64_t difficulty, double error_share, double habit_share,
                  double format_share, uint64_t seed, const std::string& tmpl, const std::string& out_path) {
  datasets::GeneratorOptions g{count, difficulty, seed};
  auto tasks = task == "countdown" ? datasets::generate_countdown(g) : datasets::generate_arithmetic(g);
  auto sols = datasets::worked_solutions(tasks, {error_share, habit_share, format_share, seed});
  LineWriter out(out_path);
  for (size_t i = 0; i < tasks.size(); ++i)
    out.write(Json{{"text", apply_template(tmpl, tasks[i].question) + sols[i].completion},
                   {"id", tasks[i].id},
                   {"correct", sols[i].correct},
                   {"r1_format", sols[i].r1_format}});
  out.close();
}

void add_lm_commands(CLI::App& app, Context& ctx) {
  add_lm_command(app, ctx, "pretrain", rl::LmMode::pretrain, "Next-token pretraining on a text corpus (packed), recorded in the run store");
  add_lm_command(app, ctx, "sft", rl::LmMode::sft, "Supervised fine-tuning on {\"messages\"} JSON Lines, loss on assistant tokens only");

  auto* data = app.add_subcommand("data", "Generate data");
  data->require_subcommand(1);
  struct Args {
    std::string task = "arithmetic", out, template_name = "r1-zero";
    int64_t count = 10000, difficulty = 3;
    double error_share = 0.15, habit_share = 0.6, format_share = 0.7;
    uint64_t seed = 1;
  };
  auto a = std::make_shared<Args>();
  auto* corpus = data->add_subcommand("corpus", "Worked solutions in R1's format (deliberately imperfect) as {\"text\"} JSON Lines");
  corpus->add_option("--task", a->task, "arithmetic | countdown")->check(CLI::IsMember({"arithmetic", "countdown"}));
  corpus->add_option("--count", a->count, "problems")->check(CLI::PositiveNumber);
  corpus->add_option("--difficulty", a->difficulty, "digits (arithmetic) or numbers (countdown)")->check(CLI::Range(1, 9));
  corpus->add_option("--error-share", a->error_share, "share of solutions with a one-off slip")->check(CLI::Range(0.0, 1.0));
  corpus->add_option("--habit-share", a->habit_share, "share of solutions that forget every carry")->check(CLI::Range(0.0, 1.0));
  corpus->add_option("--format-share", a->format_share, "share of solutions in R1's format")->check(CLI::Range(0.0, 1.0));
  corpus->add_option("--seed", a->seed, "generator seed");
  corpus->add_option("--template", a->template_name, "prompt before each solution: r1-zero | none | a string with {question}");
  corpus->add_option("--out,-o", a->out, "output file (default: standard output)");
  corpus->callback([a] { write_corpus(a->task, a->count, a->difficulty, a->error_share, a->habit_share, a->format_share, a->seed, a->template_name, a->out); });
}

}  // namespace r1::cli
