// `r1 train` end to end with a tiny DeepSeek-V3-style policy: the smoke recipe records everything
// GRPO.md asks for; a task with a known optimum is learned; a run killed with SIGKILL and resumed
// reproduces the uninterrupted run's metrics exactly; Ctrl-C checkpoints and marks the run
// interrupted; bad recipes fail with one line naming the key.
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>

#include <chrono>
#include <map>
#include <thread>
#include <vector>

#include "tests/cli/store_helpers.h"
#include "tests/test_util.h"

using r1::test::run_r1;
using r1::test::shell_quote;
using r1::test::TempDir;
using namespace r1::test::store;

namespace {

const std::string kSource = R1_SOURCE_DIR;

double mean(const std::vector<double>& v, size_t from, size_t to) {
  double s = 0;
  for (size_t i = from; i < to; ++i) s += v[i];
  return s / static_cast<double>(to - from);
}

// The smoke recipe, shortened, with paths made absolute so the test can run from any folder.
std::string smoke_args(const std::string& out_dir, int steps) {
  return "train " + shell_quote(kSource + "/experiments/recipes/smoke.toml") + " --set run.steps=" + std::to_string(steps) +
         " --set " + shell_quote("model.init=" + kSource + "/experiments/recipes/models/smoke-v3.json") + " --set " +
         shell_quote("model.tokenizer=" + kSource + "/experiments/recipes/tokenizers/demo-bpe") + " --set " +
         shell_quote("run.out_dir=" + out_dir) + " --set run.threads=1";
}

}  // namespace

TEST_CASE("the smoke recipe runs end to end and records what GRPO.md lists") {
  TempDir d;
  auto r = run_r1(smoke_args(d / "ckpt", 10) + " --set run.checkpoint_every=5 --set run.eval_every=5", d.path);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::string db = d / "runs/r1.db";
  CHECK(scalar(db, "SELECT status FROM runs WHERE id = 1") == "finished");
  for (const char* key : {"reward", "reward_std", "rewards/math_accuracy/mean", "rewards/tag_count/mean", "accuracy",
                          "frac_reward_zero_std", "advantages/mean", "advantages/std", "completions/mean_length",
                          "completions/min_length", "completions/max_length", "completions/clipped_ratio", "entropy", "kl",
                          "clip_ratio/low_mean", "clip_ratio/high_mean", "policy_loss", "grad_norm", "lr",
                          "tokens_per_s/rollout", "tokens_per_s/learner", "time/rollout_s", "time/reward_s", "time/learn_s",
                          "moe/max_load_ratio", "clip_ratio/dual_mean", "mismatch/kl", "mismatch/max_abs_logp_diff",
                          "mismatch/frac_abs_diff_gt_0.5"}) {
    INFO(key);
    CHECK(scalar(db, std::string("SELECT count(*) FROM metrics WHERE run_id = 1 AND key = '") + key + "'") == "10");
  }
  // samples_per_step = 4 completions a step, with their reward breakdown and finish reason
  CHECK(scalar(db, "SELECT count(*) FROM samples WHERE run_id = 1") == "40");
  CHECK(scalar(db, "SELECT count(*) FROM samples WHERE reward_breakdown LIKE '%math_accuracy%' AND finish_reason <> ''") == "40");
  // checkpoints at 5 and 10, each with a sha256; held-out evaluations at 5 and 10
  auto ck = query(db, "SELECT step, path, length(sha256) FROM checkpoints WHERE run_id = 1 ORDER BY step");
  REQUIRE(ck.size() == 2);
  CHECK(ck[1][0] == "10");
  CHECK(ck[1][2] == "64");
  CHECK(scalar(db, "SELECT count(DISTINCT step) FROM evals WHERE run_id = 1 AND metric = 'pass@1'") == "2");
  // the checkpoint is a Hugging Face folder `r1 generate` loads
  auto g = run_r1("generate --model " + shell_quote(ck[1][1]) + " --prompt 'What is 2 + 3?' --max-new-tokens 8 --temperature 0", d.path);
  INFO(g.err);
  CHECK(g.exit_code == 0);
  CHECK(r1::test::read_file(ck[1][1] + "/config.json").find("deepseek_v3") != std::string::npos);
}

