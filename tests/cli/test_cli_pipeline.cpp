// R1's chain. `r1 pipeline` end to end on a tiny one (pretrain -> GRPO -> rejection sampling ->
// SFT of the base on the samples -> evaluation -> two students distilled from the GRPO model),
// seconds per stage: lineage in the store, skipping unchanged stages, re-running a changed stage
// and its successors only, SIGKILL inside a stage and between stages losing nothing, bad
// references refused before anything runs. And `r1 distill`: on-policy distillation lowers a
// student's KL to its teacher; a teacher with another tokenizer is refused.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>

#include "tests/cli/store_helpers.h"
#include "tests/test_util.h"

using r1::test::run_r1;
using r1::test::shell_quote;
using r1::test::TempDir;
using namespace r1::test::store;

namespace {

const std::string kSource = R1_SOURCE_DIR;
const std::string kRecipes = kSource + "/experiments/recipes";

// A tokenizer with a chat template (SFT needs one), a generated corpus, and the pipeline file.
void write_tiny_pipeline(const TempDir& d, int grpo_steps = 3) {
  std::filesystem::create_directories(d / "tok");
  std::filesystem::copy_file(kRecipes + "/tokenizers/demo-bpe/tokenizer.json", d / "tok/tokenizer.json");
  r1::test::write_file(d / "tok/tokenizer_config.json",
                       R"({"eos_token": "<|endoftext|>", "add_bos_token": false, "chat_template": "{% for m in messages %})"
                       R"({{ m['role'] }}: {{ m['content'] }}{% if m['role'] == 'assistant' %}<|endoftext|>{% endif %}\n{% endfor %})"
                       R"({% if add_generation_prompt %}assistant: {% endif %}"})");
  auto corpus = run_r1("data corpus --count 300 --difficulty 1 --template none -o corpus.jsonl", d.path);
  REQUIRE(corpus.exit_code == 0);
  r1::test::write_file(d / "tiny.toml", R"([pipeline]
name = "tiny"
seed = 3
out_dir = "out"

[[stage]]
name = "base"
kind = "pretrain"
[stage.run]
steps = 6
threads = 1
[stage.model]
init = ")" + kRecipes + R"(/models/smoke-v3.json"
tokenizer = "tok"
[stage.lm]
corpus = ["corpus.jsonl"]
seq_len = 48
batch_size = 8
lr = 3e-3

[[stage]]
name = "zero"
kind = "grpo"
model = "stage:base"
include = ")" + kRecipes + R"(/smoke.toml"
[stage.run]
steps = )" + std::to_string(grpo_steps) + R"(
checkpoint_every = 1
keep_checkpoints = 0
eval_every = 0
threads = 1
[stage.data]
template = "none"

[[stage]]
name = "rs"
kind = "sample"
model = "stage:zero"
[stage.run]
threads = 1
[stage.data]
dataset = "arithmetic"
difficulty = 1
generated = 16
template = "none"
[stage.sample]
n = 4
keep = "finished"
max_new_tokens = 24

[[stage]]
name = "cold"
kind = "sft"
model = "stage:base"
data = "stage:rs"
[stage.run]
steps = 3
threads = 1
[stage.lm]
seq_len = 48
batch_size = 4

[[stage]]
name = "check"
kind = "eval"
model = "stage:cold"
[stage.run]
threads = 1
[stage.data]
dataset = "arithmetic"
difficulty = 1
generated = 40
holdout = 8
template = "none"
[stage.eval]
k = 2

[[stage]]
name = "distilled"
kind = "distill"
teacher = "stage:zero"
data = "stage:rs"
[stage.distill]
mode = "sft"
[stage.run]
steps = 2
threads = 1
[stage.model]
init = ")" + kRecipes + R"(/models/smoke-v3.json"
tokenizer = "tok"
[stage.lm]
seq_len = 48
batch_size = 4

[[stage]]
name = "on_policy"
kind = "distill"
teacher = "stage:zero"
include = ")" + kRecipes + R"(/smoke.toml"
[stage.distill]
mode = "on_policy"
[stage.run]
steps = 2
eval_every = 0
threads = 1
[stage.model]
init = ")" + kRecipes + R"(/models/smoke-v3.json"
tokenizer = "tok"
[stage.data]
template = "none"
)");
}

