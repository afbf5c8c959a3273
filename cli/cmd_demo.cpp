// `r1 demo`: R1-Zero on a laptop. Generates 2-digit addition problems and holds 300 out; writes a
// deliberately imperfect worked-solution corpus from the rest; trains a BPE tokenizer; pretrains a
// tiny DeepSeek-V3-style base (or reuses one already in the store); evaluates it on held-out
// problems; runs GRPO with accuracy + format rewards; evaluates again; prints before/after.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/cli_common.h"
#include "cli/demo_r1.h"
#include "cli/json_lines.h"
#include "cli/task_files.h"
#include "cli/train_common.h"
#include "datasets/corpus.h"
#include "experiments/config_tree.h"
#include "text/bpe_trainer.h"
#include "policy/device.h"
#include "rl/evaluation.h"
#include "rl/lm_trainer.h"
#include "rl/policy_setup.h"

namespace fs = std::filesystem;

namespace r1::cli {

namespace {

double now_s() { return experiments::unix_now(); }

void write_tasks(const std::string& path, const std::vector<datasets::Task>& tasks) {
  LineWriter w(path);
  for (const auto& t : tasks) w.write(Json{{"id", t.id}, {"question", t.question}, {"answer", t.answer}, {"metadata", Json::parse(t.metadata_json)}});
  w.close();
}

// A finished run of `kind` with exactly this resolved config and a checkpoint on disk.
std::optional<std::pair<int64_t, std::string>> reusable(experiments::RunStore& store, const std::string& kind, const std::string& config_json) {
  experiments::RunFilter f;
  f.kind = kind;
  f.status = "finished";
  auto runs = store.list_runs(f);
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
    if (it->config_json != config_json) continue;
    auto ck = store.checkpoints(it->id);
    if (!ck.empty() && fs::exists(ck.back().path + "/model.safetensors")) return std::make_pair(it->id, ck.back().path);
  }
  return std::nullopt;
}

Json metrics_json(const rl::EvalResult& r, int64_t k) {
  return Json{{"pass@1", r.pass1}, {"pass@" + std::to_string(k), r.pass_k}, {"maj@" + std::to_string(k), r.maj_k},
              {"format", r.format_rate}, {"mean_length", r.mean_length}, {"problems", r.problems}};
}

}  // namespace