TEST_CASE("r1 sample: rejection sampling from a run's checkpoint writes SFT lines and a samplesets row") {
  TempDir d;
  auto train = run_r1(smoke_args(d / "ckpt", 1) + " --set run.eval_every=0", d.path);
  INFO(train.err);
  REQUIRE(train.exit_code == 0);
  const std::string db = d / "runs/r1.db";
  const std::string ckpt = scalar(db, "SELECT path FROM checkpoints WHERE run_id = 1");
  const std::string args = "sample --model " + shell_quote(ckpt) + " --dataset arithmetic --difficulty 1 --limit 6 --n 4 "
                           "--max-new-tokens 24 --out sft.jsonl --keep ";
  auto s = run_r1(args + "finished,first_k=2", d.path);
  INFO(s.err);
  REQUIRE(s.exit_code == 0);
  auto rows = query(db, "SELECT source_run_id, prompts, samples, kept, prompts_kept, rules, length(sha256), dropped_json FROM samplesets");
  REQUIRE(rows.size() == 1);
  CHECK(rows[0][0] == "1");  // the checkpoint's run
  CHECK(rows[0][1] == "6");
  CHECK(rows[0][2] == "24");
  CHECK(rows[0][5] == "finished,first_k=2");
  CHECK(rows[0][6] == "64");
  const int64_t kept = std::stoll(rows[0][3]);
  CHECK(kept <= 12);  // at most two per prompt
  // Every sample is either kept or counted under the rule that dropped it.
  int64_t dropped = 0;
  const std::string& counts = rows[0][7];
  for (size_t at = counts.find(':'); at != std::string::npos; at = counts.find(':', at + 1)) dropped += std::stoll(counts.substr(at + 1));
  CHECK(kept + dropped == 24);
  const std::string out = r1::test::read_file(d / "sft.jsonl");
  int64_t lines = 0;
  for (size_t at = out.find('\n'); at != std::string::npos; at = out.find('\n', at + 1)) ++lines;
  CHECK(lines == kept);
  if (kept > 0) {
    CHECK(out.find("\"messages\":[{\"content\":\"What is") != std::string::npos);
    CHECK(out.find("\"role\":\"assistant\"") != std::string::npos);
    CHECK(out.find("\"prompt_id\":") != std::string::npos);
  }
  // A bad rule: exit 2, one line naming it, and the file already there untouched.
  auto bad = run_r1(args + "correct,corect", d.path);
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("--keep corect: unknown rule") != std::string::npos);
  CHECK(r1::test::read_file(d / "sft.jsonl") == out);
  CHECK(scalar(db, "SELECT count(*) FROM samplesets") == "1");
}

TEST_CASE("GRPO learns a task whose optimum is known: start the answer with a digit") {
  // From random initialisation a digit comes first ~3% of the time; the reward is 1 exactly then.
  TempDir d;
  r1::test::write_file(d / "digit.toml", "include = [" + shell_quote(kSource + "/experiments/recipes/smoke.toml") +
                                             "]\n"
                                             "[run]\nname = \"digit\"\nsteps = 40\ncheckpoint_every = 0\neval_every = 0\n"
                                             "[rollout]\nmax_new_tokens = 4\n"
                                             "[rl]\nbeta = 0.0\nmu = 1\nn_minibatches = 1\nmicro_batch_size = 0\n"
                                             "prompts_per_step = 8\nlr = 5e-3\n"
                                             "[[rewards]]\nname = \"format\"\nregex = '^\\s*\\d'\n");
  auto r = run_r1("train digit.toml --set " + shell_quote("model.init=" + kSource + "/experiments/recipes/models/smoke-v3.json") +
                      " --set " + shell_quote("model.tokenizer=" + kSource + "/experiments/recipes/tokenizers/demo-bpe") +
                      " --set run.out_dir=ckpt --set run.threads=1",
                  d.path);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto reward = series(d / "runs/r1.db", 1, "reward");
  REQUIRE(reward.size() == 40);
  double first = mean(reward, 0, 10), second = mean(reward, 10, 20), third = mean(reward, 20, 30), last = mean(reward, 30, 40);
  INFO(first << " " << second << " " << third << " " << last);
  CHECK(first < 0.2);
  CHECK(second >= first);
  CHECK(third >= second);
  CHECK(last >= third);
  CHECK(last > 0.8);
}

