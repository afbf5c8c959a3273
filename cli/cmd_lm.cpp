// `r1 pretrain`, `r1 sft` and `r1 data corpus` (the demo base model's generated text).
#include <iostream>

#include "cli/cli_common.h"
#include "cli/json_lines.h"
#include "cli/task_files.h"
#include "cli/train_common.h"
#include "datasets/corpus.h"
#include "text/chat_template.h"
#include "rl/lm_trainer.h"

namespace r1::cli {

namespace {

void add_lm_command(CLI::App& app, Context& ctx, const char* name, rl::LmMode mode, const char* help) {
  TrainArgs& a = add_training_command(app, name, help, "recipe (.toml) with [model] and [lm]");
  const std::string kind = name;
  a.run = [&ctx, &a, mode, kind] {
    run_training(ctx, a, kind, [mode](const rl::Recipe& r, int64_t run, experiments::RunStore& store, const rl::TrainEnv& env, bool resume) {
      return rl::train_lm(r, mode, run, store, env, resume);
    });
  };
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

void write_corpus(const std::string& task, int64_t count, int64_t difficulty, const datasets::CorpusOptions& options, const std::string& tmpl,
                  const std::string& out_path) {
  datasets::GeneratorOptions g{count, difficulty, options.seed};
  auto tasks = task == "countdown" ? datasets::generate_countdown(g) : task == "code" ? datasets::generate_code(g) : datasets::generate_arithmetic(g);
  auto sols = datasets::worked_solutions(tasks, options);
  LineWriter out(out_path);
  for (size_t i = 0; i < tasks.size(); ++i)
    out.write(Json{{"text", apply_template(tmpl, tasks[i].question) + sols[i].completion},
                   {"id", tasks[i].id},
                   {"correct", sols[i].correct},
                   {"r1_format", sols[i].r1_format},
                   {"mixed_language", sols[i].mixed_language}});
  out.close();
}

// Generated tasks as JSON Lines the jsonl loader reads back (verifier, tests and metadata
// included), so files of different kinds can be concatenated into one mixed training set.
void write_task_lines(const std::string& out_path, const std::vector<datasets::Task>& tasks) {
  LineWriter out(out_path);
  for (const auto& t : tasks) {
    Json line{{"id", t.id}, {"question", t.question}, {"answer", t.answer}, {"verifier", datasets::to_string(t.verifier)},
              {"metadata", Json::parse(t.metadata_json)}};
    if (!t.tests_json.empty()) line["tests"] = Json::parse(t.tests_json);
    out.write(line);
  }
  out.close();
}

void write_tasks(const std::string& task, int64_t count, int64_t difficulty, uint64_t seed, const std::string& out_path) {
  datasets::GeneratorOptions g{count, difficulty, seed};
  write_task_lines(out_path, task == "countdown" ? datasets::generate_countdown(g)
                             : task == "code"    ? datasets::generate_code(g)
                                                 : datasets::generate_arithmetic(g));
}

void add_lm_commands(CLI::App& app, Context& ctx) {
  add_lm_command(app, ctx, "pretrain", rl::LmMode::pretrain, "Next-token pretraining on a text corpus (packed), recorded in the run store");
  add_lm_command(app, ctx, "sft", rl::LmMode::sft, "Supervised fine-tuning on {\"messages\"} JSON Lines, loss on assistant tokens only");

  auto* data = app.add_subcommand("data", "Generate data");
  data->require_subcommand(1);
  struct Args {
    std::string task = "arithmetic", out, template_name = "r1-zero";
    int64_t count = 10000, difficulty = 3;
    double error_share = 0.15, habit_share = 0.6, format_share = 0.7, mixed_language_share = 0.0;
    uint64_t seed = 1;
  };
  auto a = std::make_shared<Args>();
  auto* corpus = data->add_subcommand("corpus", "Worked solutions in R1's format (deliberately imperfect) as {\"text\"} JSON Lines");
  corpus->add_option("--task", a->task, "arithmetic | countdown | code")->check(CLI::IsMember({"arithmetic", "countdown", "code"}));
  corpus->add_option("--count", a->count, "problems")->check(CLI::PositiveNumber);
  corpus->add_option("--difficulty", a->difficulty, "digits (arithmetic), numbers (countdown) or operations (code)")->check(CLI::Range(1, 9));
  corpus->add_option("--error-share", a->error_share, "share of solutions with a one-off slip")->check(CLI::Range(0.0, 1.0));
  corpus->add_option("--habit-share", a->habit_share, "share of solutions that forget every carry")->check(CLI::Range(0.0, 1.0));
  corpus->add_option("--format-share", a->format_share, "share of solutions in R1's format")->check(CLI::Range(0.0, 1.0));
  corpus->add_option("--mixed-language-share", a->mixed_language_share, "share of solutions with some steps in Chinese (R1-Zero's language mixing)")
      ->check(CLI::Range(0.0, 1.0));
  corpus->add_option("--seed", a->seed, "generator seed");
  corpus->add_option("--template", a->template_name, "prompt before each solution: r1-zero | none | a string with {question}");
  corpus->add_option("--out,-o", a->out, "output file (default: standard output)");
  auto* tasks = data->add_subcommand("tasks", "Generated tasks as JSON Lines ({\"question\", \"answer\", \"verifier\", \"tests\"}), for data.dataset = \"jsonl\"");
  tasks->add_option("--task", a->task, "arithmetic | countdown | code")->check(CLI::IsMember({"arithmetic", "countdown", "code"}));
  tasks->add_option("--count", a->count, "tasks")->check(CLI::PositiveNumber);
  tasks->add_option("--difficulty", a->difficulty, "digits (arithmetic), numbers (countdown) or operations (code)")->check(CLI::Range(1, 9));
  tasks->add_option("--seed", a->seed, "generator seed");
  tasks->add_option("--out,-o", a->out, "output file (default: standard output)");
  tasks->callback([a] { write_tasks(a->task, a->count, a->difficulty, a->seed, a->out); });
  corpus->callback([a] {
    datasets::CorpusOptions o;
    o.error_share = a->error_share;
    o.habit_share = a->habit_share;
    o.format_share = a->format_share;
    o.mixed_language_share = a->mixed_language_share;
    o.seed = a->seed;
    write_corpus(a->task, a->count, a->difficulty, o, a->template_name, a->out);
  });
}

}  // namespace r1::cli
