// The run store: every run, its resolved config, step metrics, sampled completions, checkpoints and
// evaluations, in one SQLite file (WAL) that researchers can query with SQL at any time.
//
//   RunStore store = RunStore::open("runs/r1.db");
//   int64_t run = store.create_run({.name = "smoke", .kind = "train", .seed = 1});
//   store.log_metrics(run, step, {{"reward", 0.5}, {"kl", 0.01}});   // buffered
//   store.flush();                                                   // one transaction
//   store.finish_run(run, RunStatus::finished);
//
// Rows are buffered in memory and written in one transaction per flush() (or when the buffer is
// large), so logging costs microseconds per step. A SIGKILLed writer loses at most its unflushed
// rows; the file stays valid, and the next open on the same host marks the run `crashed`.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "experiments/sqlite_db.h"

namespace r1::experiments {

enum class RunStatus { running, finished, failed, crashed, interrupted };
const char* to_string(RunStatus s);
std::optional<RunStatus> parse_run_status(std::string_view s);

struct NewRun {
  std::string name;
  std::string kind = "train";    // train | pretrain | sft | eval | external | demo
  std::string recipe_text;       // the recipe file as written ("" for external runs)
  std::string config_json;       // the fully resolved config
  std::vector<std::pair<std::string, std::string>> params;  // flattened config: "rl.beta" -> "0.001"
  int64_t seed = 0;
  std::vector<std::string> tags;
  std::string notes;
  int64_t parent_run_id = 0;     // 0 = none (e.g. the base run a GRPO run starts from)
  int64_t pipeline_id = 0;       // 0 = not a pipeline stage
  std::string stage, stage_hash; // the stage's name and the hash of its config and inputs
};

struct RunInfo {
  int64_t id = 0;
  std::string name, kind, status, recipe, config_json, git_commit, host, notes;
  int64_t seed = 0, pid = 0, parent_run_id = 0, pipeline_id = 0;
  std::string stage, stage_hash;
  double started_at = 0, ended_at = 0;  // unix seconds; ended_at 0 while running
  std::vector<std::string> tags;
};

struct SampleRecord {
  int64_t step = 0;
  std::string task_id, prompt, completion;
  std::string reference;  // the task's reference answer ("" when it has none)
  double reward = 0;
  std::string reward_breakdown_json = "{}";
  std::string finish_reason;
  int64_t prompt_tokens = 0, completion_tokens = 0;
  int64_t weight_version = 0;
};

struct CheckpointRecord {
  int64_t step = 0;
  std::string path, sha256;
  int64_t bytes = 0;
};

struct EvalRecord {
  int64_t step = 0;
  std::string dataset, metric;
  double value = 0;
  int64_t n = 0;
};

// The latest figures `r1 runs ls` shows for a run (NULL when absent).
// A rejection-sampled data set (`r1 sample`), one row of `samplesets`.
struct SampleSetRecord {
  int64_t id = 0;
  std::string model, data, rules, out_path, sha256;
  int64_t source_run_id = 0;  // 0 = look it up: the run with a checkpoint at `model`, if any
  int64_t run_id = 0;         // the run that made it (a pipeline's sample stage); 0 = none
  int64_t n = 0, seed = 0, prompts = 0, samples = 0, kept = 0, prompts_kept = 0;
  double temperature = 0;
  std::string dropped_json = "{}";
};

struct RunHeadline {
  Cell step, reward, accuracy, eval_pass1;
};

struct RunFilter {
  std::optional<std::string> status;
  std::vector<std::string> tags;                              // all must be present
  std::vector<std::pair<std::string, std::string>> params;    // key = value (text compare, numbers numerically)
  std::optional<std::string> kind;
};

struct MetricPoint {
  int64_t step;
  double value;
  double wall_time;
  bool operator==(const MetricPoint&) const = default;
};

class RunStore {
 public:
  static constexpr int kSchemaVersion = 6;

  struct Options {
    bool read_only = false;
    bool create = true;        // create the file (and its folder) when missing
    int target_version = kSchemaVersion;  // tests build old databases with a lower value
    size_t flush_rows = 65536; // buffered rows that trigger an automatic flush
  };

  static RunStore open(const std::string& path, Options options);
  static RunStore open(const std::string& path) { return open(path, Options{}); }
  RunStore(RunStore&&) noexcept;
  RunStore& operator=(RunStore&&) noexcept;
  ~RunStore();  // flushes

  const std::string& path() const { return db_.path(); }
  int schema_version() { return db_.user_version(); }

