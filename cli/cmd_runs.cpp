// `r1 runs create|log|tag|note|rm`: writing into the store from the command line, so external
// scripts and evaluation jobs record into the same database as training runs.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <iostream>

#include "cli/cli_common.h"
#include "cli/run_views.h"
#include "experiments/config_tree.h"
#include "rl/recipe.h"

namespace r1::cli {

void add_runs_view_commands(CLI::App& runs, Context& ctx);
void add_plot_command(CLI::App& runs, Context& ctx);

namespace {

void add_create(CLI::App& runs, Context& ctx) {
  struct Args {
    std::string name, recipe, kind = "external", notes;
    std::vector<std::string> tags, sets;
  };
  auto a = std::make_shared<Args>();
  auto* c = runs.add_subcommand("create", "Create a run and print its id (for external scripts and evaluation jobs)");
  c->add_option("--name", a->name, "run name")->required();
  c->add_option("--recipe", a->recipe, "recipe whose resolved config is recorded with the run")->check(CLI::ExistingFile);
  c->add_option("--set", a->sets, "override a recipe key: section.key=value (repeatable)");
  c->add_option("--tag", a->tags, "tag (repeatable)");
  c->add_option("--kind", a->kind, "run kind (train, eval, external, ...)");
  c->add_option("--notes", a->notes, "free-text notes");
  c->callback([a, &ctx] {
    experiments::NewRun run;
    run.name = a->name;
    run.kind = a->kind;
    run.tags = a->tags;
    run.notes = a->notes;
    if (!a->recipe.empty()) {
      rl::ResolvedRecipe r = rl::load_recipe(a->recipe, a->sets);
      run.recipe_text = r.source_text;
      run.config_json = experiments::to_json(r.resolved);
      run.params = experiments::flatten(r.resolved);
      run.seed = r.recipe.run.seed;
      for (const auto& t : r.recipe.run.tags) run.tags.push_back(t);
    } else if (!a->sets.empty()) {
      throw InputError("--set needs --recipe");
    }
    auto store = ctx.open_store();
    int64_t id = store.create_run(run);
    // An external run has no process that stays alive: it is "finished" unless the caller logs
    // into it later; marking it running would let the next open call it crashed.
    if (run.kind == "external") store.finish_run(id, experiments::RunStatus::finished);
    if (ctx.json) std::cout << "{\"id\": " << id << "}\n";
    else std::cout << id << "\n";
  });
}

void add_log(CLI::App& runs, Context& ctx) {
  struct Args {
    std::string run;
    int64_t step = -1;
    std::vector<std::string> values;
  };
  auto a = std::make_shared<Args>();
  auto* c = runs.add_subcommand("log", "Append metrics to a run: r1 runs log RUN --step N key=value ...");
  c->add_option("run", a->run, "run id or name")->required();
  c->add_option("--step", a->step, "step the values belong to")->required()->check(CLI::NonNegativeNumber);
  c->add_option("values", a->values, "key=value pairs")->required();
  c->callback([a, &ctx] {
    std::vector<std::pair<std::string, double>> kv;
    for (const auto& s : a->values) {
      size_t eq = s.find('=');
      if (eq == std::string::npos || eq == 0) throw InputError("metric '" + s + "': expected key=value");
      std::string v = s.substr(eq + 1);
      char* end = nullptr;
      double d = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0') throw InputError("metric '" + s + "': value '" + v + "' is not a number");
      kv.emplace_back(s.substr(0, eq), d);
    }
    auto store = ctx.open_store(false, false);
    auto run = resolve_run(store, a->run);
    store.log_metrics(run.id, a->step, kv);
    store.flush();
    if (!ctx.quiet) std::cerr << "logged " << kv.size() << " value(s) at step " << a->step << " of run " << run.id << "\n";
  });
}

void add_tag(CLI::App& runs, Context& ctx) {
  struct Args {
    std::string run;
    std::vector<std::string> tags;
    bool remove = false;
  };
  auto a = std::make_shared<Args>();
  auto* c = runs.add_subcommand("tag", "Add (or --remove) tags of a run");
  c->add_option("run", a->run, "run id or name")->required();
  c->add_option("tags", a->tags, "tags")->required();
  c->add_flag("--remove", a->remove, "remove the tags instead");
  c->callback([a, &ctx] {
    auto store = ctx.open_store(false, false);
    auto run = resolve_run(store, a->run);
    if (a->remove) store.remove_tags(run.id, a->tags);
    else store.add_tags(run.id, a->tags);
  });
}

void add_note(CLI::App& runs, Context& ctx) {
  struct Args {
    std::string run, text;
    bool append = false;
  };
  auto a = std::make_shared<Args>();
  auto* c = runs.add_subcommand("note", "Set (or --append to) the notes of a run");
  c->add_option("run", a->run, "run id or name")->required();
  c->add_option("text", a->text, "notes")->required();
  c->add_flag("--append", a->append, "append a line instead of replacing");
  c->callback([a, &ctx] {
    auto store = ctx.open_store(false, false);
    auto run = resolve_run(store, a->run);
    std::string notes = a->append && !run.notes.empty() ? run.notes + "\n" + a->text : a->text;
    store.set_notes(run.id, notes);
  });
}

void add_rm(CLI::App& runs, Context& ctx) {
  struct Args {
    std::vector<std::string> runs;
    bool yes = false;
  };
  auto a = std::make_shared<Args>();
  auto* c = runs.add_subcommand("rm", "Delete runs and everything recorded for them (asks unless --yes)");
  c->add_option("runs", a->runs, "run ids or names")->required();
  c->add_flag("--yes,-y", a->yes, "do not ask");
  c->callback([a, &ctx] {
    auto store = ctx.open_store(false, false);
    std::vector<experiments::RunInfo> targets;
    for (const auto& r : a->runs) targets.push_back(resolve_run(store, r));
    if (!a->yes) {
      if (!isatty(STDIN_FILENO)) throw InputError("runs rm: refusing to delete without confirmation; pass --yes");
      std::cerr << "Delete " << targets.size() << " run(s):";
      for (const auto& t : targets) std::cerr << " " << t.id << " (" << t.name << ")";
      std::cerr << "? [y/N] " << std::flush;
      std::string answer;
      std::getline(std::cin, answer);
      if (answer != "y" && answer != "Y" && answer != "yes") {
        std::cerr << "nothing deleted\n";
        return;
      }
    }
    for (const auto& t : targets) store.delete_run(t.id);
    if (!ctx.quiet) std::cerr << "deleted " << targets.size() << " run(s)\n";
  });
}

}  // namespace

void add_runs_commands(CLI::App& app, Context& ctx) {
  auto* runs = app.add_subcommand("runs", "Create, inspect and compare runs in the store");
  runs->require_subcommand(1);
  add_create(*runs, ctx);
  add_log(*runs, ctx);
  add_runs_view_commands(*runs, ctx);
  add_plot_command(*runs, ctx);
  add_lineage_command(*runs, ctx);
  add_tag(*runs, ctx);
  add_note(*runs, ctx);
  add_rm(*runs, ctx);
}

}  // namespace r1::cli