std::string stage_run(const std::string& db, const std::string& stage) {
  return scalar(db, "SELECT max(id) FROM runs WHERE stage = '" + stage + "'");
}

const std::vector<std::string> kStages = {"base", "zero", "rs", "cold", "check", "distilled", "on_policy"};

}  // namespace

TEST_CASE("a tiny pipeline runs every stage, records its lineage, and a re-run skips what is unchanged") {
  TempDir d;
  write_tiny_pipeline(d);
  auto first = run_r1("pipeline tiny.toml", d.path);
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  const std::string db = d / "runs/r1.db";
  CHECK(query(db, "SELECT stage, kind, status FROM runs ORDER BY id") ==
        std::vector<std::vector<std::string>>{{"base", "pretrain", "finished"},
                                              {"zero", "grpo", "finished"},
                                              {"rs", "sample", "finished"},
                                              {"cold", "sft", "finished"},
                                              {"check", "eval", "finished"},
                                              {"distilled", "distill", "finished"},
                                              {"on_policy", "distill", "finished"}});
  CHECK(scalar(db, "SELECT count(DISTINCT pipeline_id) FROM runs") == "1");
  CHECK(scalar(db, "SELECT name FROM pipelines") == "tiny");
  CHECK(scalar(db, "SELECT group_concat(name) FROM (SELECT name FROM runs ORDER BY id)") == "tiny.base,tiny.zero,tiny.rs,tiny.cold,tiny.check,tiny.distilled,tiny.on_policy");
  // Lineage: each stage under the stage whose model it took (the SFT under the base, not the
  // sampler), a student under its teacher.
  CHECK(query(db, "SELECT r.stage, COALESCE(p.stage, '') FROM runs r LEFT JOIN runs p ON p.id = r.parent_run_id ORDER BY r.id") ==
        std::vector<std::vector<std::string>>{{"base", ""},      {"zero", "base"},      {"rs", "zero"},         {"cold", "base"},
                                              {"check", "cold"}, {"distilled", "zero"}, {"on_policy", "zero"}});
  // The students: one on the teacher's samples, one on-policy against the teacher's checkpoint.
  const std::string teacher = scalar(db, "SELECT path FROM checkpoints WHERE run_id = 2 ORDER BY step DESC LIMIT 1");
  CHECK(scalar(db, "SELECT value FROM params WHERE run_id = 7 AND key = 'distill.teacher'") == teacher);
  CHECK(scalar(db, "SELECT value FROM params WHERE run_id = 7 AND key = 'rl.kl_in'") == "reward");
  CHECK(series(db, 7, "kl").size() == 2);
  CHECK(series(db, 6, "loss").size() == 2);
  // The sampler's file is the SFT's data, recorded with the run that made it.
  const std::string samples = scalar(db, "SELECT out_path FROM samplesets WHERE run_id = " + stage_run(db, "rs"));
  REQUIRE(!samples.empty());
  CHECK(std::filesystem::exists(samples));
  CHECK(scalar(db, "SELECT value FROM params WHERE run_id = " + stage_run(db, "cold") + " AND key = 'lm.corpus'").find(samples) !=
        std::string::npos);
  CHECK(scalar(db, "SELECT value FROM metrics WHERE run_id = " + stage_run(db, "rs") + " AND key = 'sample/samples'") == "64.0");
  CHECK(scalar(db, "SELECT count(*) FROM evals WHERE run_id = " + stage_run(db, "check") + " AND metric = 'pass@1'") == "1");
  // Language consistency (the share of English words in the reasoning), as R1's reward measures it.
  const std::string language = scalar(db, "SELECT value FROM evals WHERE run_id = " + stage_run(db, "check") + " AND metric = 'language'");
  REQUIRE(!language.empty());
  CHECK(std::stod(language) >= 0.0);
  CHECK(std::stod(language) <= 1.0);
  // The grpo stage starts from the base's last checkpoint.
  CHECK(scalar(db, "SELECT value FROM params WHERE run_id = 2 AND key = 'model.path'") ==
        scalar(db, "SELECT path FROM checkpoints WHERE run_id = 1 ORDER BY step DESC LIMIT 1"));

  auto lineage = run_r1("runs lineage tiny", d.path);
  CHECK(lineage.exit_code == 0);
  CHECK(lineage.out.find("├─ zero") != std::string::npos);
  CHECK(lineage.out.find("│  └─ on_policy") != std::string::npos);
  CHECK(lineage.out.find("   └─ check") != std::string::npos);
  CHECK(lineage.out.find("kept ") != std::string::npos);
  CHECK(lineage.out.find("model: base, data: rs") != std::string::npos);
  CHECK(run_r1("runs lineage 3", d.path).out == lineage.out);  // a run of the pipeline finds it too
  auto json = run_r1("--json runs lineage tiny", d.path);
  size_t objects = 0;
  for (size_t at = json.out.find("\"stage\":"); at != std::string::npos; at = json.out.find("\"stage\":", at + 1)) ++objects;
  CHECK(objects == 7);
  CHECK(json.out.find("\"parent\":1") != std::string::npos);

  auto again = run_r1("pipeline tiny.toml", d.path);
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  CHECK(scalar(db, "SELECT count(*) FROM runs") == "7");
  for (const auto& s : kStages) CHECK(again.err.find("stage " + s + ": unchanged") != std::string::npos);
}