namespace {

// Runs the smoke recipe (with `sets`) whole, and again killed with SIGKILL right after its first
// checkpoint and resumed: every reproducible metric, evaluation and sample must match. Returns the
// whole run's metrics.
std::map<std::pair<int64_t, std::string>, std::string> check_killed_run_resumes_exactly(const std::vector<std::string>& sets) {
  TempDir d;
  const int steps = 9;
  std::vector<std::string> common{"run.checkpoint_every=3", "run.eval_every=3", "rl.ref_sync_every=4"};
  common.insert(common.end(), sets.begin(), sets.end());
  std::string common_args;
  for (const auto& s : common) common_args += " --set " + shell_quote(s);
  auto whole = run_r1(smoke_args(d / "a", steps) + common_args + " --name whole", d.path);
  INFO(whole.err);
  REQUIRE(whole.exit_code == 0);
  std::string db = d / "runs/r1.db";

  // The second run dies hard right after its first checkpoint is registered (mid-step 4 or so).
  std::vector<std::string> args{"train", kSource + "/experiments/recipes/smoke.toml", "--name", "killed"};
  std::vector<std::string> all{"run.steps=" + std::to_string(steps), "model.init=" + kSource + "/experiments/recipes/models/smoke-v3.json",
                               "model.tokenizer=" + kSource + "/experiments/recipes/tokenizers/demo-bpe", "run.out_dir=" + (d / "b"),
                               std::string("run.threads=1")};
  all.insert(all.end(), common.begin(), common.end());
  for (const auto& s : all) {
    args.push_back("--set");
    args.push_back(s);
  }
  pid_t pid = spawn_r1(d.path.string(), args);
  bool saw = wait_for_row(db, "SELECT 1 FROM checkpoints WHERE run_id = 2 AND step = 3", pid);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(saw);
  CHECK(WIFSIGNALED(status));
  CHECK(scalar(db, "SELECT status FROM runs WHERE id = 2") == "running");  // it had no chance to say otherwise
  CHECK(std::stoll(scalar(db, "SELECT count(DISTINCT step) FROM metrics WHERE run_id = 2")) < steps);

  auto resumed = run_r1("train --resume 2", d.path);
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(resumed.err.find("from step 3") != std::string::npos);
  CHECK(scalar(db, "SELECT status FROM runs WHERE id = 2") == "finished");

  auto a = reproducible_metrics(db, 1), b = reproducible_metrics(db, 2);
  CHECK(a.size() >= static_cast<size_t>(steps * 20));
  CHECK(a.size() == b.size());
  int differing = 0;
  for (auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end() || it->second != v) {
      if (++differing <= 5) MESSAGE("step " << k.first << " " << k.second << ": " << v << " vs " << (it == b.end() ? "missing" : it->second));
    }
  }
  CHECK(differing == 0);
  CHECK(query(db, "SELECT step, metric, printf('%.17g', value) FROM evals WHERE run_id = 1 ORDER BY step, metric") ==
        query(db, "SELECT step, metric, printf('%.17g', value) FROM evals WHERE run_id = 2 ORDER BY step, metric"));
  CHECK(query(db, "SELECT step, task_id, completion FROM samples WHERE run_id = 1 ORDER BY id") ==
        query(db, "SELECT step, task_id, completion FROM samples WHERE run_id = 2 ORDER BY id"));
  return a;
}

}  // namespace

TEST_CASE("a run killed with SIGKILL and resumed reproduces the uninterrupted run's metrics") {
  check_killed_run_resumes_exactly({});
}

