// `r1 demo --r1`: DeepSeek-R1's chain at laptop scale. Writes the problems (3-digit sums and short
// Python functions, held-out sets apart), a base corpus with R1-Zero's known problems built in
// (a wrong carry habit, slips, other formats, language mixing), its tokenizer and non-reasoning
// chats; runs experiments/pipelines/r1.toml on them as `r1 pipeline` would; then evaluates every
// stage's model on the same held-out problems with the same settings and prints one table.
#include "cli/demo_r1.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "cli/json_lines.h"
#include "cli/pipeline_run.h"
#include "cli/run_views.h"
#include "cli/task_files.h"
#include "datasets/corpus.h"
#include "policy/device.h"
#include "rl/recipe.h"
#include "rl/evaluation.h"
#include "rl/policy_setup.h"
#include "text/bpe_trainer.h"

namespace fs = std::filesystem;

namespace r1::cli {
namespace {

constexpr uint64_t kDataSeed = 1;  // the data do not change with --seed: the bases stay reusable

// The prompt the stages train and sample with: demo-base.toml's data.template (r1.toml's
// pretrain, GRPO and sample stages include it), so the corpus and the evaluations use it too.
std::string demo_template() { return rl::load_recipe(asset_dir() + "/recipes/demo-base.toml", {}, false).recipe.data.template_name; }

struct DemoData {
  std::string tmpl;  // the prompt template
  std::vector<datasets::Task> math_held, code_held;
};

// Non-reasoning data (R1 mixed 200k such samples into its SFT): short direct answers, no steps.
void write_chats(const std::string& path, int64_t count, const std::string& tmpl) {
  std::mt19937_64 rng(kDataSeed * 7919 + 3);
  const std::vector<std::string> words = {"the", "answer", "is", "so", "write", "carry", "bring", "down", "start",
                                          "from", "add", "subtract", "multiply", "by", "returns", "result"};
  auto number = [&] { return static_cast<int64_t>(100 + rng() % 900); };
  LineWriter w(path);
  for (int64_t i = 0; i < count; ++i) {
    std::string q, a;
    switch (rng() % 3) {
      case 0: {
        const int64_t x = number(), y = number();
        q = "Which is larger, " + std::to_string(x) + " or " + std::to_string(y) + "?", a = std::to_string(std::max(x, y));
        break;
      }
      case 1: {
        const int64_t x = number();
        q = "Repeat the number " + std::to_string(x) + ".", a = std::to_string(x);
        break;
      }
      default: {
        for (int k = 0; k < 3; ++k) a += (k ? " " : "") + words[rng() % words.size()];
        q = "Repeat the words: " + a + ".";
      }
    }
    const std::string completion = " <think> </think> <answer> " + a + " </answer>";
    w.write(Json{{"prompt", apply_template(tmpl, q)},
                 {"completion", completion},
                 {"messages", Json::array({Json{{"role", "user"}, {"content", q}}, Json{{"role", "assistant"}, {"content", completion}}})}});
  }
  w.close();
}

// Problems, held-out sets, the base corpus (training problems only), its tokenizer and the chats.
DemoData write_demo_data(const std::string& data_dir) {
  fs::create_directories(data_dir);
  DemoData d;
  d.tmpl = demo_template();
  auto math = datasets::generate_arithmetic({20000, 3, kDataSeed});
  auto code = datasets::generate_code({729, 2, kDataSeed});  // every 2-step function there is
  datasets::shuffle_tasks(math, kDataSeed + 101);
  datasets::shuffle_tasks(code, kDataSeed + 102);
  d.math_held.assign(math.begin(), math.begin() + 300);
  d.code_held.assign(code.begin(), code.begin() + 100);
  const std::vector<datasets::Task> math_train(math.begin() + 300, math.end()), code_train(code.begin() + 100, code.end());
  // Math and code for the stages that train on both: code is 30% of it, so rejection sampling
  // keeps enough functions that the SFT stages do not forget how to write them.
  std::vector<datasets::Task> mixed(math_train.begin(), math_train.begin() + 1500);
  mixed.insert(mixed.end(), code_train.begin(), code_train.end());
  datasets::shuffle_tasks(mixed, kDataSeed + 103);
  write_task_lines(data_dir + "/math_train.jsonl", math_train);
  write_task_lines(data_dir + "/math_heldout.jsonl", d.math_held);
  write_task_lines(data_dir + "/code_heldout.jsonl", d.code_held);
  write_task_lines(data_dir + "/mixed_train.jsonl", mixed);

  // The corpus: every training sum once and every training function six times (each with its own
  // draws), so code is about a sixth of the text. The carry habit's share sets how good the base
  // is: with 40% of sums forgetting carries (and code twice as common) the base answered 9% of
  // held-out sums after 900 steps (it learned the habit as its mode); with 30%, 31% after 900
  // steps and 79% after the 1,200 that r1.toml gives it.
  datasets::CorpusOptions math_o, code_o;
  math_o.seed = kDataSeed, math_o.habit_share = 0.3, math_o.mixed_language_share = 0.5;
  code_o.seed = kDataSeed + 1, code_o.habit_share = 0.0, code_o.mixed_language_share = 0.5;
  std::vector<datasets::Task> code_copies;
  for (int k = 0; k < 6; ++k) code_copies.insert(code_copies.end(), code_train.begin(), code_train.end());
  std::vector<std::string> texts;
  auto add = [&](const std::vector<datasets::Task>& tasks, const datasets::CorpusOptions& o) {
    auto sols = datasets::worked_solutions(tasks, o);
    for (size_t i = 0; i < tasks.size(); ++i) texts.push_back(apply_template(d.tmpl, tasks[i].question) + sols[i].completion);
  };
  add(math_train, math_o);
  add(code_copies, code_o);
  std::shuffle(texts.begin(), texts.end(), std::mt19937_64(kDataSeed + 104));
  LineWriter corpus(data_dir + "/corpus.jsonl");
  for (const auto& t : texts) corpus.write(Json{{"text", t}});
  corpus.close();
  text::BpeTrainOptions to;
  to.vocab_size = 512;
  text::train_bpe(texts, to, data_dir + "/tokenizer");
  write_chats(data_dir + "/chat.jsonl", 2000, d.tmpl);
  return d;
}

// The installed pipeline file, its recipe includes pointed at r1's own recipes, beside the data.
std::string write_pipeline_file(const std::string& dir) {
  const std::string assets = asset_dir();
  const std::string source = assets + "/pipelines/r1.toml";
  std::ifstream in(source);
  if (!in) throw InputError(source + ": the R1 pipeline file is missing (set R1_ASSETS)");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str(), from = "\"../recipes/", to = "\"" + assets + "/recipes/";
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) text.replace(at, from.size(), to);
  const std::string path = dir + "/r1.toml", tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << "# Written by `r1 demo --r1` from " << source << "; run by hand: r1 pipeline " << path << "\n" << text;
    if (!out) throw InputError(tmp + ": cannot write");
  }
  fs::rename(tmp, path);
  return path;
}

