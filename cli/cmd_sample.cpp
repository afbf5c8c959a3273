// `r1 sample`: rejection sampling (R1's stage 3) — N completions per prompt from a model, judged
// by the training verifiers, kept by rules (rl/rejection_sampling.h), written as SFT JSON Lines
// through a temporary file and a rename, and recorded in the store's `samplesets` table.
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "cli/cli_common.h"
#include "cli/json_lines.h"
#include "cli/sample_job.h"
#include "cli/train_common.h"
#include "experiments/sha256.h"
#include "policy/device.h"
#include "rl/evaluation.h"
#include "rl/policy_setup.h"
#include "rl/rejection_sampling.h"

namespace fs = std::filesystem;

namespace r1::cli {
namespace {

std::vector<datasets::Task> load_prompts(const SampleJob& job) {
  datasets::DataConfig dc = job.data;
  dc.shuffle = false;  // the file's order: prompt ids and outputs follow it
  auto tasks = datasets::load_tasks(dc, shared_dir(), job.seed);
  if (job.sample.limit > 0 && static_cast<int64_t>(tasks.size()) > job.sample.limit) tasks.resize(job.sample.limit);
  if (tasks.empty()) throw InputError("sample: no prompts in " + (dc.path.empty() ? dc.dataset : dc.path));
  return tasks;
}

// The run whose checkpoint `model` is, when the store has one (0 otherwise).
int64_t source_run(experiments::RunStore& store, const std::string& model) {
  std::error_code ec;
  for (const auto& row : store.query("SELECT run_id, path FROM checkpoints ORDER BY created_at DESC").rows) {
    const std::string path = experiments::cell_text(row[1]);
    if (fs::equivalent(path, model, ec)) return std::stoll(experiments::cell_text(row[0]));
  }
  return 0;
}

// The prompt as the model saw it, and as chat messages (the task's own, or its question as the user's).
std::string prompt_text(const text::PromptFormat& fmt, const datasets::Task& t) {
  if (t.messages.empty()) return fmt.text(t.question);
  text::Value::Array msgs;
  for (const auto& m : t.messages)
    msgs.push_back(text::Value(text::Value::Object{{"role", text::Value(m.role)}, {"content", text::Value(m.content)}}));
  return fmt.text_of_messages(text::Value(msgs));
}

Json sft_line(const datasets::Task& t, const std::string& prompt_text, const rl::Candidate& c, const std::string& model, int64_t run) {
  Json source{{"model", model},
              {"run", run > 0 ? Json(run) : Json(nullptr)},
              {"prompt_id", t.id},
              {"sample", c.sample},
              {"correct", c.correct},
              {"format", c.formatted},
              {"finished", c.finished},
              {"language", c.language},
              {"repetition", c.repetition},
              {"completion_tokens", c.tokens}};
  Json messages = Json::array();
  if (t.messages.empty()) messages.push_back(Json{{"role", "user"}, {"content", t.question}});
  for (const auto& m : t.messages) messages.push_back(Json{{"role", m.role}, {"content", m.content}});
  messages.push_back(Json{{"role", "assistant"}, {"content", c.text}});
  return Json{{"messages", messages}, {"prompt", prompt_text}, {"completion", c.text}, {"source", source}};
}

// Writes the kept candidates (temporary file, then rename) and records the set.
SampleOutcome write_and_record(const SampleJob& job, const std::vector<datasets::Task>& tasks, const text::PromptFormat& fmt,
                               const std::vector<rl::Candidate>& candidates, const std::vector<size_t>& kept,
                               const rl::KeepRules& rules, rl::SelectionCounts counts, experiments::RunStore& store) {
  const std::string model = fs::weakly_canonical(job.model).string();
  const int64_t run = source_run(store, job.model);
  LineWriter w(job.out);
  for (size_t i : kept) {
    const auto& task = tasks[static_cast<size_t>(candidates[i].prompt)];
    w.write(sft_line(task, prompt_text(fmt, task), candidates[i], model, run));
  }
  w.close();
  SampleOutcome o;
  experiments::SampleSetRecord& rec = o.record;
  rec.model = model;
  rec.source_run_id = run;
  rec.run_id = job.run_id;
  rec.data = job.data.path.empty() ? job.data.dataset + "/" + job.data.split : fs::weakly_canonical(job.data.path).string();
  rec.n = job.sample.n;
  rec.temperature = job.sample.temperature;
  rec.seed = static_cast<int64_t>(job.seed);
  rec.rules = rules.text();
  rec.out_path = fs::weakly_canonical(job.out).string();
  rec.sha256 = experiments::sha256_file(job.out);
  rec.prompts = counts.prompts;
  rec.samples = counts.samples;
  rec.kept = counts.kept;
  rec.prompts_kept = counts.prompts_kept;
  Json dropped = Json::object();
  for (const auto& [rule, n] : counts.dropped) dropped[rule] = n;
  rec.dropped_json = dump(dropped);
  o.sampleset_id = store.add_sampleset(rec);
  o.counts = std::move(counts);
  return o;
}

}  // namespace

SampleOutcome run_sample_job(const SampleJob& job, experiments::RunStore& store) {
  rl::KeepRules rules;
  try {
    rules = rl::parse_keep_rules(job.sample.keep);
  } catch (const std::invalid_argument& e) {
    throw InputError(e.what());
  }
  const auto tasks = load_prompts(job);
  policy::PolicyConfig pc;
  pc.path = job.model;
  pc.tokenizer = job.tokenizer;
  rl::SamplingModel sm(pc, job.data.template_name, job.seed, policy::pick_device(job.device), job.sample.batch);

  // 1. Sample: n per prompt, each prompt with its own seed (outputs do not depend on the batch).
  rl::EvalOptions eo;
  eo.k = job.sample.n;
  eo.temperature = job.sample.temperature;
  eo.top_p = job.sample.top_p;
  eo.max_new_tokens = job.sample.max_new_tokens;
  eo.seed = job.seed;
  int64_t done_tokens = 0;
  rollout::Engine::OnToken progress;
  if (job.progress && isatty(STDERR_FILENO))
    progress = [&](int64_t, int64_t, int32_t) {
      if (++done_tokens % 64 == 0) std::cerr << "\rsampling: " << done_tokens << " tokens" << std::flush;
    };
  const auto out = sm.engine.generate(rl::sampling_requests(sm.format, tasks, eo), progress);
  if (progress) std::cerr << "\r\033[K";

  // 2. Judge, 3. keep.
  std::vector<const datasets::Task*> tp;
  std::vector<const rollout::Completion*> cp;
  for (const auto& comp : out) tp.push_back(&tasks[static_cast<size_t>(comp.request)]), cp.push_back(&comp);
  auto candidates = rl::score_candidates(tp, cp, rules);
  for (size_t i = 0; i < out.size(); ++i) candidates[i].prompt = out[i].request, candidates[i].sample = out[i].sample;
  rl::SelectionCounts counts;
  const auto kept = rl::select_candidates(candidates, rules, &counts);

  // 4. Write and record.
  return write_and_record(job, tasks, sm.format, candidates, kept, rules, std::move(counts), store);
}

static void print_sample_outcome(const SampleOutcome& o, const std::string& out, const Context& ctx) {
  experiments::ResultSet rs;
  rs.columns = {"", "samples"};
  rs.rows.push_back({std::string("sampled"), o.counts.samples});
  for (const auto& [rule, n] : o.counts.dropped) rs.rows.push_back({"dropped: " + rule, n});
  rs.rows.push_back({std::string("kept"), o.counts.kept});
  rs.rows.push_back({std::string("prompts with a kept answer"), o.counts.prompts_kept});
  print_table(rs, ctx.json);
  if (!ctx.quiet)
    std::cerr << "sample set " << o.sampleset_id << ": " << o.counts.kept << " of " << o.counts.samples << " answers to " << o.counts.prompts
              << " prompts kept (" << o.record.rules << ") -> " << out << "\n";
}

void add_sample_command(CLI::App& app, Context& ctx) {
  struct Args {
    SampleJob job;
    std::string dataset, data, template_name = "r1-zero";
    int64_t difficulty = 2;
  };
  auto a = std::make_shared<Args>();
  SampleJob& j = a->job;
  auto* c = app.add_subcommand("sample", "Rejection sampling: N answers per prompt, kept by verifier rules, written as SFT JSON Lines");
  c->add_option("--model", j.model, "model folder (a checkpoint of a run, or any Hugging Face folder)")->required();
  c->add_option("--tokenizer", j.tokenizer, "tokenizer folder (default: the model folder)");
  c->add_option("--dataset", a->dataset, "data set name (gsm8k, math500, countdown, arithmetic, ...)");
  c->add_option("--data", a->data, "a JSON Lines file of tasks ({\"question\", \"answer\"})")->check(CLI::ExistingFile);
  c->add_option("--split", j.data.split, "train | test, for named sets that have both");
  c->add_option("--n", j.sample.n, "samples per prompt")->check(CLI::PositiveNumber);
  c->add_option("--keep", j.sample.keep,
                "rules, comma-separated: correct, format, finished, language=en[:0.95], max_tokens=N, no_repetition[=0.1]; "
                "then per prompt all_correct (default) | best_of=K | first_k=K");
  c->add_option("--out,-o", j.out, "SFT JSON Lines written ({\"messages\", \"prompt\", \"completion\", \"source\"})")->required();
  c->add_option("--temperature", j.sample.temperature, "sampling temperature")->check(CLI::Range(0.0, 100.0));
  c->add_option("--top-p", j.sample.top_p, "nucleus mass")->check(CLI::Range(0.0, 1.0));
  c->add_option("--max-new-tokens", j.sample.max_new_tokens, "completion cap")->check(CLI::PositiveNumber);
  c->add_option("--limit", j.sample.limit, "prompts sampled; 0 = all");
  c->add_option("--template", a->template_name, "r1-zero | chat (with R1's system instruction) | chat-plain | none | a string with {question}");
  c->add_option("--difficulty", a->difficulty, "generators: digits / numbers");
  c->add_option("--seed", j.seed, "sampling seed");
  c->add_option("--batch", j.sample.batch, "sequences decoded together")->check(CLI::PositiveNumber);
  c->add_option("--device", j.device, "auto | cpu | cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  c->callback([a, &ctx] {
    if (a->dataset.empty() == a->data.empty()) throw InputError("sample: pass --dataset NAME or --data FILE.jsonl (one of them)");
    SampleJob job = a->job;
    job.data.dataset = a->data.empty() ? a->dataset : "jsonl";
    job.data.path = a->data;
    job.data.difficulty = a->difficulty;
    job.data.template_name = a->template_name;
    job.data.generated = job.sample.limit > 0 ? job.sample.limit : 1000;
    job.progress = !ctx.quiet;
    auto store = ctx.open_store();
    print_sample_outcome(run_sample_job(job, store), job.out, ctx);
  });
}

}  // namespace r1::cli