TEST_CASE("PPO: a run killed with SIGKILL resumes with its critic (values, optimizer) and adaptive KL exactly") {
  // A separate critic past its warm-up at the checkpoint, the KL in the reward with an adaptive beta.
  auto m = check_killed_run_resumes_exactly({"rl.advantage=gae", "rl.critic=separate", "rl.scale=batch", "rl.critic_warmup=2",
                                             "rl.critic_lr=1e-3", "rl.kl_in=reward", "rl.kl_target=0.01", "rl.beta=0.05"});
  // The critic really was in the comparison: learning after its warm-up, and the beta adapted.
  CHECK(m[{2, "critic/warmup"}] == "1");
  CHECK(m[{9, "critic/warmup"}] == "0");
  CHECK(m.count({9, "critic/value_loss"}) == 1);
  CHECK(std::stod(m[{9, "critic/values_mean"}]) != 0.0);
  CHECK(std::stod(m[{9, "kl_coef"}]) != 0.05);
}

TEST_CASE("Ctrl-C checkpoints the step reached and marks the run interrupted; --resume finishes it") {
  TempDir d;
  std::vector<std::string> args{"train", kSource + "/experiments/recipes/smoke.toml"};
  for (std::string s : {std::string("run.steps=400"), "model.init=" + kSource + "/experiments/recipes/models/smoke-v3.json",
                        "model.tokenizer=" + kSource + "/experiments/recipes/tokenizers/demo-bpe", "run.out_dir=" + (d / "c"),
                        std::string("run.threads=1"), std::string("run.eval_every=0"), std::string("run.checkpoint_every=0")}) {
    args.push_back("--set");
    args.push_back(s);
  }
  std::string db = d / "runs/r1.db";
  pid_t pid = spawn_r1(d.path.string(), args);
  bool saw = wait_for_row(db, "SELECT 1 FROM metrics WHERE run_id = 1 AND step = 2", pid);
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(saw);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  CHECK(scalar(db, "SELECT status FROM runs WHERE id = 1") == "interrupted");
  std::string step = scalar(db, "SELECT max(step) FROM checkpoints WHERE run_id = 1");
  REQUIRE(!step.empty());
  CHECK(std::stoll(step) >= 2);
  CHECK(std::stoll(step) < 400);
  CHECK(scalar(db, "SELECT max(step) FROM metrics WHERE run_id = 1") == step);

  auto resumed = run_r1("train --resume 1 --set run.steps=1", d.path);  // --set is not for resume
  CHECK(resumed.exit_code == 2);
}

TEST_CASE("bad recipes fail with one line naming the key or file, and create no run") {
  TempDir d;
  auto typo = run_r1("train " + shell_quote(kSource + "/experiments/recipes/smoke.toml") + " --set rl.bta=0.1", d.path);
  CHECK(typo.exit_code == 2);
  CHECK(r1::test::count_lines(typo.err) == 1);
  CHECK(typo.err.find("rl.bta") != std::string::npos);
  CHECK(typo.err.find("rl.beta") != std::string::npos);  // the suggestion
  r1::test::write_file(d / "data.jsonl", "{\"question\": \"1+1\", \"answer\": \"2\"}\n{\"question\": \"2+2\"}\n");
  auto missing = run_r1(smoke_args(d / "x", 1) + " --set data.dataset=jsonl --set data.path=data.jsonl --set data.holdout=0", d.path);
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find("data.jsonl:2") != std::string::npos);
  CHECK(missing.err.find("answer") != std::string::npos);
  CHECK(scalar(d / "runs/r1.db", "SELECT count(*) FROM runs WHERE status = 'running'") == "0");
}

TEST_CASE("bf16 with routing replay and TIS: trains, records the rollout/learner mismatch, checkpoints fp32 masters") {
  TempDir d;
  std::string db = d / "runs/r1.db";
  auto r = run_r1(smoke_args(d / "ck", 2) + " --set model.dtype=bfloat16 --set rl.routing_replay=true --set rl.is_correction=tis" +
                      " --set run.eval_every=0 --set run.checkpoint_every=0",
                  d.path);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  for (double v : series(db, 1, "mismatch/kl")) CHECK((v >= 0 && v < 0.05));
  for (double v : series(db, 1, "is/mean_weight")) CHECK((v > 0.5 && v < 1.5));
  CHECK(series(db, 1, "is/frac_limited").size() == 2);
  auto ck = query(db, "SELECT path FROM checkpoints WHERE run_id = 1");
  REQUIRE(ck.size() == 1);
  CHECK(std::filesystem::exists(ck[0][0] + "/master.safetensors"));
}

