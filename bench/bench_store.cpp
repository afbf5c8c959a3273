// bench_store: metric rows per second through RunStore (buffered, batched transactions) against
// plain prepared-statement inserts of the same rows in one transaction, in the same process; and
// the logging cost of a training step with 100 metrics and 64 samples, as a share of a 1 s step.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "experiments/run_store.h"

using namespace r1::experiments;
using r1::bench::now_s;

int main(int argc, char** argv) {
  const int64_t kRows = argc > 1 ? std::atoll(argv[1]) : 2'000'000;
  const int kMetricsPerStep = 100;
  std::string dir = std::filesystem::temp_directory_path() / ("bench_store_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);

  std::vector<std::string> keys;
  for (int k = 0; k < kMetricsPerStep; ++k) keys.push_back("metric/key_" + std::to_string(k));

  // 1. Plain SQLite: one prepared INSERT per row into a table with no key or index (the ~1.5M
  //    rows/s reference of the issue), one transaction.
  double plain_rate = 0;
  {
    auto store = RunStore::open(dir + "/plain.db");
    int64_t run = store.create_run({.name = "plain"});
    Database& db = store.database();
    double t0 = now_s();
    Database::Transaction tx(db);
    db.exec("CREATE TABLE plain_metrics (run_id INTEGER, key TEXT, step INTEGER, value REAL, wall_time REAL)");
    Statement ins = db.prepare("INSERT INTO plain_metrics (run_id, key, step, value, wall_time) VALUES (?, ?, ?, ?, ?)");
    for (int64_t i = 0; i < kRows; ++i) {
      ins.bind(1, run).bind_static(2, keys[i % kMetricsPerStep]).bind(3, i / kMetricsPerStep).bind(4, i * 0.5).bind(5, 1.0);
      ins.step();
      ins.reset();
    }
    tx.commit();
    plain_rate = kRows / (now_s() - t0);
  }

  // 2. Through the API: log_metrics per step (maps of 100), automatic batched flushes.
  double api_rate = 0;
  {
    auto store = RunStore::open(dir + "/api.db");
    int64_t run = store.create_run({.name = "api"});
    std::vector<std::pair<std::string, double>> values;
    for (const auto& k : keys) values.emplace_back(k, 0.0);
    double t0 = now_s();
    for (int64_t step = 0; step < kRows / kMetricsPerStep; ++step) {
      for (int k = 0; k < kMetricsPerStep; ++k) values[k].second = step * 0.5 + k;
      store.log_metrics(run, step, values);
    }
    store.flush();
    api_rate = kRows / (now_s() - t0);
  }

  // 3. A training step's logging: 100 metrics + 64 samples (~1.5 KB completions), then flush.
  double per_step_s = 0;
  const int kSteps = 200;
  {
    auto store = RunStore::open(dir + "/step.db");
    int64_t run = store.create_run({.name = "steps"});
    std::vector<std::pair<std::string, double>> values;
    for (const auto& k : keys) values.emplace_back(k, 0.0);
    SampleRecord s;
    s.prompt = std::string(400, 'p');
    s.completion = "<think>" + std::string(1500, 'c') + "</think><answer>42</answer>";
    s.reward_breakdown_json = R"({"math_accuracy": 1.0, "format": 1.0})";
    s.finish_reason = "stop";
    double t0 = now_s();
    for (int step = 0; step < kSteps; ++step) {
      for (int k = 0; k < kMetricsPerStep; ++k) values[k].second = step + k;
      store.log_metrics(run, step, values);
      for (int i = 0; i < 64; ++i) {
        s.step = step;
        s.task_id = "task/" + std::to_string(i);
        s.reward = i % 2;
        store.log_sample(run, s);
      }
      store.flush();
    }
    per_step_s = (now_s() - t0) / kSteps;
  }
  std::filesystem::remove_all(dir);

  double overhead_pct = per_step_s / 1.0 * 100.0;
  std::printf("%-44s %14s\n", "measurement", "value");
  std::printf("%-44s %14.0f\n", "plain SQLite inserts, no index (rows/s)", plain_rate);
  std::printf("%-44s %14.0f\n", "RunStore::log_metrics + flush (rows/s)", api_rate);
  std::printf("%-44s %14.3f\n", "API / plain", api_rate / plain_rate);
  std::printf("%-44s %14.3f\n", "step logging: 100 metrics + 64 samples (ms)", per_step_s * 1e3);
  std::printf("%-44s %14.4f\n", "share of a 1 s step (%)", overhead_pct);
  std::printf("RESULT rows_per_s=%.0f plain_rows_per_s=%.0f api_vs_plain=%.3f step_overhead_pct=%.4f\n", api_rate,
              plain_rate, api_rate / plain_rate, overhead_pct);
  return 0;
}
