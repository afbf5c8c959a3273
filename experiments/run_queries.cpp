// RunStore's read side: runs, params, metric series, ad-hoc SQL.
#include <cstdlib>

#include <map>
#include <unordered_map>

#include "experiments/run_store.h"

namespace r1::experiments {
namespace {

constexpr const char* kRunColumns =
    "id, name, kind, status, COALESCE(recipe, ''), COALESCE(config_json, ''), COALESCE(git_commit, ''), "
    "COALESCE(host, ''), notes, COALESCE(seed, 0), COALESCE(pid, 0), COALESCE(parent_run_id, 0), started_at, "
    "COALESCE(ended_at, 0), COALESCE(pipeline_id, 0), COALESCE(stage, ''), COALESCE(stage_hash, '')";

RunInfo read_run(Statement& st) {
  RunInfo r;
  r.id = st.int_at(0);
  r.name = st.text_at(1);
  r.kind = st.text_at(2);
  r.status = st.text_at(3);
  r.recipe = st.text_at(4);
  r.config_json = st.text_at(5);
  r.git_commit = st.text_at(6);
  r.host = st.text_at(7);
  r.notes = st.text_at(8);
  r.seed = st.int_at(9);
  r.pid = st.int_at(10);
  r.parent_run_id = st.int_at(11);
  r.started_at = st.double_at(12);
  r.ended_at = st.double_at(13);
  r.pipeline_id = st.int_at(14);
  r.stage = st.text_at(15);
  r.stage_hash = st.text_at(16);
  return r;
}

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

}  // namespace

std::optional<RunInfo> RunStore::find_run(const std::string& id_or_name) {
  Statement st = db_.prepare(std::string("SELECT ") + kRunColumns +
                             (all_digits(id_or_name) ? " FROM runs WHERE id = ?"
                                                     : " FROM runs WHERE name = ? ORDER BY id DESC LIMIT 1"));
  if (all_digits(id_or_name)) st.bind(1, static_cast<int64_t>(std::strtoll(id_or_name.c_str(), nullptr, 10)));
  else st.bind(1, std::string_view(id_or_name));
  if (!st.step()) return std::nullopt;
  RunInfo r = read_run(st);
  Statement t = db_.prepare("SELECT tag FROM tags WHERE run_id = ? ORDER BY tag");
  t.bind(1, r.id);
  while (t.step()) r.tags.push_back(t.text_at(0));
  return r;
}

RunInfo RunStore::get_run(int64_t run_id) {
  auto r = find_run(std::to_string(run_id));
  if (!r) throw ExperimentsError(path() + ": no run with id " + std::to_string(run_id));
  return *r;
}

std::optional<int64_t> RunStore::find_pipeline(const std::string& id_or_name) {
  Statement st = db_.prepare(all_digits(id_or_name) ? "SELECT id FROM pipelines WHERE id = ?" : "SELECT id FROM pipelines WHERE name = ?");
  if (all_digits(id_or_name)) st.bind(1, static_cast<int64_t>(std::strtoll(id_or_name.c_str(), nullptr, 10)));
  else st.bind(1, std::string_view(id_or_name));
  if (!st.step()) return std::nullopt;
  return st.int_at(0);
}

std::optional<RunInfo> RunStore::latest_stage_run(int64_t pipeline, const std::string& stage) {
  Statement st = db_.prepare(std::string("SELECT ") + kRunColumns + " FROM runs WHERE pipeline_id = ? AND stage = ? ORDER BY id DESC LIMIT 1");
  st.bind(1, pipeline).bind(2, std::string_view(stage));
  if (!st.step()) return std::nullopt;
  return read_run(st);
}

std::vector<RunInfo> RunStore::pipeline_runs(int64_t pipeline) {
  Statement st = db_.prepare(std::string("SELECT ") + kRunColumns + " FROM runs WHERE pipeline_id = ? ORDER BY id");
  st.bind(1, pipeline);
  std::vector<RunInfo> out;
  while (st.step()) out.push_back(read_run(st));
  return out;
}

std::optional<SampleSetRecord> RunStore::sampleset_of_run(int64_t run_id) {
  Statement st = db_.prepare(
      "SELECT id, model, data, rules, out_path, sha256, COALESCE(source_run_id, 0), n, seed, prompts, samples, kept, prompts_kept, "
      "temperature, dropped_json FROM samplesets WHERE run_id = ? ORDER BY id DESC LIMIT 1");
  st.bind(1, run_id);
  if (!st.step()) return std::nullopt;
  SampleSetRecord s;
  s.id = st.int_at(0);
  s.model = st.text_at(1);
  s.data = st.text_at(2);
  s.rules = st.text_at(3);
  s.out_path = st.text_at(4);
  s.sha256 = st.text_at(5);
  s.source_run_id = st.int_at(6);
  s.n = st.int_at(7);
  s.seed = st.int_at(8);
  s.prompts = st.int_at(9);
  s.samples = st.int_at(10);
  s.kept = st.int_at(11);
  s.prompts_kept = st.int_at(12);
  s.temperature = st.double_at(13);
  s.dropped_json = st.text_at(14);
  s.run_id = run_id;
  return s;
}

std::vector<RunInfo> RunStore::list_runs(const RunFilter& f) {
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM runs r WHERE 1";
  std::vector<Cell> args;
  if (f.status) {
    sql += " AND status = ?";
    args.emplace_back(*f.status);
  }
  if (f.kind) {
    sql += " AND kind = ?";
    args.emplace_back(*f.kind);
  }
  for (const auto& tag : f.tags) {
    sql += " AND EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.id AND t.tag = ?)";
    args.emplace_back(tag);
  }
  for (const auto& [k, v] : f.params) {
    // Numbers compare as numbers ("0.001" matches "1e-3"), everything else as text.
    char* end = nullptr;
    double num = std::strtod(v.c_str(), &end);
    bool numeric = !v.empty() && end && *end == '\0';
    if (numeric) {
      sql += " AND EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.id AND p.key = ? AND "
             "(p.value = ? OR (CAST(p.value AS REAL) = ? AND p.value GLOB '*[0-9]*')))";
      args.emplace_back(k);
      args.emplace_back(v);
      args.emplace_back(num);
    } else {
      sql += " AND EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.id AND p.key = ? AND p.value = ?)";
      args.emplace_back(k);
      args.emplace_back(v);
    }
  }
  sql += " ORDER BY id";
  Statement st = db_.prepare(sql);
  for (size_t i = 0; i < args.size(); ++i) st.bind(static_cast<int>(i + 1), args[i]);
  std::vector<RunInfo> out;
  while (st.step()) out.push_back(read_run(st));
  Statement t = db_.prepare("SELECT tag FROM tags WHERE run_id = ? ORDER BY tag");
  for (auto& r : out) {
    t.bind(1, r.id);
    while (t.step()) r.tags.push_back(t.text_at(0));
    t.reset();
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> RunStore::params(int64_t run_id) {
  Statement st = db_.prepare("SELECT key, COALESCE(value, '') FROM params WHERE run_id = ? ORDER BY key");
  st.bind(1, run_id);
  std::vector<std::pair<std::string, std::string>> out;
  while (st.step()) out.emplace_back(st.text_at(0), st.text_at(1));
  return out;
}

std::vector<MetricPoint> RunStore::metric_series(int64_t run_id, const std::string& key) {
  Statement st = db_.prepare(
      "SELECT step, value, COALESCE(wall_time, 0) FROM metric_values WHERE run_id = ? AND value IS NOT NULL AND "
      "key_id = (SELECT id FROM metric_keys WHERE name = ?) ORDER BY step");
  st.bind(1, run_id).bind(2, std::string_view(key));
  std::vector<MetricPoint> out;
  while (st.step()) out.push_back({st.int_at(0), st.double_at(1), st.double_at(2)});
  return out;
}

std::map<std::string, std::vector<MetricPoint>> RunStore::metric_series_all(int64_t run_id) {
  // One scan of the run's rows, which the primary key (run, step, key) keeps in step order.
  std::unordered_map<int64_t, std::vector<MetricPoint>> by_id;
  Statement st = db_.prepare(
      "SELECT key_id, step, value, COALESCE(wall_time, 0) FROM metric_values WHERE run_id = ? AND value IS NOT NULL "
      "ORDER BY step");
  st.bind(1, run_id);
  while (st.step()) by_id[st.int_at(0)].push_back({st.int_at(1), st.double_at(2), st.double_at(3)});
  std::map<std::string, std::vector<MetricPoint>> out;
  Statement name = db_.prepare("SELECT name FROM metric_keys WHERE id = ?");
  for (auto& [id, series] : by_id) {
    name.bind(1, id);
    if (name.step()) out[name.text_at(0)] = std::move(series);
    name.reset();
  }
  return out;
}

std::vector<CheckpointRecord> RunStore::checkpoints(int64_t run_id) {
  Statement st = db_.prepare(
      "SELECT step, path, COALESCE(sha256, ''), COALESCE(bytes, 0) FROM checkpoints WHERE run_id = ? ORDER BY step");
  st.bind(1, run_id);
  std::vector<CheckpointRecord> out;
  while (st.step()) out.push_back({st.int_at(0), st.text_at(1), st.text_at(2), st.int_at(3)});
  return out;
}

RunHeadline RunStore::headline(int64_t run_id) {
  Statement q = db_.prepare(
      "SELECT (SELECT MAX(step) FROM metric_values WHERE run_id = ?1), "
      "(SELECT value FROM metric_values WHERE run_id = ?1 AND key_id = (SELECT id FROM metric_keys WHERE name = "
      "'reward') ORDER BY step DESC LIMIT 1), "
      "(SELECT value FROM metric_values WHERE run_id = ?1 AND key_id = (SELECT id FROM metric_keys WHERE name = "
      "'accuracy') ORDER BY step DESC LIMIT 1), "
      "(SELECT value FROM evals WHERE run_id = ?1 AND metric = 'pass@1' ORDER BY step DESC, id DESC LIMIT 1)");
  q.bind(1, run_id);
  q.step();
  return {q.cell_at(0), q.cell_at(1), q.cell_at(2), q.cell_at(3)};
}

std::vector<std::pair<std::string, double>> stage_headline(Database& db, int64_t run_id, const std::string& kind) {
  Statement latest = db.prepare(
      "SELECT value FROM metric_values WHERE run_id = ? AND key_id = (SELECT id FROM metric_keys WHERE name = ?) "
      "ORDER BY step DESC LIMIT 1");
  std::vector<std::pair<std::string, double>> out;
  auto value = [&](const char* key) -> std::optional<double> {
    latest.bind(1, run_id).bind(2, std::string_view(key));
    std::optional<double> v;
    if (latest.step() && !latest.is_null(0)) v = latest.double_at(0);
    latest.reset();
    return v;
  };
  auto fig = [&](const char* key, const char* label) {
    if (auto v = value(key)) out.emplace_back(label, *v);
  };
  if (kind == "sample") {
    if (value("sample/kept")) {
      fig("sample/kept", "kept");
      fig("sample/samples", "of");
    }
  } else if (kind == "eval") {
    fig("eval/pass@1", "pass@1");
    fig("eval/format", "format");
  } else if (kind == "distill" && value("kl") && !value("loss")) {  // on-policy: no loss, a KL
    fig("kl", "KL to teacher");
    fig("eval/pass@1", "pass@1");
  } else if (kind == "train" || kind == "grpo") {
    fig("reward", "reward");
    fig("eval/pass@1", "pass@1");
  } else {
    fig("loss", "loss");
  }
  return out;
}

namespace {

std::vector<EvalRecord> read_evals(Statement& st) {
  std::vector<EvalRecord> out;
  while (st.step()) out.push_back({st.int_at(0), st.text_at(1), st.text_at(2), st.double_at(3), st.int_at(4)});
  return out;
}

}  // namespace

std::vector<EvalRecord> RunStore::evals(int64_t run_id) {
  Statement st = db_.prepare("SELECT step, dataset, metric, value, n FROM evals WHERE run_id = ? ORDER BY step, dataset, metric");
  st.bind(1, run_id);
  return read_evals(st);
}

std::vector<EvalRecord> RunStore::evals_at(int64_t run_id, int64_t step) {
  Statement st = db_.prepare("SELECT step, dataset, metric, value, n FROM evals WHERE run_id = ? AND step = ? ORDER BY id");
  st.bind(1, run_id).bind(2, step);
  return read_evals(st);
}

double RunStore::metric_total(int64_t run_id, const std::string& key) {
  Statement st = db_.prepare(
      "SELECT total(value) FROM metric_values WHERE run_id = ? AND key_id = (SELECT id FROM metric_keys WHERE name = ?)");
  st.bind(1, run_id).bind(2, std::string_view(key));
  return st.step() ? st.double_at(0) : 0.0;
}

Statement RunStore::export_rows(int64_t run_id, const std::string& table) {
  std::string sql;
  if (table == "metrics") sql = "SELECT step, key, value, wall_time FROM metrics WHERE run_id = ? ORDER BY step, key";
  else if (table == "samples")
    sql = "SELECT step, task_id, prompt, completion, reward, reward_breakdown, finish_reason, prompt_tokens, "
          "completion_tokens, weight_version FROM samples WHERE run_id = ? ORDER BY step, id";
  else if (table == "evals") sql = "SELECT step, dataset, metric, value, n FROM evals WHERE run_id = ? ORDER BY step, id";
  else throw ExperimentsError("export: unknown table '" + table + "' (metrics | samples | evals)");
  Statement st = db_.prepare(sql);
  st.bind(1, run_id);
  return st;
}

ResultSet RunStore::query(std::string_view sql) { return db_.query(sql); }

}  // namespace r1::experiments