TEST_CASE("mu > 1 updates against the old log-probs; on-policy updates have ratio exactly 1") {
  TempDir d;
  std::string db = d / "runs/r1.db";
  // mu = 2 with 2 minibatches: every update after the first sees a policy that moved
  REQUIRE(run_r1(smoke_args(d / "a", 3) + " --set rl.mu=2 --set rl.n_minibatches=2 --set run.eval_every=0", d.path).exit_code == 0);
  for (double r : series(db, 1, "ratio/max")) CHECK(r > 1.0);
  for (double r : series(db, 1, "ratio/min")) CHECK(r < 1.0);
  // mu = 1, one minibatch (split into micro-batches): old log-probs are the current ones
  REQUIRE(run_r1(smoke_args(d / "b", 3) + " --set rl.mu=1 --set rl.n_minibatches=1 --set rl.micro_batch_size=8 --set run.eval_every=0",
                 d.path)
              .exit_code == 0);
  for (double r : series(db, 2, "ratio/max")) CHECK(r == 1.0);
  for (double r : series(db, 2, "ratio/min")) CHECK(r == 1.0);
}

TEST_CASE("the other estimators and losses run the whole loop: ReMax's greedy baseline, REINFORCE++ with the KL in the reward, adaptive beta") {
  TempDir d;
  std::string db = d / "runs/r1.db";
  // ReMax: one greedy completion per prompt is scored (its mean reward is a metric) but neither
  // trained on nor recorded as a sample: 4 prompts x 8 completions per step as without it.
  auto remax = run_r1(smoke_args(d / "a", 2) + " --set rl.advantage=remax --set rl.scale=none --set run.eval_every=0 --set run.samples_per_step=100", d.path);
  INFO(remax.err);
  REQUIRE(remax.exit_code == 0);
  CHECK(series(db, 1, "remax/greedy_reward").size() == 2);
  CHECK(scalar(db, "SELECT count(*) FROM samples WHERE run_id = 1 AND step = 1") == "32");
  // REINFORCE++ with the KL in the reward and an adaptive beta: beta moves away from 0.001.
  auto pp = run_r1(smoke_args(d / "b", 3) + " --set rl.advantage=reinforce_pp --set rl.kl_in=reward --set rl.kl_target=1e-6"
                                            " --set rl.kl_horizon=100 --set rl.policy_loss=sapo --set rl.entropy_coef=0.001 --set run.eval_every=0",
                   d.path);
  INFO(pp.err);
  REQUIRE(pp.exit_code == 0);
  auto beta = series(db, 2, "kl_coef");
  REQUIRE(beta.size() == 3);
  CHECK(beta[0] == doctest::Approx(0.001));
  CHECK(beta[2] != beta[0]);
  // Combinations that cannot work stop at load.
  auto bad = run_r1(smoke_args(d / "c", 2) + " --set rl.advantage=remax", d.path);
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("rl.scale") != std::string::npos);
}

