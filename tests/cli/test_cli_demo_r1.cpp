// `r1 demo --r1` end to end with every stage of experiments/pipelines/r1.toml shrunk to a few
// steps: the data it writes (held-out problems never in the corpus), every stage a run of one
// pipeline with its lineage, every model evaluated on both held-out sets, the table's figures
// in range; the same command again reuses every stage and reproduces the table; another --seed
// reuses only the two bases (their own seeds) and re-runs everything after them.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "tests/cli/store_helpers.h"
#include "tests/test_util.h"

using r1::test::run_r1;
using r1::test::TempDir;
using namespace r1::test::store;
using Json = nlohmann::json;

namespace {

// Seconds per stage: few steps, small batches, few prompts; the sample stages keep the first
// answer of each prompt (a 4-step model answers nothing right, and the SFT stages need data).
std::string tiny_sets() {
  std::string s;
  auto set = [&](const std::string& kv) { s += " --set " + r1::test::shell_quote(kv); };
  for (const char* base : {"base", "student_base"}) {
    set(std::string("stage.") + base + ".run.steps=3");
    set(std::string("stage.") + base + ".lm.batch_size=4");
  }
  for (const char* rl : {"zero", "reason", "final", "student_rl"}) {
    set(std::string("stage.") + rl + ".run.steps=2");
    set(std::string("stage.") + rl + ".rl.prompts_per_step=2");
    set(std::string("stage.") + rl + ".rollout.group_size=2");
    set(std::string("stage.") + rl + ".rollout.max_new_tokens=24");
  }
  for (const char* rs : {"rs_cold", "rs_sft", "rs_distill"}) {
    set(std::string("stage.") + rs + ".sample.limit=4");
    set(std::string("stage.") + rs + ".sample.n=2");
    set(std::string("stage.") + rs + ".sample.max_new_tokens=24");
    set(std::string("stage.") + rs + ".sample.keep=first_k=1");
  }
  for (const char* sft : {"cold_start", "sft", "student_distill"}) {
    set(std::string("stage.") + sft + ".run.steps=2");
    set(std::string("stage.") + sft + ".lm.batch_size=2");
  }
  return s;
}

const std::vector<std::string> kStages = {"base", "student_base", "zero", "rs_cold", "cold_start", "reason",
                                          "rs_sft", "sft", "final", "rs_distill", "student_distill", "student_rl"};
const std::set<std::string> kModels = {"base", "student_base", "zero", "cold_start", "reason", "sft", "final", "student_distill", "student_rl"};

Json demo(const TempDir& d, int seed) {
  auto r = run_r1("--json demo --r1 --dir r1demo --eval-limit 2 --seed " + std::to_string(seed) + tiny_sets(), d.path);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return Json::parse(r.out);
}

std::set<std::string> ids_in(const std::string& path) {
  std::set<std::string> ids;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) ids.insert(Json::parse(line)["id"].get<std::string>());
  return ids;
}

}  // namespace

TEST_CASE("r1 demo --r1 runs R1's chain, evaluates every stage, and reuses what it already made") {
  TempDir d;
  const Json first = demo(d, 1);
  REQUIRE(first["stages"].size() == kStages.size());
  for (size_t i = 0; i < kStages.size(); ++i) {
    const Json& s = first["stages"][i];
    CAPTURE(kStages[i]);
    CHECK(s["stage"] == kStages[i]);
    CHECK(s["reused"] == false);
    if (!kModels.count(kStages[i])) {
      CHECK(!s.contains("math"));
      continue;
    }
    for (const char* set : {"math", "code"}) {
      CHECK(s[set]["problems"] == 2);
      CHECK(s[set]["pass@1"].get<double>() >= 0.0);
      CHECK(s[set]["pass@1"].get<double>() <= 1.0);
    }
    CHECK(s["language"].get<double>() >= 0.0);
    CHECK(s["language"].get<double>() <= 1.0);
    CHECK(s["mean_length"].get<double>() > 0.0);
  }
  // The data: held-out problems never appear among the training problems.
  const std::string data = d / "r1demo/data";
  for (const char* f : {"math_train.jsonl", "math_heldout.jsonl", "code_heldout.jsonl", "mixed_train.jsonl", "corpus.jsonl", "chat.jsonl",
                        "tokenizer/tokenizer.json"})
    CHECK(std::filesystem::exists(data + "/" + f));
  std::set<std::string> train = ids_in(data + "/math_train.jsonl"), mixed = ids_in(data + "/mixed_train.jsonl");
  train.insert(mixed.begin(), mixed.end());
  for (const char* held : {"math_heldout.jsonl", "code_heldout.jsonl"})
    for (const auto& id : ids_in(data + "/" + held)) CHECK(!train.count(id));
  CHECK(ids_in(data + "/code_heldout.jsonl").size() == 100);

  // One pipeline in the store, every stage a run under the stage it started from; the
  // evaluations recorded with each model's run.
  const std::string db = d / "runs/r1.db";
  CHECK(scalar(db, "SELECT count(*) FROM runs WHERE pipeline_id = " + first["pipeline_id"].dump()) == "12");
  CHECK(query(db, "SELECT r.stage, COALESCE(p.stage, '') FROM runs r LEFT JOIN runs p ON p.id = r.parent_run_id "
                  "WHERE r.stage IN ('cold_start', 'sft', 'student_distill', 'student_rl') ORDER BY r.id") ==
        std::vector<std::vector<std::string>>{{"cold_start", "base"}, {"sft", "base"}, {"student_distill", "student_base"}, {"student_rl", "student_base"}});
  CHECK(scalar(db, "SELECT count(DISTINCT run_id) FROM evals WHERE dataset = 'demo-r1/code' AND metric = 'pass@1'") == "9");

  // Again, unchanged: every stage reused, the same figures.
  const Json again = demo(d, 1);
  for (size_t i = 0; i < kStages.size(); ++i) {
    CAPTURE(kStages[i]);
    CHECK(again["stages"][i]["reused"] == true);
    CHECK(again["stages"][i]["run"] == first["stages"][i]["run"]);
    if (kModels.count(kStages[i])) CHECK(again["stages"][i]["math"] == first["stages"][i]["math"]);
  }

  // Another seed: the bases (which set their own seed) are reused, everything after them re-runs.
  const Json seed2 = demo(d, 2);
  for (size_t i = 0; i < kStages.size(); ++i) {
    CAPTURE(kStages[i]);
    const bool base = kStages[i] == "base" || kStages[i] == "student_base";
    CHECK(seed2["stages"][i]["reused"] == base);
    CHECK((seed2["stages"][i]["run"] == first["stages"][i]["run"]) == base);
  }
}

TEST_CASE("r1 demo --r1 refuses the R1-Zero demo's options, and --set without --r1") {
  TempDir d;
  auto steps = run_r1("demo --r1 --pretrain-steps 5", d.path);
  CHECK(steps.exit_code != 0);
  CHECK(steps.err.find("--pretrain-steps is for the R1-Zero demo") != std::string::npos);
  auto set = run_r1("demo --set stage.base.run.steps=3", d.path);
  CHECK(set.exit_code != 0);
  CHECK(set.err.find("--set and --eval-limit go with --r1") != std::string::npos);
  auto bad = run_r1("demo --r1 --dir x --set stage.nosuch.run.steps=3", d.path);
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("no stage named 'nosuch'") != std::string::npos);
}
