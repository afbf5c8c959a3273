// A store with known contents for the dashboard's tests: two runs to compare, a two-stage pipeline,
// 5,000-step curves (more than one chart draws), MoE loads, and samples whose text is markup.
#pragma once

#include <cmath>
#include <string>

#include "experiments/run_store.h"

namespace r1::test {

struct DashboardRuns {
  int64_t alpha = 0, beta = 0, base = 0, zero = 0;
};

inline const char* kScriptCompletion = "<script>window.__pwned = 1</script> and \"><img src=x onerror=\"window.__pwned=2\"> <b>bold?</b>";

// Expert e's share of MoE layer l's tokens at step s: drifting, as an unbalanced router's would.
inline double expert_share(int l, int e, int64_t s) { return 0.25 + 0.08 * std::sin(static_cast<double>(s) / 800.0 + e + 2 * l); }

inline DashboardRuns write_dashboard_store(const std::string& path) {
  using namespace r1::experiments;
  RunStore store = RunStore::open(path);
  DashboardRuns ids;
  NewRun a;
  a.name = "alpha";
  a.kind = "train";
  a.seed = 1;
  a.recipe_text = "[run]\nname = \"alpha\"\n";
  a.config_json = R"({"rl": {"beta": 0.001}})";
  a.params = {{"rl.beta", "0.001"}, {"rl.lr", "1e-5"}, {"run.seed", "1"}, {"rollout.group_size", "8"}};
  a.tags = {"baseline"};
  a.notes = "<i>notes are text</i>";
  ids.alpha = store.create_run(a);
  for (int64_t s = 0; s < 5000; ++s) {
    double x = static_cast<double>(s);
    std::vector<std::pair<std::string, double>> m = {{"reward", 1.0 - std::exp(-x / 1000.0)}, {"accuracy", x / 5000.0}};
    if (s == 2500) m[0].second = 5.0;  // a spike that downsampling must keep
    if (s % 100 == 0)
      for (int l = 0; l < 2; ++l)
        for (int e = 0; e < 4; ++e)
          m.emplace_back("moe/load/l" + std::to_string(l) + "/e" + std::to_string(e), expert_share(l, e, s));
    store.log_metrics(ids.alpha, s, m);
  }
  for (int64_t step = 0; step < 3; ++step)
    for (int i = 0; i < 8; ++i) {
      SampleRecord r;
      r.step = step;
      r.task_id = "gsm8k/" + std::to_string(i);
      r.prompt = "What is " + std::to_string(i) + " + " + std::to_string(step) + "?";
      r.reference = std::to_string(i + step);
      r.completion = (step == 2 && i == 0) ? std::string(kScriptCompletion) : "<think>add</think><answer>" + std::to_string(i + step) + "</answer>";
      r.reward = i % 2 == 0 ? 1.0 : 0.0;
      r.reward_breakdown_json = i % 2 == 0 ? R"({"accuracy": 1, "format": 1})" : R"({"accuracy": 0, "format": 1})";
      r.finish_reason = i == 7 ? "length" : "eos";
      r.prompt_tokens = 10;
      r.completion_tokens = 20 + i;
      store.log_sample(ids.alpha, r);
    }
  store.add_checkpoint(ids.alpha, {4999, "/tmp/alpha/step-4999", "ab12", 1234});
  store.add_eval(ids.alpha, {4999, "gsm8k", "pass@1", 0.75, 200});
  store.finish_run(ids.alpha, RunStatus::finished);

  NewRun b = a;
  b.name = "beta";
  b.params = {{"rl.beta", "0.01"}, {"rl.lr", "1e-5"}, {"run.seed", "2"}, {"rollout.group_size", "8"}};
  b.tags = {};
  b.notes = "";
  ids.beta = store.create_run(b);
  for (int64_t s = 0; s < 50; ++s) store.log_metrics(ids.beta, s, {{"reward", 0.01 * static_cast<double>(s)}, {"accuracy", 0.5}});
  store.flush();  // beta stays `running`: the live test appends to it

  int64_t pipe = store.pipeline_id("demo-pipe", "/tmp/demo-pipe.toml");
  NewRun base;
  base.name = "demo-pipe.base";
  base.kind = "pretrain";
  base.pipeline_id = pipe;
  base.stage = "base";
  ids.base = store.create_run(base);
  store.log_metrics(ids.base, 10, {{"loss", 0.25}});
  store.finish_run(ids.base, RunStatus::finished);
  NewRun zero = base;
  zero.name = "demo-pipe.zero";
  zero.kind = "grpo";
  zero.stage = "zero";
  zero.parent_run_id = ids.base;
  ids.zero = store.create_run(zero);
  store.log_metrics(ids.zero, 5, {{"reward", 1.5}});
  store.finish_run(ids.zero, RunStatus::finished);
  store.flush();
  return ids;
}

}  // namespace r1::test