TEST_CASE("dynamic sampling drops zero-variance groups and samples more prompts until the batch is full") {
  // A reward a random policy earns ~5% of the time: most groups of 8 are all zeros.
  TempDir d;
  r1::test::write_file(d / "dyn.toml", "include = [" + shell_quote(kSource + "/experiments/recipes/smoke.toml") +
                                           "]\n"
                                           "[run]\nname = \"dyn\"\nsteps = 4\ncheckpoint_every = 0\neval_every = 0\n"
                                           "[rollout]\nmax_new_tokens = 2\n"
                                           "[rl]\nbeta = 0.0\nprompts_per_step = 4\ndynamic_sampling = true\nmax_extra_rounds = 40\n"
                                           "[[rewards]]\nname = \"format\"\nregex = '\\d'\n");
  auto r = run_r1("train dyn.toml --set " + shell_quote("model.init=" + kSource + "/experiments/recipes/models/smoke-v3.json") +
                      " --set " + shell_quote("model.tokenizer=" + kSource + "/experiments/recipes/tokenizers/demo-bpe") +
                      " --set run.out_dir=ckpt --set run.threads=1",
                  d.path);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::string db = d / "runs/r1.db";
  auto kept = series(db, 1, "dynamic/kept_groups"), rounds = series(db, 1, "dynamic/extra_rounds");
  auto zero = series(db, 1, "frac_reward_zero_std");
  REQUIRE(kept.size() == 4);
  double extra = 0;
  for (size_t i = 0; i < kept.size(); ++i) {
    CHECK(kept[i] == 4.0);  // the batch is full of groups that teach something
    extra += rounds[i];
    CHECK(zero[i] > 0.0);   // measured before the filter: there was something to drop
  }
  CHECK(extra > 0);
  for (double a : series(db, 1, "advantages/std")) CHECK(a > 0.5);
}

TEST_CASE("gsm8k-hf.toml: a Hugging Face model folder loads and trains a GRPO step on GSM8K, evaluated on its test split") {
  R1_REQUIRE_SHARED(shared);
  TempDir d;
  // A tiny random Qwen2 folder laid out as a user's would be: config.json, safetensors, tokenizer.
  r1::test::write_file(d / "tiny-qwen2.json", R"({"model_type": "qwen2", "vocab_size": 384, "hidden_size": 32,
    "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "attention_bias": true, "rms_norm_eps": 1e-6, "rope_theta": 10000, "max_position_embeddings": 1024,
    "initializer_range": 0.02, "tie_word_embeddings": true})");
  auto init = run_r1("model init " + shell_quote(d / "tiny-qwen2.json") + " --out " + shell_quote(d / "hf") + " --seed 3", d.path);
  INFO(init.err);
  REQUIRE(init.exit_code == 0);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
    std::filesystem::copy_file(kSource + "/experiments/recipes/tokenizers/demo-bpe/" + f, d / (std::string("hf/") + f));
  setenv("R1_SHARED", shared.c_str(), 1);
  auto r = run_r1("train " + shell_quote(kSource + "/experiments/recipes/gsm8k-hf.toml") +
                      " --set model.path=hf --set run.steps=1 --set run.eval_every=1 --set eval.limit=3 --set eval.k=2"
                      " --set rollout.group_size=2 --set rl.prompts_per_step=2 --set rollout.max_new_tokens=8"
                      " --set eval.max_new_tokens=8 --set run.threads=1 --set run.out_dir=ckpt",
                  d.path);
  unsetenv("R1_SHARED");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::string db = d / "runs/r1.db";
  CHECK(scalar(db, "SELECT status FROM runs WHERE id = 1") == "finished");
  CHECK(scalar(db, "SELECT value FROM params WHERE run_id = 1 AND key = 'data.dataset'") == "gsm8k");
  CHECK(scalar(db, "SELECT count(*) FROM metrics WHERE run_id = 1 AND key = 'rewards/math_accuracy/mean'") == "1");
  CHECK(scalar(db, "SELECT count(*) FROM samples WHERE run_id = 1 AND length(prompt) > 20") == "4");  // GSM8K questions
  CHECK(scalar(db, "SELECT n FROM evals WHERE run_id = 1 AND metric = 'pass@1'") == "3");
  CHECK(r1::test::read_file(d / (scalar(db, "SELECT path FROM checkpoints WHERE run_id = 1") + "/config.json")).find("qwen2") !=
        std::string::npos);
}