TEST_CASE("a changed stage re-runs itself and the stages after it, and nothing before") {
  TempDir d;
  write_tiny_pipeline(d);
  REQUIRE(run_r1("pipeline tiny.toml", d.path).exit_code == 0);
  const std::string db = d / "runs/r1.db";
  auto plan = run_r1("pipeline tiny.toml --plan --set stage.cold.lm.batch_size=5", d.path);
  CHECK(plan.exit_code == 0);
  CHECK(scalar(db, "SELECT count(*) FROM runs") == "7");  // --plan runs nothing
  auto changed = run_r1("pipeline tiny.toml --set stage.cold.lm.batch_size=5", d.path);
  INFO(changed.err);
  REQUIRE(changed.exit_code == 0);
  CHECK(query(db, "SELECT stage FROM runs WHERE id > 7 ORDER BY id") ==
        std::vector<std::vector<std::string>>{{"cold"}, {"check"}, {"distilled"}, {"on_policy"}});
  // A changed input file counts as a change too: a new corpus re-runs everything from the base.
  auto corpus = run_r1("data corpus --count 300 --difficulty 1 --seed 9 --template none -o corpus.jsonl", d.path);
  REQUIRE(corpus.exit_code == 0);
  auto rerun = run_r1("pipeline tiny.toml --set stage.cold.lm.batch_size=5", d.path);
  REQUIRE(rerun.exit_code == 0);
  CHECK(query(db, "SELECT stage FROM runs WHERE id > 11 ORDER BY id") ==
        std::vector<std::vector<std::string>>{{"base"}, {"zero"}, {"rs"}, {"cold"}, {"check"}, {"distilled"}, {"on_policy"}});
}

TEST_CASE("SIGKILL inside a stage and between stages, then the same command: the uninterrupted pipeline's results") {
  TempDir a, b;
  write_tiny_pipeline(a, 6);
  write_tiny_pipeline(b, 6);
  auto whole = run_r1("pipeline tiny.toml", a.path);
  INFO(whole.err);
  REQUIRE(whole.exit_code == 0);
  const std::string db_a = a / "runs/r1.db", db_b = b / "runs/r1.db";

  // 1. Killed inside the GRPO stage, once its step-2 checkpoint is registered.
  pid_t pid = spawn_r1(b.path.string(), {"pipeline", "tiny.toml"});
  bool saw = wait_for_row(db_b, "SELECT 1 FROM checkpoints c JOIN runs r ON r.id = c.run_id WHERE r.stage = 'zero' AND c.step = 2", pid);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(saw);
  CHECK(scalar(db_b, "SELECT status FROM runs WHERE stage = 'zero'") == "running");
  // 2. Killed again once the sampling stage has finished (between stages, or early in the SFT).
  pid = spawn_r1(b.path.string(), {"pipeline", "tiny.toml"});
  saw = wait_for_row(db_b, "SELECT 1 FROM runs WHERE stage = 'rs' AND status = 'finished'", pid);
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  REQUIRE(saw);
  CHECK(r1::test::read_file(b / "spawned.err").find("stage zero (grpo): continuing run 2") != std::string::npos);
  // 3. The same command finishes it.
  auto last = run_r1("pipeline tiny.toml", b.path);
  INFO(last.err);
  REQUIRE(last.exit_code == 0);
  CHECK(scalar(db_b, "SELECT count(*) FROM runs WHERE stage = 'zero'") == "1");  // continued, not restarted
  CHECK(scalar(db_b, "SELECT count(*) FROM runs WHERE status != 'finished'") == "0");
  for (const auto& s : kStages) {
    INFO("stage " << s);
    const int ra = std::stoi(stage_run(db_a, s)), rb = std::stoi(stage_run(db_b, s));
    auto ma = reproducible_metrics(db_a, ra), mb = reproducible_metrics(db_b, rb);
    CHECK(!ma.empty());
    CHECK(ma == mb);
    CHECK(query(db_a, "SELECT step, metric, printf('%.17g', value) FROM evals WHERE run_id = " + std::to_string(ra)) ==
          query(db_b, "SELECT step, metric, printf('%.17g', value) FROM evals WHERE run_id = " + std::to_string(rb)));
  }
}

