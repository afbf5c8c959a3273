// `r1 sample`: rejection sampling (R1's stage 3) — N completions per prompt from a model, judged
// by the training verifiers, kept by rules (rl/rejection_sampling.h), written as SFT JSON Lines
// through a temporary file and a rename, and recorded in the store's `samplesets` table.
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "cli/cli_common.h"
#include "cli/json_lines.h"
#include "cli/train_common.h"
#include "experiments/sha256.h"
#include "policy/device.h"
#include "rl/evaluation.h"
#include "rl/policy_setup.h"
#include "rl/rejection_sampling.h"

namespace fs = std::filesystem;

namespace r1::cli {
namespace {

struct SampleArgs {
  std::string model, tokenizer, dataset, data, split = "train", keep = "correct,format", out, template_name = "r1-zero",
                                                  device = "auto";
  int64_t n = 4, limit = 0, max_new_tokens = 256, difficulty = 2, batch = 256;
  double temperature = 0.7, top_p = 0.95;
  uint64_t seed = 1;
};

std::vector<datasets::Task> load_prompts(const SampleArgs& a) {
  if (a.dataset.empty() == a.data.empty()) throw InputError("sample: pass --dataset NAME or --data FILE.jsonl (one of them)");
  datasets::DataConfig dc;
  dc.dataset = a.data.empty() ? a.dataset : "jsonl";
  dc.path = a.data;
  dc.split = a.split;
  dc.difficulty = a.difficulty;
  dc.generated = a.limit > 0 ? a.limit : 1000;
  dc.shuffle = false;  // the file's order: prompt ids and outputs follow it
  auto tasks = datasets::load_tasks(dc, shared_dir(), a.seed);
  if (a.limit > 0 && static_cast<int64_t>(tasks.size()) > a.limit) tasks.resize(a.limit);
  if (tasks.empty()) throw InputError("sample: no prompts in " + (a.data.empty() ? a.dataset : a.data));
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

}  // namespace

void add_sample_command(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<SampleArgs>();
  auto* c = app.add_subcommand("sample", "Rejection sampling: N answers per prompt, kept by verifier rules, written as SFT JSON Lines");
  c->add_option("--model", a->model, "model folder (a checkpoint of a run, or any Hugging Face folder)")->required();
  c->add_option("--tokenizer", a->tokenizer, "tokenizer folder (default: the model folder)");
  c->add_option("--dataset", a->dataset, "data set name (gsm8k, math500, countdown, arithmetic, ...)");
  c->add_option("--data", a->data, "a JSON Lines file of tasks ({\"question\", \"answer\"})")->check(CLI::ExistingFile);
  c->add_option("--split", a->split, "train | test, for named sets that have both");
  c->add_option("--n", a->n, "samples per prompt")->check(CLI::PositiveNumber);
  c->add_option("--keep", a->keep,
                "rules, comma-separated: correct, format, finished, language=en[:0.95], max_tokens=N, no_repetition[=0.1]; "
                "then per prompt all_correct (default) | best_of=K | first_k=K");
  c->add_option("--out,-o", a->out, "SFT JSON Lines written ({\"messages\", \"prompt\", \"completion\", \"source\"})")->required();
  c->add_option("--temperature", a->temperature, "sampling temperature")->check(CLI::Range(0.0, 100.0));
  c->add_option("--top-p", a->top_p, "nucleus mass")->check(CLI::Range(0.0, 1.0));
  c->add_option("--max-new-tokens", a->max_new_tokens, "completion cap")->check(CLI::PositiveNumber);
  c->add_option("--limit", a->limit, "prompts sampled; 0 = all");
  c->add_option("--template", a->template_name, "r1-zero | chat (with R1's system instruction) | chat-plain | none | a string with {question}");
  c->add_option("--difficulty", a->difficulty, "generators: digits / numbers");
  c->add_option("--seed", a->seed, "sampling seed");
  c->add_option("--batch", a->batch, "sequences decoded together")->check(CLI::PositiveNumber);
  c->add_option("--device", a->device, "auto | cpu | cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  c->callback([a, &ctx] {
    rl::KeepRules rules;
    try {
      rules = rl::parse_keep_rules(a->keep);
    } catch (const std::invalid_argument& e) {
      throw InputError(e.what());
    }
    const auto tasks = load_prompts(*a);
    policy::PolicyConfig pc;
    pc.path = a->model;
    pc.tokenizer = a->tokenizer;
    rl::PolicyBundle pb = rl::load_policy(pc, a->seed, policy::pick_device(a->device));
    pb.model->eval();
    text::PromptFormat fmt(a->template_name, pb.tokenizer);
    rollout::Engine engine(pb.model, {.max_batch_seqs = a->batch}, rl::eos_ids(pb.tokenizer, pb.model->config()), rl::token_text(pb.tokenizer));

    // 1. Sample: n per prompt, each prompt with its own seed (outputs do not depend on --batch).
    std::vector<rollout::Request> reqs;
    for (size_t i = 0; i < tasks.size(); ++i) {
      rollout::Request r;
      r.prompt = rl::prompt_ids(fmt, tasks[i]);
      r.n = a->n;
      r.params.temperature = a->temperature;
      r.params.top_p = a->top_p;
      r.params.max_new_tokens = a->max_new_tokens;
      r.params.seed = a->seed * 1000003ull + i;
      reqs.push_back(std::move(r));
    }
    int64_t done_tokens = 0;
    rollout::Engine::OnToken progress;
    if (!ctx.quiet && isatty(STDERR_FILENO))
      progress = [&](int64_t, int64_t, int32_t) {
        if (++done_tokens % 64 == 0) std::cerr << "\rsampling: " << done_tokens << " tokens" << std::flush;
      };
    const auto out = engine.generate(reqs, progress);
    if (progress) std::cerr << "\r\033[K";

    // 2. Judge, 3. keep.
    std::vector<const datasets::Task*> tp;
    std::vector<const rollout::Completion*> cp;
    for (const auto& comp : out) tp.push_back(&tasks[static_cast<size_t>(comp.request)]), cp.push_back(&comp);
    auto candidates = rl::score_candidates(tp, cp, rules);
    for (size_t i = 0; i < out.size(); ++i) candidates[i].prompt = out[i].request, candidates[i].sample = out[i].sample;
    rl::SelectionCounts counts;
    const auto kept = rl::select_candidates(candidates, rules, &counts);

    // 4. Write (temporary file, then rename), 5. record.
    auto store = ctx.open_store();
    const std::string model = fs::weakly_canonical(a->model).string();
    const int64_t run = source_run(store, a->model);
    LineWriter w(a->out);
    for (size_t i : kept) {
      const auto& task = tasks[static_cast<size_t>(candidates[i].prompt)];
      w.write(sft_line(task, prompt_text(fmt, task), candidates[i], model, run));
    }
    w.close();
    experiments::SampleSetRecord rec;
    rec.model = model;
    rec.source_run_id = run;
    rec.data = a->data.empty() ? a->dataset + "/" + a->split : fs::weakly_canonical(a->data).string();
    rec.n = a->n;
    rec.temperature = a->temperature;
    rec.seed = static_cast<int64_t>(a->seed);
    rec.rules = rules.text();
    rec.out_path = fs::weakly_canonical(a->out).string();
    rec.sha256 = experiments::sha256_file(a->out);
    rec.prompts = counts.prompts;
    rec.samples = counts.samples;
    rec.kept = counts.kept;
    rec.prompts_kept = counts.prompts_kept;
    Json dropped = Json::object();
    for (const auto& [rule, n] : counts.dropped) dropped[rule] = n;
    rec.dropped_json = dump(dropped);
    const int64_t id = store.add_sampleset(rec);

    experiments::ResultSet rs;
    rs.columns = {"", "samples"};
    rs.rows.push_back({std::string("sampled"), counts.samples});
    for (const auto& [rule, n] : counts.dropped) rs.rows.push_back({"dropped: " + rule, n});
    rs.rows.push_back({std::string("kept"), counts.kept});
    rs.rows.push_back({std::string("prompts with a kept answer"), counts.prompts_kept});
    print_table(rs, ctx.json);
    if (!ctx.quiet)
      std::cerr << "sample set " << id << ": " << counts.kept << " of " << counts.samples << " answers to " << counts.prompts
                << " prompts kept (" << rec.rules << ") -> " << a->out << "\n";
  });
}

}  // namespace r1::cli