void add_demo_command(CLI::App& app, Context& ctx) {
  struct Args {
    int64_t seed = 1;
    std::string dir = "runs/demo";
    std::string recipes;  // "" = the installed or built-in demo recipes (asset_dir())
    bool fresh = false;
    int64_t pretrain_steps = 0, grpo_steps = 0;  // 0 = the recipes' own
    bool r1 = false;
    std::vector<std::string> sets;
    int64_t eval_limit = 200;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("demo", "R1-Zero on a laptop: pretrain a tiny V3-style base, then watch GRPO teach it (CPU, minutes)");
  c->add_option("--seed", a->seed, "seed of everything (data, initialisation, sampling)");
  c->add_option("--dir", a->dir, "where the demo writes its data, tokenizer and checkpoints");
  c->add_option("--recipes", a->recipes, "folder holding demo-base.toml and demo-r1-zero.toml; default: r1's own (below)");
  // Looked up when help is shown, not each time r1 starts.
  c->footer([] {
    try {
      return "r1's own demo recipes: " + asset_dir() + "/recipes";
    } catch (const InputError&) {
      return std::string("r1's own demo recipes: not found (set R1_ASSETS or pass --recipes)");
    }
  });
  c->add_flag("--fresh", a->fresh, "pretrain a new base even if the store has one");
  c->add_option("--pretrain-steps", a->pretrain_steps, "base pretraining steps (default: demo-base.toml's 1200)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  c->add_option("--grpo-steps", a->grpo_steps, "GRPO steps (default: demo-r1-zero.toml's 200)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  c->add_flag("--r1", a->r1,
              "R1's whole chain instead (experiments/pipelines/r1.toml): R1-Zero, cold start, reasoning RL, rejection sampling, "
              "SFT, RL on math and code, distillation into a smaller student vs the student's own RL (CPU: ~33 min fresh, ~12 min once its two bases are stored; default --dir runs/demo-r1)");
  c->add_option("--set", a->sets, "with --r1: override a pipeline key, stage.NAME.section.key=value (repeatable)");
  c->add_option("--eval-limit", a->eval_limit, "with --r1: held-out problems per set (300 sums, 100 functions)")->check(CLI::PositiveNumber);
  c->callback([a, c, &ctx] {
    if (!a->r1 && (!a->sets.empty() || c->count("--eval-limit"))) throw InputError("--set and --eval-limit go with --r1");
    if (a->r1) {
      for (const char* only_zero : {"--recipes", "--fresh", "--pretrain-steps", "--grpo-steps"})
        if (c->count(only_zero))
          throw InputError(std::string(only_zero) + " is for the R1-Zero demo; with --r1 set stage keys instead, e.g. --set stage.base.run.steps=300");
      DemoR1Options o;
      o.seed = a->seed;
      if (c->count("--dir")) o.dir = a->dir;
      o.sets = a->sets;
      o.eval_limit = a->eval_limit;
      return run_r1_demo(ctx, o);
    }
    const double t_all = now_s();
    const std::string recipes = a->recipes.empty() ? asset_dir() + "/recipes" : a->recipes;
    std::map<std::string, double> wall;
    auto say = [&](const std::string& s) {
      if (!ctx.quiet && !ctx.json) std::cerr << s << "\n";
    };
    const std::string seed_s = std::to_string(a->seed);
    const std::string dir = a->dir + "-s" + seed_s;
    fs::create_directories(dir);
    std::vector<std::string> common = {"run.seed=" + seed_s, "model.tokenizer=" + dir + "/tokenizer", "run.out_dir=" + dir,
                                       "lm.corpus=[\"" + dir + "/corpus.jsonl\"]"};
    auto base_sets = common;
    base_sets.push_back("run.name=demo-base-s" + seed_s);
    if (a->pretrain_steps > 0) base_sets.push_back("run.steps=" + std::to_string(a->pretrain_steps));
    // Its corpus and tokenizer are made below, before it trains.
    rl::ResolvedRecipe base = rl::load_recipe(recipes + "/demo-base.toml", base_sets, /*require_paths=*/false);
    const std::string tmpl = base.recipe.data.template_name;

    // 1. Problems: every 2-digit sum, 300 held out before anything trains on them.
    double t0 = now_s();
    datasets::GeneratorOptions g{8100, 2, static_cast<uint64_t>(a->seed)};
    auto all = datasets::generate_arithmetic(g);
    datasets::shuffle_tasks(all, static_cast<uint64_t>(a->seed) + 101);
    std::vector<datasets::Task> heldout(all.begin(), all.begin() + 300), train(all.begin() + 300, all.end());
    write_tasks(dir + "/heldout.jsonl", heldout);
    write_tasks(dir + "/train.jsonl", train);
    // 2. The base model's corpus: worked solutions of training problems only.
    {
      std::vector<datasets::Task> picks;
      for (int64_t i = 0; i < 30000; ++i) picks.push_back(train[static_cast<size_t>(i) % train.size()]);
      datasets::shuffle_tasks(picks, static_cast<uint64_t>(a->seed) + 202);
      datasets::CorpusOptions co;
      co.seed = static_cast<uint64_t>(a->seed);
      auto sols = datasets::worked_solutions(picks, co);
      LineWriter w(dir + "/corpus.jsonl");
      for (size_t i = 0; i < picks.size(); ++i) w.write(Json{{"text", apply_template(tmpl, picks[i].question) + sols[i].completion}});
      w.close();
      std::vector<std::string> texts;
      for (size_t i = 0; i < picks.size(); ++i) texts.push_back(apply_template(tmpl, picks[i].question) + sols[i].completion);
      text::BpeTrainOptions to;
      to.vocab_size = 512;
      text::train_bpe(texts, to, dir + "/tokenizer");
    }
    wall["data"] = now_s() - t0;
    say("data: " + std::to_string(train.size()) + " training problems, " + std::to_string(heldout.size()) +
        " held out; corpus and tokenizer in " + dir);

    auto store = ctx.open_store();
    install_interrupt_handler();
    ProgressPrinter progress(ctx.quiet || ctx.json, 100);
    rl::TrainEnv env;
    env.shared_dir = shared_dir();
    env.reward_isolate_host = {"/proc/self/exe", "__reward-host"};
    env.interrupted = &g_interrupted;
    env.log = [&](const std::string& s) {
      if (s.rfind("checkpoint", 0) != 0) progress.message(s);
    };

    // 3. Base pretraining, or the identical run already in the store.
    t0 = now_s();
    std::string base_config = experiments::to_json(base.resolved);
    auto found = a->fresh ? std::nullopt : reusable(store, "pretrain", base_config);
    int64_t base_run = 0;
    std::string base_ckpt;
    if (found) {
      std::tie(base_run, base_ckpt) = *found;
      say("base: reusing run " + std::to_string(base_run) + " (" + base_ckpt + ")");
    } else {
      say("base: pretraining " + base.recipe.run.name + " (" + std::to_string(base.recipe.run.steps) + " steps)");
      base_run = store.create_run(new_run_of(base, "pretrain"));
      env.on_step = [&](const rl::StepReport& r) { progress.step(r); };
      rl::TrainResult res;
      try {
        res = rl::train_lm(base.recipe, rl::LmMode::pretrain, base_run, store, env, false);
      } catch (...) {
        store.finish_run(base_run, experiments::RunStatus::failed);
        throw;
      }
      store.finish_run(base_run, res.status);
      if (res.status != experiments::RunStatus::finished) throw JobError("demo interrupted during pretraining (run " + std::to_string(base_run) + ")");
      base_ckpt = res.last_checkpoint;
    }
    wall["pretrain"] = now_s() - t0;

    // 4. GRPO recipe (its final evaluation is the "after" column).
    auto rl_sets = common;
    rl_sets.push_back("model.path=" + base_ckpt);
    rl_sets.push_back("data.path=" + dir + "/train.jsonl");
    rl_sets.push_back("eval.path=" + dir + "/heldout.jsonl");
    rl_sets.push_back("run.name=demo-r1-zero-s" + seed_s);
    if (a->grpo_steps > 0) {
      rl_sets.push_back("run.steps=" + std::to_string(a->grpo_steps));
      rl_sets.push_back("run.eval_every=" + std::to_string(a->grpo_steps));
    }
    rl::ResolvedRecipe grpo = rl::load_recipe(recipes + "/demo-r1-zero.toml", rl_sets);
    const auto& ev = grpo.recipe.eval;

    // 5. Base evaluation on the held-out problems, with the same settings.
    t0 = now_s();
    datasets::DataConfig hc = grpo.recipe.data;
    hc.dataset = "jsonl";
    hc.path = dir + "/heldout.jsonl";
    auto held = datasets::load_tasks(hc, "", static_cast<uint64_t>(a->seed));
    if (ev.limit > 0 && static_cast<int64_t>(held.size()) > ev.limit) held.resize(ev.limit);
    rl::EvalOptions eo;
    eo.k = ev.k;
    eo.temperature = ev.temperature;
    eo.top_p = ev.top_p;
    eo.max_new_tokens = ev.max_new_tokens > 0 ? ev.max_new_tokens : grpo.recipe.rollout.max_new_tokens;
    eo.seed = static_cast<uint64_t>(a->seed) + 7;
    eo.stop = grpo.recipe.rollout.stop;  // as the trainer's own evaluation does
    rl::EvalResult before;
    {
      policy::set_threads(grpo.recipe.run.threads);
      policy::PolicyConfig pc;
      pc.path = base_ckpt;
      pc.tokenizer = dir + "/tokenizer";
      rl::SamplingModel sm(pc, tmpl, static_cast<uint64_t>(a->seed), policy::pick_device("auto"), 256);
      before = rl::evaluate(sm.engine, held, sm.format, eo);
      for (const auto& [k, v] : before.metrics()) {
        std::string key = k == "pass@k" ? "pass@" + std::to_string(eo.k) : k == "maj@k" ? "maj@" + std::to_string(eo.k) : k;
        store.add_eval(base_run, {base.recipe.run.steps, "demo/heldout", key, v, before.problems});
      }
      store.flush();
    }
    wall["eval_base"] = now_s() - t0;
    say("base: held-out pass@1 " + std::to_string(before.pass1));

    // 6. GRPO.
    t0 = now_s();
    int64_t grpo_run = store.create_run([&] {
      auto n = new_run_of(grpo, "train");
      n.parent_run_id = base_run;
      n.tags = {"demo"};
      return n;
    }());
    say("grpo: run " + std::to_string(grpo_run) + " (" + std::to_string(grpo.recipe.run.steps) + " steps)");
    env.on_step = [&](const rl::StepReport& r) { progress.step(r); };
    rl::TrainResult res;
    try {
      res = rl::train_grpo(grpo.recipe, grpo_run, store, env, false);
    } catch (...) {
      store.finish_run(grpo_run, experiments::RunStatus::failed);
      throw;
    }
    store.finish_run(grpo_run, res.status);
    if (res.status != experiments::RunStatus::finished) throw JobError("demo interrupted during GRPO (run " + std::to_string(grpo_run) + ")");
    const double grpo_with_eval = now_s() - t0;

    // 7. The final evaluation, recorded by the GRPO run at its last step.
    rl::EvalResult after;
    for (const auto& ev : store.evals_at(grpo_run, grpo.recipe.run.steps)) {
      const std::string& mname = ev.metric;
      if (mname == "pass@1") after.pass1 = ev.value;
      else if (mname == "pass@" + std::to_string(eo.k)) after.pass_k = ev.value;
      else if (mname == "maj@" + std::to_string(eo.k)) after.maj_k = ev.value;
      else if (mname == "format") after.format_rate = ev.value;
      else if (mname == "length") after.mean_length = ev.value;
      after.problems = ev.n;
    }
    // The held-out evaluations inside the GRPO run log their own duration.
    const double eval_in_grpo = store.metric_total(grpo_run, "time/eval_s");
    wall["grpo"] = grpo_with_eval - eval_in_grpo;
    wall["eval_final"] = eval_in_grpo;
    wall["total"] = now_s() - t_all;

    if (ctx.json) {
      Json j{{"base", metrics_json(before, eo.k)},
             {"final", metrics_json(after, eo.k)},
             {"wall_s", wall},
             {"runs", Json::array({Json{{"id", base_run}, {"kind", "pretrain"}, {"checkpoint", base_ckpt}},
                                   Json{{"id", grpo_run}, {"kind", "train"}, {"checkpoint", res.last_checkpoint}}})},
             {"db", store.path()},
             {"seed", a->seed}};
      std::cout << j.dump(2) << "\n";
      return;
    }
    auto row = [&](const char* name, double b, double f, bool pct) {
      char buf[160];
      if (pct) std::snprintf(buf, sizeof buf, "  %-14s %9.1f%% %9.1f%% %+9.1f\n", name, 100 * b, 100 * f, 100 * (f - b));
      else std::snprintf(buf, sizeof buf, "  %-14s %10.1f %10.1f %+9.1f\n", name, b, f, f - b);
      std::cout << buf;
    };
    std::cout << "\nR1-Zero demo, seed " << a->seed << ": " << after.problems << " held-out problems x " << eo.k << " samples (T "
              << eo.temperature << ", top-p " << eo.top_p << ")\n";
    std::cout << "  " << std::string(14, ' ') << "      base      GRPO    change\n";
    row("pass@1", before.pass1, after.pass1, true);
    row(("pass@" + std::to_string(eo.k)).c_str(), before.pass_k, after.pass_k, true);
    row(("maj@" + std::to_string(eo.k)).c_str(), before.maj_k, after.maj_k, true);
    row("format", before.format_rate, after.format_rate, true);
    row("mean length", before.mean_length, after.mean_length, false);
    std::cout << "\nwall time: data " << format_duration_short(wall["data"]) << ", pretrain " << format_duration_short(wall["pretrain"])
              << ", base eval " << format_duration_short(wall["eval_base"]) << ", GRPO " << format_duration_short(wall["grpo"])
              << ", final eval " << format_duration_short(wall["eval_final"])
              << ", total " << format_duration_short(wall["total"]) << "\n";
    std::cout << "recorded in " << store.path() << ": base run " << base_run << ", GRPO run " << grpo_run << "\n";
    std::cout << "  r1 runs show " << grpo_run << "\n  r1 runs plot " << grpo_run << " --metric reward --metric accuracy --out demo.svg\n";
  });
}

}  // namespace r1::cli
