// `r1 train` (GRPO) and `r1 eval`: the run is created in the store first, then the loop runs;
// Ctrl-C checkpoints and marks it interrupted; any failure marks it failed.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/cli_common.h"
#include "cli/train_common.h"
#include "dist/launch_env.h"
#include "dist/process_group.h"
#include "text/value_binder.h"
#include "policy/checkpoint.h"
#include "policy/device.h"
#include "rl/evaluation.h"
#include "rl/lm_trainer.h"
#include "rl/policy_setup.h"
#include "rl/trainer.h"

namespace r1::cli {

std::string shared_dir() {
  const char* env = std::getenv("R1_SHARED");
  std::string dir = env && *env ? env : "../shared";
  return std::filesystem::exists(dir + "/datasets") ? dir : std::string();
}

rl::Recipe recipe_of_run(const experiments::RunInfo& run) {
  if (run.config_json.empty()) throw InputError("run " + std::to_string(run.id) + " has no recorded config to resume from");
  const std::string source = "run " + std::to_string(run.id) + " config";
  rl::Recipe r;
  text::bind_table(text::parse_json(run.config_json, source), "", r, source);
  return r;
}

experiments::NewRun new_run_of(const rl::ResolvedRecipe& r, const std::string& kind) {
  experiments::NewRun n;
  n.name = r.recipe.run.name;
  n.kind = kind;
  n.recipe_text = r.source_text;
  n.config_json = experiments::to_json(r.resolved);
  n.params = experiments::flatten(r.resolved);
  n.seed = r.recipe.run.seed;
  n.tags = r.recipe.run.tags;
  return n;
}

ProgressPrinter::ProgressPrinter(bool quiet, int64_t log_every) : quiet_(quiet), tty_(isatty(STDERR_FILENO) != 0), every_(log_every) {}

void ProgressPrinter::step(const rl::StepReport& r) {
  if (quiet_) return;
  auto get = [&](const char* k) {
    auto it = r.metrics.find(k);
    return it == r.metrics.end() ? NAN : it->second;
  };
  char line[256];
  if (r.metrics.count("loss") && !r.metrics.count("reward"))
    std::snprintf(line, sizeof line, "step %lld/%lld  loss %.4f  ppl %.3f  lr %.2e  tok/s %.0f  ETA %s", static_cast<long long>(r.step),
                  static_cast<long long>(r.total), get("loss"), get("ppl"), get("lr"), get("tokens_per_s/learner"),
                  format_duration_short(r.eta_s).c_str());
  else
  std::snprintf(line, sizeof line, "step %lld/%lld  reward %.3f  acc %.3f  kl %.4f  len %.0f  tok/s %.0f  ETA %s",
                static_cast<long long>(r.step), static_cast<long long>(r.total), get("reward"), get("accuracy"),
                std::isnan(get("kl")) ? 0.0 : get("kl"), get("completions/mean_length"), get("tokens_per_s/rollout"),
                format_duration_short(r.eta_s).c_str());
  if (tty_) {
    std::cerr << "\r\033[K" << line << std::flush;
    if (r.step == r.total) std::cerr << "\n";
  } else if (r.step % every_ == 0 || r.step == r.total) {
    std::cerr << line << "\n";
  }
}

void ProgressPrinter::message(const std::string& s) {
  if (quiet_) return;
  if (tty_) std::cerr << "\r\033[K";
  std::cerr << s << "\n";
}

rl::TrainEnv command_train_env(ProgressPrinter& progress) {
  rl::TrainEnv env;
  env.shared_dir = shared_dir();
  env.reward_isolate_host = {"/proc/self/exe", "__reward-host"};
  env.interrupted = &g_interrupted;
  env.on_step = [&progress](const rl::StepReport& r) { progress.step(r); };
  env.log = [&progress](const std::string& s) { progress.message(s); };
  return env;
}

TrainArgs& add_training_command(CLI::App& app, const char* name, const char* help, const char* recipe_help) {
  auto a = std::make_shared<TrainArgs>();
  auto* c = app.add_subcommand(name, help);
  c->add_option("recipe", a->recipe, recipe_help);
  c->add_option("--set", a->sets, "override a recipe key: section.key=value (repeatable)");
  c->add_option("--name", a->name, "run name (default: run.name or the recipe's file name)");
  c->add_option("--resume", a->resume, "continue this run from its last checkpoint");
  a->command = c;
  // CLI11 keeps the callback (and with it the arguments) alive as long as the app.
  c->callback([a] { a->run(); });
  return *a;
}

namespace {

struct TrainTarget {
  rl::Recipe recipe;
  int64_t run_id = 0;
  bool resume = false;
};

// The run to train: the one named by --resume (with its recorded recipe), or a new one created
// from the recipe file.
TrainTarget open_or_create_run(experiments::RunStore& store, const TrainArgs& a, const std::string& kind) {
  TrainTarget t;
  t.resume = !a.resume.empty();
  if (t.resume) {
    if (!a.recipe.empty() || !a.sets.empty())
      throw InputError(kind + " --resume: the run continues with its recorded recipe; drop the recipe and --set");
    auto run = store.find_run(a.resume);
    if (!run) throw InputError("no run '" + a.resume + "' in " + store.path());
    if (run->kind != kind) throw InputError("run " + std::to_string(run->id) + " is a " + run->kind + " run, not " + kind);
    t.recipe = recipe_of_run(*run);
    t.run_id = run->id;
    return t;
  }
  if (a.recipe.empty()) throw InputError(kind + ": pass a recipe, or --resume RUN");
  rl::ResolvedRecipe r = rl::load_recipe(a.recipe, a.sets);
  if (!a.name.empty()) {
    r.recipe.run.name = a.name;
    r.resolved = rl::resolve(r.recipe);
  }
  if (a.check) a.check(r.recipe);
  t.recipe = r.recipe;
  t.run_id = store.create_run(new_run_of(r, kind));
  return t;
}

// Rank 0, the writer, is gone: a surviving rank marks the run crashed when it reaches the same
// store file (one machine, or a shared file system), so it is not left `running`.
void mark_crashed_for_lost_writer(Context& ctx, int64_t run_id, const rl::TrainEnv& env) {
  try {
    auto store = ctx.open_store(/*read_only=*/false, /*create=*/false);
    if (store.get_run(run_id).status == experiments::to_string(experiments::RunStatus::running)) store.finish_run(run_id, experiments::RunStatus::crashed);
  } catch (const std::exception& e) {
    if (env.log) env.log("rank 0 is lost and its store cannot be updated from here (" + std::string(e.what()) + "): run " +
                         std::to_string(run_id) + " stays as it was; `r1 train --resume` continues it");
  }
}

// Runs `train` and records how it ended (rank 0, or the only process); a lost rank is `crashed`.
void train_and_finish(Context& ctx, experiments::RunStore& store, const TrainTarget& t, const rl::TrainEnv& env, const TrainFn& train,
                      bool writer) {
  rl::TrainResult res;
  try {
    res = train(t.recipe, t.run_id, store, env, t.resume);
  } catch (const dist::DistError&) {
    if (writer) store.finish_run(t.run_id, experiments::RunStatus::crashed);
    else if (env.group && env.group->blamed(0)) mark_crashed_for_lost_writer(ctx, t.run_id, env);
    throw;
  } catch (...) {
    if (writer) store.finish_run(t.run_id, experiments::RunStatus::failed);
    throw;
  }
  if (!writer) return;
  store.finish_run(t.run_id, res.status);
  if (ctx.json) std::cout << "{\"run\": " << t.run_id << ", \"status\": \"" << experiments::to_string(res.status) << "\", \"steps\": " << res.steps_done
                          << ", \"checkpoint\": \"" << res.last_checkpoint << "\"}\n";
  else std::cout << "run " << t.run_id << " " << experiments::to_string(res.status) << " after " << res.steps_done << " steps; last checkpoint "
                 << res.last_checkpoint << "\n";
  if (res.status == experiments::RunStatus::interrupted) std::exit(130);
}

// Several ranks (torchrun, srun): they meet first (the recipe's [dist] timeout), rank 0 creates or
// reopens the run and tells the others its id; they read the run's recorded recipe, so every rank
// trains exactly the same one.
void run_training_ranks(Context& ctx, const TrainArgs& a, const std::string& kind, const TrainFn& train, const dist::LaunchEnv& denv) {
  if (kind != "train") throw InputError(kind + ": runs in one process; several ranks (" + denv.describe() + ") are for r1 train");
  rl::Recipe pre;
  if (!a.resume.empty()) {
    auto store = ctx.open_store(/*read_only=*/true, /*create=*/false);
    auto run = store.find_run(a.resume);
    if (!run) throw InputError("no run '" + a.resume + "' in " + store.path());
    pre = recipe_of_run(*run);
  } else if (!a.recipe.empty()) {
    pre = rl::load_recipe(a.recipe, a.sets).recipe;
  }
  dist::DistOptions opt;
  opt.timeout_s = pre.dist.timeout_s;
  std::unique_ptr<dist::ProcessGroup> group;
  try {
    opt.backend = dist::resolve_backend(pre.dist.backend, policy::pick_device(std::string(text::enum_to_name(pre.run.device))));
    group = std::make_unique<dist::ProcessGroup>(denv, opt);
  } catch (const dist::DistError& e) {
    throw InputError(e.what());
  }
  const bool writer = group->rank() == 0;
  std::optional<experiments::RunStore> store;
  TrainTarget t;
  if (writer) {
    store.emplace(ctx.open_store());
    t = open_or_create_run(*store, a, kind);
  }
  t.run_id = static_cast<int64_t>(group->all_reduce({static_cast<double>(t.run_id)}, dist::ReduceOp::max)[0]);
  if (!writer) {
    store.emplace(ctx.open_store(/*read_only=*/true, /*create=*/false));
    t.recipe = recipe_of_run(store->get_run(t.run_id));
    t.resume = !a.resume.empty();
  }
  install_interrupt_handler();
  ProgressPrinter progress(ctx.quiet || !writer, t.recipe.run.log_every);
  rl::TrainEnv env = command_train_env(progress);
  const std::string prefix = "[rank " + std::to_string(group->rank()) + "] ";
  env.log = [prefix, quiet = ctx.quiet](const std::string& s) {
    if (!quiet) std::cerr << prefix << s << "\n";
  };
  env.group = group.get();
  if (!ctx.quiet) std::cerr << prefix << (t.resume ? "resuming" : "starting") << " " << kind << " run " << t.run_id << " as " << denv.describe() << " over "
                                << text::enum_to_name(group->backend()) << " on " << group->device().str() << "\n";
  train_and_finish(ctx, *store, t, env, train, writer);
}

}  // namespace

void run_training(Context& ctx, const TrainArgs& a, const std::string& kind, const TrainFn& train) {
  dist::LaunchEnv denv;
  try {
    denv = dist::read_launch_env();
  } catch (const dist::DistError& e) {
    throw InputError(e.what());
  }
  if (denv.distributed()) return run_training_ranks(ctx, a, kind, train, denv);
  auto store = ctx.open_store();
  TrainTarget t = open_or_create_run(store, a, kind);
  install_interrupt_handler();
  ProgressPrinter progress(ctx.quiet, t.recipe.run.log_every);
  const rl::TrainEnv env = command_train_env(progress);
  if (!ctx.quiet) std::cerr << (t.resume ? "resuming" : "starting") << " " << kind << " run " << t.run_id << " (" << t.recipe.run.name << ") in " << store.path() << "\n";
  train_and_finish(ctx, store, t, env, train, /*writer=*/true);
}

void add_train_command(CLI::App& app, Context& ctx) {
  TrainArgs& a = add_training_command(app, "train", "GRPO training from a recipe, recorded in the run store (resume with --resume RUN)", "recipe (.toml)");
  a.check = [](const rl::Recipe& r) {
    if (r.distill.mode == rl::DistillMode::on_policy && !r.distill.teacher.empty())
      throw InputError("train: this recipe distils from a teacher (distill.mode = \"on_policy\"): run it with r1 distill");
  };
  a.run = [&ctx, &a] { run_training(ctx, a, "train", rl::train_grpo); };
}

void add_distill_command(CLI::App& app, Context& ctx) {
  TrainArgs& a = add_training_command(app, "distill",
                                      "Distil a teacher into the recipe's [model]: distill.mode = sft (on teacher samples) | on_policy (reverse KL on the student's samples)",
                                      "recipe (.toml) with [model] (the student) and [distill]");
  a.run = [&ctx, &a] {
    run_training(ctx, a, "distill", [](const rl::Recipe& r, int64_t run, experiments::RunStore& store, const rl::TrainEnv& env, bool resume) {
      if (r.distill.mode == rl::DistillMode::on_policy) return rl::train_grpo(r, run, store, env, resume);
      return rl::train_lm(r, rl::LmMode::sft, run, store, env, resume);
    });
  };
}

void add_eval_command(CLI::App& app, Context& ctx) {
  struct Args {
    std::string model, tokenizer, dataset, path, run, template_name = "r1-zero", device = "auto";
    int64_t k = 4, limit = 0, max_new_tokens = 256, step = 0, difficulty = 2, batch = 256;
    double temperature = 0.6, top_p = 0.95;
    uint64_t seed = 1;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("eval", "Evaluate a model: pass@1 (mean over k), pass@k, maj@k, format rate; recorded in the evals table");
  c->add_option("--model", a->model, "model folder")->required();
  c->add_option("--tokenizer", a->tokenizer, "tokenizer folder (default: the model folder)");
  c->add_option("--dataset", a->dataset, "data set name (gsm8k, math500, aime2024, countdown, arithmetic, jsonl, ...)")->required();
  c->add_option("--path", a->path, "data file (for jsonl, or to override a named set)");
  c->add_option("--k", a->k, "samples per problem")->check(CLI::PositiveNumber);
  c->add_option("--temperature", a->temperature, "sampling temperature")->check(CLI::Range(0.0, 100.0));
  c->add_option("--top-p", a->top_p, "nucleus mass")->check(CLI::Range(0.0, 1.0));
  c->add_option("--limit", a->limit, "problems evaluated; 0 = all");
  c->add_option("--max-new-tokens", a->max_new_tokens, "completion cap")->check(CLI::PositiveNumber);
  c->add_option("--template", a->template_name, "r1-zero | chat (with R1's system instruction) | chat-plain | none | a string with {question}");
  c->add_option("--difficulty", a->difficulty, "generators: digits / numbers");
  c->add_option("--run", a->run, "record into this run (default: a new eval run)");
  c->add_option("--step", a->step, "step the evaluation belongs to");
  c->add_option("--seed", a->seed, "sampling seed");
  c->add_option("--batch", a->batch, "sequences decoded together")->check(CLI::PositiveNumber);
  c->add_option("--device", a->device, "auto | cpu | cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  c->callback([a, &ctx] {
    datasets::DataConfig dc;
    dc.dataset = a->dataset;
    dc.path = a->path;
    dc.split = "test";
    dc.difficulty = a->difficulty;
    dc.generated = a->limit > 0 ? a->limit : 500;
    auto tasks = datasets::load_tasks(dc, shared_dir(), a->seed + 1000);
    if (a->limit > 0 && static_cast<int64_t>(tasks.size()) > a->limit) tasks.resize(a->limit);
    policy::PolicyConfig pc;
    pc.path = a->model;
    pc.tokenizer = a->tokenizer;
    rl::SamplingModel sm(pc, a->template_name, a->seed, policy::pick_device(a->device), a->batch);
    rl::EvalOptions eo;
    eo.k = a->k;
    eo.temperature = a->temperature;
    eo.top_p = a->top_p;
    eo.max_new_tokens = a->max_new_tokens;
    eo.seed = a->seed;
    auto r = rl::evaluate(sm.engine, tasks, sm.format, eo);
    auto store = ctx.open_store();
    int64_t run_id;
    if (!a->run.empty()) {
      auto run = store.find_run(a->run);
      if (!run) throw InputError("no run '" + a->run + "' in " + store.path());
      run_id = run->id;
    } else {
      experiments::NewRun n;
      n.name = "eval-" + std::filesystem::path(a->model).filename().string();
      n.kind = "eval";
      n.params = {{"eval.model", a->model}, {"eval.dataset", a->dataset}, {"eval.k", std::to_string(a->k)},
                  {"eval.temperature", std::to_string(a->temperature)}, {"eval.top_p", std::to_string(a->top_p)}};
      run_id = store.create_run(n);
    }
    experiments::ResultSet rs;
    rs.columns = {"metric", "value"};
    for (const auto& [k, v] : r.metrics()) {
      std::string key = k == "pass@k" ? "pass@" + std::to_string(a->k) : k == "maj@k" ? "maj@" + std::to_string(a->k) : k;
      store.add_eval(run_id, {a->step, a->dataset, key, v, r.problems});
      rs.rows.push_back({key, v});
    }
    store.flush();
    if (a->run.empty()) store.finish_run(run_id, experiments::RunStatus::finished);
    rs.rows.push_back({std::string("problems"), static_cast<int64_t>(r.problems)});
    print_table(rs, ctx.json);
  });
}

}  // namespace r1::cli
