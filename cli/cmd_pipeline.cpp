// `r1 pipeline RECIPE`: the stages of a pipeline file (rl/pipeline.h) in order, each a run in the
// store. A finished stage whose hash is unchanged (and whose output is still on disk) is skipped;
// an unfinished one with the same hash continues in its own run (a trainer resumes from its last
// checkpoint; sampling and evaluation start that run over); anything else gets a new run.
#include <filesystem>
#include <iostream>

#include "cli/cli_common.h"
#include "cli/pipeline_run.h"
#include "cli/run_views.h"
#include "cli/sample_job.h"
#include "cli/train_common.h"
#include "experiments/sha256.h"
#include "rl/lm_trainer.h"
#include "rl/pipeline.h"
#include "rl/run_scaffold.h"
#include "rl/trainer.h"

namespace fs = std::filesystem;

namespace r1::cli {
namespace {

// The output a run of this stage left, when it is all still there.
std::optional<rl::StageOutput> output_of(experiments::RunStore& store, const rl::PipelineStage& s, int64_t run_id) {
  rl::StageOutput out;
  out.run_id = run_id;
  std::error_code ec;
  if (rl::makes_model(s.kind)) {
    auto ckpts = store.checkpoints(run_id);
    if (ckpts.empty() || !fs::is_directory(ckpts.back().path, ec)) return std::nullopt;
    out.model_dir = ckpts.back().path;
  } else if (s.kind == rl::StageKind::sample) {
    auto set = store.sampleset_of_run(run_id);
    if (!set || !fs::is_regular_file(set->out_path, ec) || experiments::sha256_file(set->out_path) != set->sha256) return std::nullopt;
    out.data_file = set->out_path;
  }
  return out;
}

enum class Plan { skip, resume, run };
const char* to_string(Plan p) { return p == Plan::skip ? "skip (unchanged, finished)" : p == Plan::resume ? "continue" : "run"; }

struct StagePlan {
  Plan plan = Plan::run;
  std::optional<experiments::RunInfo> previous;  // the stage's latest run with the same hash
  std::optional<rl::StageOutput> output;         // when skipped
};

StagePlan plan_stage(experiments::RunStore& store, int64_t pipeline, const rl::PipelineStage& s) {
  StagePlan p;
  auto prev = store.latest_stage_run(pipeline, s.name);
  if (!prev || prev->stage_hash != s.hash) return p;
  if (prev->status == "running")
    throw InputError("stage '" + s.name + "' is running in run " + std::to_string(prev->id) + " (pid " + std::to_string(prev->pid) +
                     " on " + prev->host + "); wait for it, or stop it first");
  p.previous = prev;
  if (prev->status == "finished") {
    p.output = output_of(store, s, prev->id);
    p.plan = p.output ? Plan::skip : Plan::run;  // its output is gone: make it again
  } else {
    p.plan = Plan::resume;
  }
  return p;
}

experiments::NewRun stage_run(const rl::Pipeline& p, const rl::PipelineStage& s, const rl::ResolvedRecipe& r, int64_t pipeline,
                              const std::map<std::string, rl::StageOutput>& outputs) {
  experiments::NewRun n = new_run_of(r, std::string(rl::to_string(s.kind)));
  n.recipe_text = experiments::to_toml(s.tables);
  n.pipeline_id = pipeline;
  n.stage = s.name;
  n.stage_hash = s.hash;
  // The tree follows the weights: the stage a model came from, else its teacher, else its data.
  const std::string& parent = !s.model_from.empty() ? s.model_from : !s.teacher_from.empty() ? s.teacher_from : s.data_from;
  if (!parent.empty()) n.parent_run_id = outputs.at(parent).run_id;
  n.params.emplace_back("pipeline.name", p.name);
  n.params.emplace_back("pipeline.stage", s.name);
  if (!s.model_from.empty()) n.params.emplace_back("pipeline.model_from", s.model_from);
  if (!s.data_from.empty()) n.params.emplace_back("pipeline.data_from", s.data_from);
  if (!s.teacher_from.empty()) n.params.emplace_back("pipeline.teacher_from", s.teacher_from);
  return n;
}

// Rejection sampling inside a run: the kept file beside the run's checkpoints, counts as metrics.
rl::TrainResult sample_stage(const rl::PipelineStage& s, const rl::Recipe& rc, int64_t run_id, experiments::RunStore& store,
                             const rl::TrainEnv& env, const Context& ctx) {
  rl::RunScaffold scaffold(rc, run_id, store, env);  // seed, threads, determinism, device
  store.truncate_after(run_id, -1);
  SampleJob job;
  job.model = rc.model.path;
  job.tokenizer = rc.model.tokenizer;
  job.data = rc.data;
  job.sample = s.sample;
  fs::create_directories(scaffold.out_dir());
  job.out = scaffold.out_dir() + "/samples.jsonl";
  job.device = scaffold.device().is_cuda() ? "cuda" : "cpu";
  job.seed = scaffold.seed();
  job.run_id = run_id;
  job.progress = !ctx.quiet;
  SampleOutcome o = run_sample_job(job, store);
  std::vector<std::pair<std::string, double>> m{{"sample/samples", static_cast<double>(o.counts.samples)},
                                                {"sample/kept", static_cast<double>(o.counts.kept)},
                                                {"sample/prompts", static_cast<double>(o.counts.prompts)},
                                                {"sample/prompts_kept", static_cast<double>(o.counts.prompts_kept)}};
  for (const auto& [rule, n] : o.counts.dropped) m.emplace_back("sample/dropped/" + rule, static_cast<double>(n));
  store.log_metrics(run_id, 0, m);
  store.flush();
  scaffold.log("sample set " + std::to_string(o.sampleset_id) + ": kept " + std::to_string(o.counts.kept) + " of " +
               std::to_string(o.counts.samples) + " -> " + job.out);
  return {};
}

rl::TrainResult run_stage(const rl::PipelineStage& s, const rl::Recipe& rc, int64_t run_id, bool resume, experiments::RunStore& store,
                          const rl::TrainEnv& env, const Context& ctx) {
  switch (s.kind) {
    case rl::StageKind::pretrain: return rl::train_lm(rc, rl::LmMode::pretrain, run_id, store, env, resume);
    case rl::StageKind::sft: return rl::train_lm(rc, rl::LmMode::sft, run_id, store, env, resume);
    case rl::StageKind::grpo: return rl::train_grpo(rc, run_id, store, env, resume);
    case rl::StageKind::sample: return sample_stage(s, rc, run_id, store, env, ctx);
    case rl::StageKind::eval: rl::evaluate_recipe(rc, run_id, store, env); return {};
    case rl::StageKind::distill:
      if (rc.distill.mode == rl::DistillMode::on_policy) return rl::train_grpo(rc, run_id, store, env, resume);
      return rl::train_lm(rc, rl::LmMode::sft, run_id, store, env, resume);
  }
  return {};
}

void print_plan(const rl::Pipeline& p, experiments::RunStore& store, int64_t pipeline, bool json) {
  experiments::ResultSet rs;
  rs.columns = {"stage", "kind", "from", "hash", "plan", "run"};
  for (const auto& s : p.stages) {
    // A stage after one that will run has a new hash already, so its plan here is exact.
    StagePlan sp = plan_stage(store, pipeline, s);
    std::string from = s.model_from.empty() ? "" : "model:" + s.model_from;
    if (!s.data_from.empty()) from += (from.empty() ? "" : " ") + std::string("data:") + s.data_from;
    if (!s.teacher_from.empty()) from += (from.empty() ? "" : " ") + std::string("teacher:") + s.teacher_from;
    rs.rows.push_back({s.name, std::string(rl::to_string(s.kind)), from, s.hash.substr(0, 12), std::string(to_string(sp.plan)),
                       sp.previous ? experiments::Cell(sp.previous->id) : experiments::Cell()});
  }
  print_table(rs, json);
}

}  // namespace

PipelineOutcome run_pipeline(const Context& ctx, experiments::RunStore& store, const rl::Pipeline& p) {
  PipelineOutcome done;
  done.pipeline_id = store.pipeline_id(p.name, p.path);
  const int64_t pipeline = done.pipeline_id;
  install_interrupt_handler();
  std::map<std::string, rl::StageOutput>& outputs = done.outputs;
  for (const auto& s : p.stages) {
    StagePlan sp = plan_stage(store, pipeline, s);
    if (sp.plan == Plan::skip) {
      outputs[s.name] = *sp.output;
      done.skipped.insert(s.name);
      if (!ctx.quiet) std::cerr << "stage " << s.name << ": unchanged, finished in run " << sp.previous->id << "\n";
      continue;
    }
    const rl::ResolvedRecipe r = rl::stage_recipe(p, s, outputs);
    const bool resume = sp.plan == Plan::resume;
    const int64_t run_id = resume ? sp.previous->id : store.create_run(stage_run(p, s, r, pipeline, outputs));
    if (!ctx.quiet)
      std::cerr << "stage " << s.name << " (" << rl::to_string(s.kind) << "): " << (resume ? "continuing" : "starting") << " run " << run_id << "\n";
    ProgressPrinter progress(ctx.quiet, r.recipe.run.log_every);
    const rl::TrainEnv env = command_train_env(progress);
    rl::TrainResult res;
    try {
      res = run_stage(s, r.recipe, run_id, resume, store, env, ctx);
    } catch (...) {
      store.finish_run(run_id, experiments::RunStatus::failed);
      throw;
    }
    store.finish_run(run_id, res.status);
    if (res.status == experiments::RunStatus::interrupted) {
      std::cerr << "pipeline " << p.name << " interrupted in stage " << s.name << " (run " << run_id
                << "); run the same command to continue\n";
      std::exit(130);
    }
    auto out = output_of(store, s, run_id);
    if (!out) throw InputError("stage '" + s.name + "' (run " + std::to_string(run_id) + ") finished without its output");
    outputs[s.name] = *out;
  }
  return done;
}

void add_pipeline_command(CLI::App& app, Context& ctx) {
  struct Args {
    std::string recipe;
    std::vector<std::string> sets;
    bool plan = false;
  };
  auto a = std::make_shared<Args>();
  auto* c = app.add_subcommand("pipeline", "Run a pipeline's [[stage]]s in order (pretrain, sft, grpo, sample, eval, distill), each a run; "
                                           "re-running skips unchanged finished stages and continues an interrupted one");
  c->add_option("recipe", a->recipe, "pipeline file (.toml) with [pipeline] and [[stage]] entries")->required();
  c->add_option("--set", a->sets, "override a key: pipeline.seed=2, stage.NAME.section.key=value (repeatable)");
  c->add_flag("--plan", a->plan, "print what each stage would do (skip, continue, run) and stop");
  c->callback([a, &ctx] {
    const rl::Pipeline p = rl::load_pipeline(a->recipe, a->sets);
    auto store = ctx.open_store();
    if (a->plan) return print_plan(p, store, store.pipeline_id(p.name, p.path), ctx.json);
    const PipelineOutcome done = run_pipeline(ctx, store, p);
    print_lineage(store, done.pipeline_id, ctx.json);
  });
}

}  // namespace r1::cli