TEST_CASE("r1 pretrain and r1 sft: packed next-token training, then SFT on assistant tokens, both recorded") {
  TempDir d;
  std::string corpus, chats;
  for (int i = 0; i < 60; ++i) {
    corpus += "{\"text\": \"User: " + std::to_string(i) + " + 1? Assistant: <think> add one </think> <answer>" +
              std::to_string(i + 1) + "</answer>\"}\n";
    chats += "{\"messages\": [{\"role\": \"user\", \"content\": \"" + std::to_string(i) + " + 2?\"}, {\"role\": \"assistant\", "
             "\"content\": \"<answer>" + std::to_string(i + 2) + "</answer>\"}]}\n";
  }
  r1::test::write_file(d / "corpus.jsonl", corpus);
  r1::test::write_file(d / "chats.jsonl", chats);
  // SFT needs a chat template: the demo tokenizer with a minimal one added.
  std::filesystem::create_directories(d / "tok");
  std::filesystem::copy_file(kSource + "/experiments/recipes/tokenizers/demo-bpe/tokenizer.json", d / "tok/tokenizer.json");
  r1::test::write_file(d / "tok/tokenizer_config.json",
                       R"({"eos_token": "<|endoftext|>", "add_bos_token": false, "chat_template": "{% for m in messages %})"
                       R"({{ m['role'] }}: {{ m['content'] }}{% if m['role'] == 'assistant' %}<|endoftext|>{% endif %}\n{% endfor %})"
                       R"({% if add_generation_prompt %}assistant: {% endif %}"})");
  r1::test::write_file(d / "lm.toml", "[run]\nsteps = 4\nlog_every = 1\nthreads = 1\nout_dir = \"ckpt\"\n\n[model]\ninit = \"" + kSource +
                                          "/experiments/recipes/models/smoke-v3.json\"\ntokenizer = \"tok\"\n\n[lm]\ncorpus = [\"corpus.jsonl\"]\n"
                                          "seq_len = 32\nbatch_size = 4\nlr = 1e-3\n");
  auto pre = run_r1("pretrain lm.toml --name base", d.path);
  INFO(pre.err);
  REQUIRE(pre.exit_code == 0);
  std::string db = d / "runs/r1.db";
  CHECK(scalar(db, "SELECT kind || ' ' || status FROM runs WHERE id = 1") == "pretrain finished");
  auto loss = series(db, 1, "loss");
  REQUIRE(loss.size() == 4);
  CHECK(loss.back() < loss.front());
  std::string base = scalar(db, "SELECT path FROM checkpoints WHERE run_id = 1 ORDER BY step DESC LIMIT 1");
  REQUIRE(!base.empty());
  auto sft = run_r1("sft lm.toml --name sft --set " + shell_quote("model.path=" + base) + " --set model.init= --set " +
                        shell_quote("lm.corpus=[\"chats.jsonl\"]"),
                    d.path);
  INFO(sft.err);
  REQUIRE(sft.exit_code == 0);
  CHECK(scalar(db, "SELECT kind || ' ' || status FROM runs WHERE id = 2") == "sft finished");
  CHECK(series(db, 2, "loss").size() == 4);
  // R1's SFT mix: non-reasoning chats drawn to a quarter of the sequences (60 + 20).
  std::string other;
  for (int i = 0; i < 7; ++i) other += "{\"messages\": [{\"role\": \"user\", \"content\": \"hi " + std::to_string(i) +
                                       "\"}, {\"role\": \"assistant\", \"content\": \"hello\"}]}\n";
  r1::test::write_file(d / "other.jsonl", other);
  auto mixed = run_r1("sft lm.toml --name mixed --set " + shell_quote("model.path=" + base) + " --set model.init= --set " +
                          shell_quote("lm.corpus=[\"chats.jsonl\"]") + " --set " + shell_quote("lm.mix=[\"other.jsonl\"]") +
                          " --set lm.mix_share=0.25",
                      d.path);
  INFO(mixed.err);
  CHECK(mixed.exit_code == 0);
  CHECK(mixed.err.find("80 training sequences of 32 tokens (60 from lm.corpus, 20 from lm.mix)") != std::string::npos);
  auto no_share = run_r1("sft lm.toml --set " + shell_quote("lm.mix=[\"other.jsonl\"]"), d.path);
  CHECK(no_share.exit_code == 2);
  CHECK(no_share.err.find("lm.mix: set lm.mix_share") != std::string::npos);
  auto bad = run_r1("sft lm.toml --set " + shell_quote("lm.corpus=[\"missing.jsonl\"]"), d.path);
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("missing.jsonl") != std::string::npos);
}