struct StageRow {
  std::string stage, kind;
  int64_t run = 0;
  bool reused = false;
  double wall_s = 0;
  std::optional<rl::EvalResult> math, code;
  std::string note;  // sample stages: kept of sampled
};

// Both held-out sets through the stage's model, with the same settings and seed for every stage.
void evaluate_stage(StageRow& row, const std::string& model_dir, const DemoData& data, const DemoR1Options& o, experiments::RunStore& store) {
  policy::PolicyConfig pc;
  pc.path = model_dir;
  rl::SamplingModel sm(pc, data.tmpl, o.seed, policy::pick_device("auto"), 256);
  rl::EvalOptions eo;
  eo.k = 4;
  eo.temperature = 0.6;
  eo.top_p = 0.95;
  eo.max_new_tokens = 120;
  eo.seed = 7;  // the same samples for an unchanged model, whatever --seed is
  auto limited = [&](const std::vector<datasets::Task>& v) {
    return std::vector<datasets::Task>(v.begin(), v.begin() + std::min<int64_t>(static_cast<int64_t>(v.size()), o.eval_limit));
  };
  row.math = rl::evaluate(sm.engine, limited(data.math_held), sm.format, eo);
  row.code = rl::evaluate(sm.engine, limited(data.code_held), sm.format, eo);
  const auto ckpts = store.checkpoints(row.run);
  const int64_t step = ckpts.empty() ? 0 : ckpts.back().step;
  for (const auto& [set, r] : {std::pair{"demo-r1/math", *row.math}, std::pair{"demo-r1/code", *row.code}})
    for (const auto& [k, v] : r.metrics()) store.add_eval(row.run, {step, set, k == "pass@k" ? "pass@4" : k == "maj@k" ? "maj@4" : k, v, r.problems});
  store.flush();
}

// Over both sets, weighted by samples.
double both(const StageRow& r, double rl::EvalResult::*field) {
  const double a = static_cast<double>(r.math->samples), b = static_cast<double>(r.code->samples);
  return (a * (*r.math).*field + b * (*r.code).*field) / std::max(1.0, a + b);
}

Json row_json(const StageRow& r) {
  Json j{{"stage", r.stage}, {"kind", r.kind}, {"run", r.run}, {"reused", r.reused}, {"wall_s", r.wall_s}};
  if (r.math) {
    j["math"] = Json{{"pass@1", r.math->pass1}, {"maj@4", r.math->maj_k}, {"pass@4", r.math->pass_k}, {"problems", r.math->problems}};
    j["code"] = Json{{"pass@1", r.code->pass1}, {"maj@4", r.code->maj_k}, {"pass@4", r.code->pass_k}, {"problems", r.code->problems}};
    j["format"] = both(r, &rl::EvalResult::format_rate);
    j["language"] = both(r, &rl::EvalResult::language);
    j["mean_length"] = both(r, &rl::EvalResult::mean_length);
  }
  if (!r.note.empty()) j["note"] = r.note;
  return j;
}