TEST_CASE("bad pipelines are refused before anything runs, naming the stage and key") {
  TempDir d;
  const std::string model = "[stage.model]\ninit = \"" + kRecipes + "/models/smoke-v3.json\"\ntokenizer = \"" + kRecipes +
                            "/tokenizers/demo-bpe\"\n";
  struct Case {
    std::string text, expect;
  };
  std::vector<Case> cases = {
      {"[[stage]]\nname = \"a\"\nkind = \"grpo\"\nmodel = \"stage:nope\"\n", "p.toml:4: stage 'a': model: unknown stage 'nope' (stages: a)"},
      {"[[stage]]\nname = \"a\"\nkind = \"grpo\"\nmodel = \"stage:b\"\n[[stage]]\nname = \"b\"\nkind = \"sft\"\nmodel = \"stage:a\"\n",
       "stage 'a': model: a cycle of references: a -> b -> a"},
      {"[[stage]]\nname = \"a\"\nkind = \"grpo\"\nmodel = \"stage:b\"\n[[stage]]\nname = \"b\"\nkind = \"pretrain\"\n" + model,
       "stage 'a': model: stage 'b' runs after this one"},
      {"[[stage]]\nname = \"rs\"\nkind = \"sample\"\n", "stage 'rs': model: a sample stage needs a model"},
      {"[[stage]]\nname = \"a\"\nkind = \"pretrain\"\n" + model + "[[stage]]\nname = \"b\"\nkind = \"grpo\"\nmodel = \"stage:a\"\ndata = \"stage:a\"\n",
       "stage 'b': data: only an sft or distill stage trains on another stage's samples"},
      {"[[stage]]\nname = \"a\"\nkind = \"pretrain\"\n" + model + "[[stage]]\nname = \"b\"\nkind = \"sft\"\nmodel = \"stage:a\"\ndata = \"stage:a\"\n",
       "stage 'b': data: stage 'a' is a pretrain stage; data comes from a sample stage"},
      {"[[stage]]\nname = \"a\"\nkind = \"distil\"\n", "stage 'a': kind: 'distil' is not one of pretrain | sft | grpo | sample | eval | distill"},
      {"[[stage]]\nname = \"a\"\nkind = \"pretrain\"\n" + model + "[[stage]]\nname = \"a\"\nkind = \"pretrain\"\n" + model,
       "stage 'a': name: two stages share this name"},
      {"[[stage]]\nname = \"a\"\nkind = \"pretrain\"\n" + model + "[stage.rl]\nlrr = 1\n", "p.toml:8: stage 'a': unknown key 'rl.lrr' (did you mean 'rl.lr'?)"},
  };
  cases.push_back({"[[stage]]\nname = \"a\"\nkind = \"pretrain\"\n" + model + "[[stage]]\nname = \"b\"\nkind = \"grpo\"\nmodel = \"stage:a\"\nteacher = \"stage:a\"\n",
                   "stage 'b': teacher: only a distill stage has a teacher"});
  cases.push_back({"[[stage]]\nname = \"a\"\nkind = \"sample\"\nmodel = \"/\"\n[[stage]]\nname = \"b\"\nkind = \"distill\"\nteacher = \"stage:a\"\n" + model,
                   "stage 'b': teacher: stage 'a' is a sample stage and makes no model"});
  for (const auto& c : cases) {
    INFO(c.text);
    r1::test::write_file(d / "p.toml", c.text);
    auto r = run_r1("pipeline p.toml", d.path);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(c.expect) != std::string::npos);
    CHECK(r1::test::count_lines(r.err) == 1);
  }
  r1::test::write_file(d / "p.toml", "[[stage]]\nname = \"a\"\nkind = \"pretrain\"\n" + model);
  auto bad_set = run_r1("pipeline p.toml --set stage.nope.run.steps=1", d.path);
  CHECK(bad_set.exit_code == 2);
  CHECK(bad_set.err.find("--set stage.nope.run.steps=1: no stage named 'nope'") != std::string::npos);
  CHECK(!std::filesystem::exists(d / "runs/r1.db"));  // nothing ran, nothing was created
}

