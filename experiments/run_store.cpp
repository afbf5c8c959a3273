// RunStore: opening (WAL, migrations, crash detection) and buffered writing.
#include "experiments/run_store.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace r1::experiments {

const char* to_string(RunStatus s) {
  switch (s) {
    case RunStatus::running: return "running";
    case RunStatus::finished: return "finished";
    case RunStatus::failed: return "failed";
    case RunStatus::crashed: return "crashed";
    case RunStatus::interrupted: return "interrupted";
  }
  return "?";
}

std::optional<RunStatus> parse_run_status(std::string_view s) {
  for (RunStatus r : {RunStatus::running, RunStatus::finished, RunStatus::failed, RunStatus::crashed,
                      RunStatus::interrupted})
    if (s == to_string(r)) return r;
  return std::nullopt;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

namespace {

// Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), so that a
// recycled pid is not mistaken for the run's own process. 0 when the process does not exist.
int64_t process_start_ticks(int64_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return 0;
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = all.rfind(')');  // the command name may contain spaces and parentheses
  if (close == std::string::npos) return 0;
  std::istringstream rest(all.substr(close + 2));
  std::string field;
  // Fields after the name start at field 3 (state); starttime is field 22.
  for (int i = 3; i <= 22; ++i)
    if (!(rest >> field)) return 0;
  return std::stoll(field);
}

}  // namespace

RunStore RunStore::open(const std::string& path, Options options) {
  RunStore s;
  s.options_ = options;
  bool exists = fs::exists(path);
  if (!exists && (options.read_only || !options.create))
    throw ExperimentsError(path + ": no run store here yet (start a run, or point --db / R1_DB at one)");
  if (!exists) {
    fs::path parent = fs::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (ec) throw ExperimentsError(path + ": cannot create folder " + parent.string() + ": " + ec.message());
  }
  s.db_ = Database(path, options.read_only ? Database::Mode::ReadOnly
                                           : (exists ? Database::Mode::ReadWrite : Database::Mode::Create));
  if (!options.read_only) {
    s.db_.exec("PRAGMA journal_mode = WAL");
    // NORMAL in WAL mode: a power loss may drop the last transactions but never corrupts the file;
    // a killed process loses nothing that was committed.
    s.db_.exec("PRAGMA synchronous = NORMAL");
    s.db_.exec("PRAGMA cache_size = -32768");  // 32 MiB: a flush of many keys touches many pages
  } else {
    s.db_.exec("PRAGMA query_only = 1");
  }
  // Check the header before anything else: a file that is not SQLite fails here with a clear message.
  try {
    s.db_.user_version();
  } catch (const ExperimentsError&) {
    throw ExperimentsError(path + ": not an r1 run store (not a SQLite database)");
  }
  s.migrate(options.target_version);
  if (!options.read_only && options.target_version == kSchemaVersion) s.mark_dead_runs_crashed();
  return s;
}

RunStore::RunStore(RunStore&& o) noexcept
    : db_(std::move(o.db_)),
      options_(o.options_),
      key_names_(std::move(o.key_names_)),
      key_db_ids_(std::move(o.key_db_ids_)),
      key_ids_(std::move(o.key_ids_)),
      metrics_(std::move(o.metrics_)),
      samples_(std::move(o.samples_)),
      evals_(std::move(o.evals_)),
      insert_metric_(std::move(o.insert_metric_)),
      insert_sample_(std::move(o.insert_sample_)),
      insert_eval_(std::move(o.insert_eval_)),
      insert_key_(std::move(o.insert_key_)),
      select_key_(std::move(o.select_key_)) {}

RunStore& RunStore::operator=(RunStore&& o) noexcept {
  if (this != &o) {
    try {
      flush();
    } catch (...) {
    }
    insert_metric_.reset();
    insert_sample_.reset();
    insert_eval_.reset();
    insert_key_.reset();
    select_key_.reset();
    db_ = std::move(o.db_);
    options_ = o.options_;
    key_names_ = std::move(o.key_names_);
    key_db_ids_ = std::move(o.key_db_ids_);
    key_ids_ = std::move(o.key_ids_);
    metrics_ = std::move(o.metrics_);
    samples_ = std::move(o.samples_);
    evals_ = std::move(o.evals_);
    insert_metric_ = std::move(o.insert_metric_);
    insert_sample_ = std::move(o.insert_sample_);
    insert_eval_ = std::move(o.insert_eval_);
    insert_key_ = std::move(o.insert_key_);
    select_key_ = std::move(o.select_key_);
  }
  return *this;
}

RunStore::~RunStore() {
  try {
    if (db_) flush();
  } catch (...) {
    // A destructor cannot report; the rows are lost, the database stays valid.
  }
  insert_metric_.reset();
  insert_sample_.reset();
  insert_eval_.reset();
  insert_key_.reset();
  select_key_.reset();
}

int RunStore::mark_dead_runs_crashed() {
  Statement q = db_.prepare("SELECT id, pid, pid_start FROM runs WHERE status = 'running' AND host = ?");
  q.bind(1, std::string_view(host_name()));
  std::vector<int64_t> dead;
  while (q.step()) {
    int64_t pid = q.int_at(1), start = q.int_at(2);
    int64_t now_start = process_start_ticks(pid);
    if (pid <= 0 || now_start == 0 || (start != 0 && now_start != start)) dead.push_back(q.int_at(0));
  }
  if (dead.empty()) return 0;
  Database::Transaction tx(db_);
  Statement up = db_.prepare(
      "UPDATE runs SET status = 'crashed', ended_at = COALESCE("
      "(SELECT MAX(wall_time) FROM metric_values WHERE run_id = ?1), started_at) WHERE id = ?1 AND status = 'running'");
  for (int64_t id : dead) {
    up.bind(1, id);
    up.run();
  }
  tx.commit();
  return static_cast<int>(dead.size());
}

int64_t RunStore::create_run(const NewRun& run) {
  std::lock_guard lock(mu_);
  Database::Transaction tx(db_);
  Statement ins = db_.prepare(
      "INSERT INTO runs (name, kind, recipe, config_json, seed, git_commit, host, pid, pid_start, started_at, "
      "status, notes, parent_run_id, pipeline_id, stage, stage_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)");
  int64_t pid = getpid();
  ins.bind(1, std::string_view(run.name))
      .bind(2, std::string_view(run.kind))
      .bind(3, std::string_view(run.recipe_text))
      .bind(4, std::string_view(run.config_json))
      .bind(5, run.seed)
      .bind(6, std::string_view(r1::git_commit()))
      .bind(7, std::string_view(host_name()))
      .bind(8, pid)
      .bind(9, process_start_ticks(pid))
      .bind(10, unix_now())
      .bind(11, std::string_view(run.notes));
  if (run.parent_run_id > 0) ins.bind(12, run.parent_run_id);
  if (run.pipeline_id > 0) ins.bind(13, run.pipeline_id).bind(14, std::string_view(run.stage)).bind(15, std::string_view(run.stage_hash));
  ins.run();
  int64_t id = db_.last_insert_id();
  Statement p = db_.prepare("INSERT OR REPLACE INTO params (run_id, key, value) VALUES (?, ?, ?)");
  for (const auto& [k, v] : run.params) {
    p.bind(1, id).bind(2, std::string_view(k)).bind(3, std::string_view(v));
    p.run();
  }
  Statement t = db_.prepare("INSERT OR IGNORE INTO tags (run_id, tag) VALUES (?, ?)");
  for (const auto& tag : run.tags) {
    t.bind(1, id).bind(2, std::string_view(tag));
    t.run();
  }
  tx.commit();
  return id;
}

void RunStore::set_status(int64_t run_id, RunStatus status) {
  std::lock_guard lock(mu_);
  flush_locked();
  Statement up = db_.prepare("UPDATE runs SET status = ?, ended_at = ?, pid = ?, pid_start = ?, host = ? WHERE id = ?");
  up.bind(1, std::string_view(to_string(status)));
  if (status == RunStatus::running) up.bind_null(2);
  else up.bind(2, unix_now());
  int64_t pid = getpid();
  up.bind(3, pid).bind(4, process_start_ticks(pid)).bind(5, std::string_view(host_name())).bind(6, run_id);
  up.run();
}

void RunStore::finish_run(int64_t run_id, RunStatus status) { set_status(run_id, status); }

void RunStore::add_tags(int64_t run_id, const std::vector<std::string>& tags) {
  std::lock_guard lock(mu_);
  Database::Transaction tx(db_);
  Statement t = db_.prepare("INSERT OR IGNORE INTO tags (run_id, tag) VALUES (?, ?)");
  for (const auto& tag : tags) {
    t.bind(1, run_id).bind(2, std::string_view(tag));
    t.run();
  }
  tx.commit();
}

void RunStore::remove_tags(int64_t run_id, const std::vector<std::string>& tags) {
  std::lock_guard lock(mu_);
  Database::Transaction tx(db_);
  Statement t = db_.prepare("DELETE FROM tags WHERE run_id = ? AND tag = ?");
  for (const auto& tag : tags) {
    t.bind(1, run_id).bind(2, std::string_view(tag));
    t.run();
  }
  tx.commit();
}

void RunStore::set_notes(int64_t run_id, const std::string& notes) {
  std::lock_guard lock(mu_);
  Statement up = db_.prepare("UPDATE runs SET notes = ? WHERE id = ?");
  up.bind(1, std::string_view(notes)).bind(2, run_id);
  up.run();
}

void RunStore::delete_run(int64_t run_id) {
  std::lock_guard lock(mu_);
  flush_locked();
  Database::Transaction tx(db_);
  for (const char* table : {"metric_values", "samples", "params", "tags", "checkpoints", "evals"}) {
    Statement d = db_.prepare(std::string("DELETE FROM ") + table + " WHERE run_id = ?");
    d.bind(1, run_id);
    d.run();
  }
  Statement d = db_.prepare("DELETE FROM runs WHERE id = ?");
  d.bind(1, run_id);
  d.run();
  tx.commit();
}

void RunStore::log_metric(int64_t run_id, int64_t step, std::string_view key, double value) {
  std::lock_guard lock(mu_);
  std::string k(key);
  auto it = key_ids_.find(k);
  if (it == key_ids_.end()) {
    it = key_ids_.emplace(k, static_cast<uint32_t>(key_names_.size())).first;
    key_names_.push_back(k);
    key_db_ids_.push_back(0);
  }
  metrics_.push_back({run_id, step, it->second, value, unix_now()});
  if (metrics_.size() + samples_.size() >= options_.flush_rows) flush_locked();
}

void RunStore::log_metrics(int64_t run_id, int64_t step, const std::vector<std::pair<std::string, double>>& values) {
  std::lock_guard lock(mu_);
  double now = unix_now();
  for (const auto& [key, value] : values) {
    auto it = key_ids_.find(key);
    if (it == key_ids_.end()) {
      it = key_ids_.emplace(key, static_cast<uint32_t>(key_names_.size())).first;
      key_names_.push_back(key);
      key_db_ids_.push_back(0);
    }
    metrics_.push_back({run_id, step, it->second, value, now});
  }
  if (metrics_.size() + samples_.size() >= options_.flush_rows) flush_locked();
}

void RunStore::log_sample(int64_t run_id, const SampleRecord& sample) {
  std::lock_guard lock(mu_);
  samples_.push_back({run_id, sample, unix_now()});
  if (metrics_.size() + samples_.size() >= options_.flush_rows) flush_locked();
}

void RunStore::add_eval(int64_t run_id, const EvalRecord& eval) {
  std::lock_guard lock(mu_);
  evals_.push_back({run_id, eval, unix_now()});
}

void RunStore::add_checkpoint(int64_t run_id, const CheckpointRecord& c) {
  std::lock_guard lock(mu_);
  flush_locked();  // everything logged before a checkpoint is durable once it is registered
  Statement ins = db_.prepare(
      "INSERT OR REPLACE INTO checkpoints (run_id, step, path, sha256, bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)");
  ins.bind(1, run_id).bind(2, c.step).bind(3, std::string_view(c.path)).bind(4, std::string_view(c.sha256));
  ins.bind(5, c.bytes).bind(6, unix_now());
  ins.run();
}

int64_t RunStore::add_sampleset(const SampleSetRecord& s) {
  std::lock_guard lock(mu_);
  Statement ins = db_.prepare(
      "INSERT INTO samplesets (created_at, model, source_run_id, data, n, temperature, seed, rules, out_path, sha256, prompts, "
      "samples, kept, prompts_kept, dropped_json, run_id) VALUES (?1, ?2, COALESCE(?3, (SELECT run_id FROM checkpoints WHERE path = ?2 "
      "ORDER BY created_at DESC LIMIT 1)), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)");
  ins.bind(1, unix_now()).bind(2, std::string_view(s.model));
  if (s.source_run_id > 0) ins.bind(3, s.source_run_id);
  ins.bind(4, std::string_view(s.data)).bind(5, s.n).bind(6, s.temperature).bind(7, s.seed).bind(8, std::string_view(s.rules));
  ins.bind(9, std::string_view(s.out_path)).bind(10, std::string_view(s.sha256)).bind(11, s.prompts).bind(12, s.samples);
  ins.bind(13, s.kept).bind(14, s.prompts_kept).bind(15, std::string_view(s.dropped_json));
  if (s.run_id > 0) ins.bind(16, s.run_id);
  ins.run();
  return db_.last_insert_id();
}

int64_t RunStore::pipeline_id(const std::string& name, const std::string& path) {
  std::lock_guard lock(mu_);
  Database::Transaction tx(db_);
  Statement up = db_.prepare("INSERT INTO pipelines (name, path, created_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET path = excluded.path");
  up.bind(1, std::string_view(name)).bind(2, std::string_view(path)).bind(3, unix_now());
  up.run();
  Statement sel = db_.prepare("SELECT id FROM pipelines WHERE name = ?");
  sel.bind(1, std::string_view(name));
  sel.step();
  int64_t id = sel.int_at(0);
  tx.commit();
  return id;
}

void RunStore::remove_checkpoint(int64_t run_id, int64_t step) {
  std::lock_guard lock(mu_);
  Statement d = db_.prepare("DELETE FROM checkpoints WHERE run_id = ? AND step = ?");
  d.bind(1, run_id).bind(2, step);
  d.run();
}

void RunStore::truncate_after(int64_t run_id, int64_t step) {
  std::lock_guard lock(mu_);
  flush_locked();
  Database::Transaction tx(db_);
  for (const char* table : {"metric_values", "samples", "evals"}) {
    Statement d = db_.prepare(std::string("DELETE FROM ") + table + " WHERE run_id = ? AND step > ?");
    d.bind(1, run_id).bind(2, step);
    d.run();
  }
  tx.commit();
}

size_t RunStore::buffered_rows() const {
  std::lock_guard lock(mu_);
  return metrics_.size() + samples_.size() + evals_.size();
}

void RunStore::flush() {
  std::lock_guard lock(mu_);
  flush_locked();
}

int64_t RunStore::key_id_locked(uint32_t local) {
  int64_t& id = key_db_ids_[local];
  if (id != 0) return id;
  insert_key_->bind(1, std::string_view(key_names_[local]));
  insert_key_->run();
  select_key_->bind(1, std::string_view(key_names_[local]));
  select_key_->step();
  id = select_key_->int_at(0);
  select_key_->reset();
  return id;
}

void RunStore::flush_locked() {
  if (metrics_.empty() && samples_.empty() && evals_.empty()) return;
  if (!insert_metric_) {
    // OR REPLACE: re-logging a step (an external script, a resumed run) keeps the newest value.
    const std::string insert = "INSERT OR REPLACE INTO metric_values (run_id, key_id, step, value, wall_time) VALUES ";
    std::string many = insert;
    for (size_t i = 0; i < kMetricRowsPerInsert; ++i) many += i ? ", (?, ?, ?, ?, ?)" : "(?, ?, ?, ?, ?)";
    insert_metric_ = db_.prepare(insert + "(?, ?, ?, ?, ?)");
    insert_metrics_ = db_.prepare(many);
    insert_key_ = db_.prepare("INSERT OR IGNORE INTO metric_keys (name) VALUES (?)");
    select_key_ = db_.prepare("SELECT id FROM metric_keys WHERE name = ?");
    insert_sample_ = db_.prepare(
        "INSERT INTO samples (run_id, step, task_id, prompt, completion, reward, reward_breakdown, finish_reason, "
        "prompt_tokens, completion_tokens, wall_time, weight_version, reference) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    insert_eval_ = db_.prepare(
        "INSERT INTO evals (run_id, step, dataset, metric, value, n, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
  }
  Database::Transaction tx(db_);
  try {
    // Rows in primary-key order (run, step, key) are appended at the right edge of the b-tree.
    // The sort is stable so that a key logged twice for one step keeps its newest value (the
    // later row of a multi-row INSERT OR REPLACE wins).
    std::vector<PendingMetric> rows(metrics_);
    for (PendingMetric& p : rows) p.key = key_id_locked(static_cast<uint32_t>(p.key));
    std::stable_sort(rows.begin(), rows.end(), [](const PendingMetric& a, const PendingMetric& b) {
      if (a.run != b.run) return a.run < b.run;
      if (a.step != b.step) return a.step < b.step;
      return a.key < b.key;
    });
    // Many rows per statement: one VDBE run per 64 rows instead of per row, 2x the row rate.
    size_t i = 0;
    Statement& many = *insert_metrics_;
    for (; i + kMetricRowsPerInsert <= rows.size(); i += kMetricRowsPerInsert) {
      int col = 1;
      for (size_t j = i; j < i + kMetricRowsPerInsert; ++j) {
        const PendingMetric& p = rows[j];
        many.bind(col, p.run).bind(col + 1, p.key).bind(col + 2, p.step).bind(col + 3, p.value);
        many.bind(col + 4, p.time);
        col += 5;
      }
      many.step();
      many.reset();
    }
    Statement& m = *insert_metric_;
    for (; i < rows.size(); ++i) {
      const PendingMetric& p = rows[i];
      m.bind(1, p.run).bind(2, p.key).bind(3, p.step).bind(4, p.value).bind(5, p.time);
      m.step();
      m.reset();
    }
    write_samples_and_evals_locked();
    tx.commit();
  } catch (...) {
    // Key ids learnt in a transaction that rolls back are not in the database.
    std::fill(key_db_ids_.begin(), key_db_ids_.end(), 0);
    throw;
  }
  metrics_.clear();
  samples_.clear();
  evals_.clear();
}

void RunStore::write_samples_and_evals_locked() {
  Statement& s = *insert_sample_;
  for (const PendingSample& p : samples_) {
    const SampleRecord& r = p.s;
    s.bind(1, p.run).bind(2, r.step).bind_static(3, r.task_id).bind_static(4, r.prompt).bind_static(5, r.completion);
    s.bind(6, r.reward).bind_static(7, r.reward_breakdown_json).bind_static(8, r.finish_reason);
    s.bind(9, r.prompt_tokens).bind(10, r.completion_tokens).bind(11, p.time).bind(12, r.weight_version);
    if (r.reference.empty()) s.bind_null(13);
    else s.bind_static(13, r.reference);
    s.step();
    s.reset();
  }
  Statement& e = *insert_eval_;
  for (const PendingEval& p : evals_) {
    e.bind(1, p.run).bind(2, p.e.step).bind_static(3, p.e.dataset).bind_static(4, p.e.metric).bind(5, p.e.value);
    e.bind(6, p.e.n).bind(7, p.time);
    e.step();
    e.reset();
  }
}

}  // namespace r1::experiments