  // --- writing ---------------------------------------------------------------------------
  int64_t create_run(const NewRun& run);
  void finish_run(int64_t run_id, RunStatus status);   // flushes first
  void set_status(int64_t run_id, RunStatus status);   // e.g. back to running on resume
  void add_tags(int64_t run_id, const std::vector<std::string>& tags);
  void remove_tags(int64_t run_id, const std::vector<std::string>& tags);
  void set_notes(int64_t run_id, const std::string& notes);
  void delete_run(int64_t run_id);

  void log_metrics(int64_t run_id, int64_t step, const std::vector<std::pair<std::string, double>>& values);
  void log_metric(int64_t run_id, int64_t step, std::string_view key, double value);
  void log_sample(int64_t run_id, const SampleRecord& sample);
  void add_checkpoint(int64_t run_id, const CheckpointRecord& ckpt);  // written immediately
  int64_t add_sampleset(const SampleSetRecord& set);                   // written immediately; returns its id
  // The pipeline of that name (created when new; its path updated to `path`).
  int64_t pipeline_id(const std::string& name, const std::string& path);
  void remove_checkpoint(int64_t run_id, int64_t step);
  void add_eval(int64_t run_id, const EvalRecord& eval);               // buffered
  // Drops metrics, samples and evals after `step` (a resumed run replays those steps).
  void truncate_after(int64_t run_id, int64_t step);
  void flush();
  size_t buffered_rows() const;

  // Marks `running` runs of this host whose process is gone as `crashed`; returns how many.
  int mark_dead_runs_crashed();

  // --- reading ---------------------------------------------------------------------------
  std::optional<RunInfo> find_run(const std::string& id_or_name);  // id, or the latest run with that name
  RunInfo get_run(int64_t run_id);
  std::vector<RunInfo> list_runs(const RunFilter& filter);
  std::vector<std::pair<std::string, std::string>> params(int64_t run_id);
  std::vector<MetricPoint> metric_series(int64_t run_id, const std::string& key);
  std::map<std::string, std::vector<MetricPoint>> metric_series_all(int64_t run_id);  // every key, one scan
  std::vector<CheckpointRecord> checkpoints(int64_t run_id);
  RunHeadline headline(int64_t run_id);
  std::vector<EvalRecord> evals(int64_t run_id);                  // by step, dataset, metric
  std::optional<int64_t> find_pipeline(const std::string& id_or_name);
  // The latest run of a pipeline's stage (any hash), and every run of a pipeline by id.
  std::optional<RunInfo> latest_stage_run(int64_t pipeline_id, const std::string& stage);
  std::vector<RunInfo> pipeline_runs(int64_t pipeline_id);
  std::optional<SampleSetRecord> sampleset_of_run(int64_t run_id);
  std::vector<EvalRecord> evals_at(int64_t run_id, int64_t step);
  double metric_total(int64_t run_id, const std::string& key);   // sum over steps; 0 when absent
  // A run's rows of one table ("metrics" | "samples" | "evals") in step order, for export.
  Statement export_rows(int64_t run_id, const std::string& table);
  ResultSet query(std::string_view sql);  // any read statement
  Database& database() { return db_; }

 private:
  RunStore() = default;
  void migrate(int target);
  void flush_locked();
  void write_samples_and_evals_locked();

  static constexpr size_t kMetricRowsPerInsert = 64;
  struct PendingMetric {
    int64_t run, step;
    int64_t key;  // index into key_names_ (a flush sorts a copy holding metric_keys.id)
    double value, time;
  };
  struct PendingSample {
    int64_t run;
    SampleRecord s;
    double time;
  };
  struct PendingEval {
    int64_t run;
    EvalRecord e;
    double time;
  };

  Database db_;
  Options options_;
  mutable std::mutex mu_;
  int64_t key_id_locked(uint32_t local);  // database id of a locally interned metric name
  std::vector<std::string> key_names_;         // local index -> name
  std::vector<int64_t> key_db_ids_;            // local index -> metric_keys.id (0 = not yet known)
  std::unordered_map<std::string, uint32_t> key_ids_;
  std::vector<PendingMetric> metrics_;
  std::vector<PendingSample> samples_;
  std::vector<PendingEval> evals_;
  std::optional<Statement> insert_metric_, insert_metrics_, insert_sample_, insert_eval_, insert_key_, select_key_;
};

// The figures that say how a pipeline stage went, by its run's kind: a sample stage's kept and
// sampled counts, an eval's pass@1, a GRPO run's reward, a distillation's KL, else the loss.
// Label and latest value, in the order shown; empty when the run logged none of them.
std::vector<std::pair<std::string, double>> stage_headline(Database& db, int64_t run_id, const std::string& kind);

double unix_now();
std::string host_name();

}  // namespace r1::experiments

namespace r1 {
const char* git_commit();      // generated at build time (cmake/GitVersion.cmake)
const char* version_string();
}  // namespace r1