TEST_CASE("r1 distill on_policy lowers the student's KL to the teacher on a toy pair; another tokenizer is refused") {
  TempDir d;
  write_tiny_pipeline(d);  // the tokenizer and the corpus
  r1::test::write_file(d / "teacher.toml", "[run]\nsteps = 60\nthreads = 1\nout_dir = \"ckpt\"\n[model]\ninit = \"" + kRecipes +
                                               "/models/smoke-v3.json\"\ntokenizer = \"tok\"\n[lm]\ncorpus = [\"corpus.jsonl\"]\n"
                                               "seq_len = 48\nbatch_size = 16\nlr = 3e-3\n");
  auto teacher = run_r1("pretrain teacher.toml", d.path);
  INFO(teacher.err);
  REQUIRE(teacher.exit_code == 0);
  const std::string db = d / "runs/r1.db";
  const std::string ckpt = scalar(db, "SELECT path FROM checkpoints WHERE run_id = 1");
  // A randomly initialised student of the same tokenizer, trained only by the teacher's signal.
  r1::test::write_file(d / "student.toml", "include = \"" + kRecipes + "/smoke.toml\"\n[run]\nname = \"student\"\nsteps = 40\n"
                                               "checkpoint_every = 0\neval_every = 0\nthreads = 1\nout_dir = \"ckpt\"\n[model]\ninit = \"" +
                                               kRecipes + "/models/smoke-v3.json\"\ntokenizer = \"tok\"\n[data]\ntemplate = \"none\"\n"
                                               "[rl]\nlr = 3e-3\n[distill]\nmode = \"on_policy\"\nteacher = \"" + ckpt + "\"\n");
  auto student = run_r1("distill student.toml", d.path);
  INFO(student.err);
  REQUIRE(student.exit_code == 0);
  CHECK(scalar(db, "SELECT kind || ' ' || status FROM runs WHERE id = 2") == "distill finished");
  // The sampled reverse KL, log pi_student - log pi_teacher on the student's own tokens.
  auto kl = series(db, 2, "kl");
  REQUIRE(kl.size() == 40);
  double first = 0, last = 0;
  for (int i = 0; i < 5; ++i) first += kl[i] / 5, last += kl[35 + i] / 5;
  MESSAGE("student's KL to the teacher: " << first << " over the first 5 steps, " << last << " over the last 5");
  CHECK(first > 0.5);
  CHECK(last < 0.5 * first);

  auto train = run_r1("train student.toml", d.path);
  CHECK(train.exit_code == 2);
  CHECK(train.err.find("run it with r1 distill") != std::string::npos);
  // A teacher whose tokenizer has one token more.
  std::filesystem::create_directories(d / "tok2");
  std::filesystem::copy_file(d / "tok/tokenizer_config.json", d / "tok2/tokenizer_config.json");
  std::string json = r1::test::read_file(d / "tok/tokenizer.json");
  const std::string last_added = "\"special\": true\n    }\n  ],";
  REQUIRE(json.find(last_added) != std::string::npos);
  json.replace(json.find(last_added), last_added.size(),
               "\"special\": true\n    },\n    {\"id\": 347, \"content\": \"<|x|>\", \"single_word\": false, \"lstrip\": false, "
               "\"rstrip\": false, \"normalized\": false, \"special\": true}\n  ],");
  r1::test::write_file(d / "tok2/tokenizer.json", json);
  auto other = run_r1("distill student.toml --set distill.teacher_tokenizer=tok2", d.path);
  CHECK(other.exit_code == 2);
  CHECK(other.err.find("distill.teacher: on-policy distillation needs the student's tokenizer") != std::string::npos);
  CHECK(other.err.find("vocabularies of 347 and 348 tokens") != std::string::npos);
}