void print_rows(const std::vector<StageRow>& rows, const DemoR1Options& o) {
  auto pct = [](double v) {
    char b[16];
    std::snprintf(b, sizeof b, "%.1f%%", 100 * v);
    return std::string(b);
  };
  experiments::ResultSet rs;
  rs.columns = {"stage", "kind", "run", "math pass@1", "math maj@4", "code pass@1", "code maj@4", "format", "language", "length", "time"};
  for (const auto& r : rows) {
    const std::string time = format_duration_short(r.wall_s) + (r.reused ? " (reused)" : "");
    if (!r.math) {
      rs.rows.push_back({r.stage, r.kind, r.run, r.note, "", "", "", "", "", "", time});
      continue;
    }
    char len[16];
    std::snprintf(len, sizeof len, "%.0f", both(r, &rl::EvalResult::mean_length));
    rs.rows.push_back({r.stage, r.kind, r.run, pct(r.math->pass1), pct(r.math->maj_k), pct(r.code->pass1), pct(r.code->maj_k),
                       pct(both(r, &rl::EvalResult::format_rate)), pct(both(r, &rl::EvalResult::language)), std::string(len), time});
  }
  const auto evaluated = std::find_if(rows.begin(), rows.end(), [](const StageRow& r) { return r.math.has_value(); });
  if (evaluated == rows.end()) return print_table(rs, false);
  std::cout << "\nR1 demo, seed " << o.seed << ": held-out " << evaluated->math->problems << " sums and " << evaluated->code->problems
            << " functions x 4 samples (T 0.6, top-p 0.95); language = share of English words in the reasoning\n";
  print_table(rs, false);
}

void print_students(const std::map<std::string, const StageRow*>& by) {
  if (!by.count("student_distill") || !by.count("student_rl") || !by.count("final")) return;
  const auto &d = *by.at("student_distill"), &c = *by.at("student_rl"), &t = *by.at("final");
  auto line = [](const char* what, const StageRow& r) {
    char b[200];
    std::snprintf(b, sizeof b, "  %-34s math pass@1 %5.1f%%  code pass@1 %5.1f%%  language %5.1f%%\n", what, 100 * r.math->pass1,
                  100 * r.code->pass1, 100 * both(r, &rl::EvalResult::language));
    std::cout << b;
  };
  std::cout << "\nthe smaller dense student (" << "same base, same corpus):\n";
  line("distilled from the final model", d);
  line("GRPO from its own base (control)", c);
  line("the teacher (final)", t);
  const double gap = (d.math->pass1 + d.code->pass1) - (c.math->pass1 + c.code->pass1);
  std::cout << "  distillation " << (gap > 0 ? "ahead of" : gap < 0 ? "behind" : "level with") << " RL-only by "
            << format_number(std::abs(50 * gap)) << " points of mean pass@1 at this scale\n";
}

}  // namespace

void run_r1_demo(const Context& ctx, const DemoR1Options& o) {
  const double t_all = experiments::unix_now();
  auto say = [&](const std::string& s) {
    if (!ctx.quiet && !ctx.json) std::cerr << s << "\n";
  };
  fs::create_directories(o.dir);
  const DemoData data = write_demo_data(o.dir + "/data");
  const std::string file = write_pipeline_file(o.dir);
  say("data, tokenizer and pipeline file in " + o.dir + " (" + format_duration_short(experiments::unix_now() - t_all) + ")");
  std::vector<std::string> sets = o.sets;
  sets.insert(sets.begin(), "pipeline.seed=" + std::to_string(o.seed));
  const rl::Pipeline p = rl::load_pipeline(file, sets);
  auto store = ctx.open_store();
  const PipelineOutcome done = run_pipeline(ctx, store, p);

  std::vector<StageRow> rows;
  for (const auto& s : p.stages) {
    const rl::StageOutput& out = done.outputs.at(s.name);
    auto info = store.find_run(std::to_string(out.run_id));
    StageRow row;
    row.stage = s.name;
    row.kind = std::string(rl::to_string(s.kind));
    row.run = out.run_id;
    row.reused = done.skipped.count(s.name) > 0;
    if (info) row.wall_s = std::max(0.0, info->ended_at - info->started_at);
    if (!out.model_dir.empty()) {
      say("evaluating " + s.name + " (run " + std::to_string(out.run_id) + ")");
      evaluate_stage(row, out.model_dir, data, o, store);
    } else if (auto set = store.sampleset_of_run(out.run_id)) {
      row.note = "kept " + std::to_string(set->kept) + "/" + std::to_string(set->samples);
    }
    rows.push_back(std::move(row));
  }
  std::map<std::string, const StageRow*> by;
  for (const auto& r : rows) by[r.stage] = &r;
  const double total = experiments::unix_now() - t_all;
  if (ctx.json) {
    Json j{{"seed", o.seed}, {"pipeline", p.name}, {"pipeline_id", done.pipeline_id}, {"file", file}, {"db", store.path()}, {"wall_s", total}};
    for (const auto& r : rows) j["stages"].push_back(row_json(r));
    std::cout << j.dump(2) << "\n";
    return;
  }
  print_rows(rows, o);
  print_students(by);
  std::cout << "\ntotal wall time " << format_duration_short(total) << "; recorded in " << store.path() << "\n\n";
  print_lineage(store, done.pipeline_id, false);
}

}  // namespace r1::cli
