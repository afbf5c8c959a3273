// The runs table (filter, sort, page, chosen columns), one run's details, the comparison of several
// runs' configs, and pipelines as trees.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <sstream>

#include "experiments/run_store.h"
#include "serve/api_handlers.h"

namespace r1::serve {

using experiments::Cell;

Json cell_json(const Cell& c) {
  if (auto* i = std::get_if<int64_t>(&c)) return *i;
  if (auto* d = std::get_if<double>(&c)) return std::isfinite(*d) ? Json(*d) : Json(nullptr);
  if (auto* s = std::get_if<std::string>(&c)) return *s;
  return nullptr;
}

std::optional<int64_t> metric_key_id(Database& db, const std::string& name) {
  auto st = db.prepare("SELECT id FROM metric_keys WHERE name = ?");
  st.bind(1, std::string_view(name));
  if (!st.step()) return std::nullopt;
  return st.int_at(0);
}

void require_run(Database& db, int64_t run_id) {
  auto st = db.prepare("SELECT 1 FROM runs WHERE id = ?");
  st.bind(1, run_id);
  if (!st.step()) throw NotFound{"no run " + std::to_string(run_id)};
}

void bind_all(experiments::Statement& st, const std::vector<Cell>& binds) {
  for (size_t i = 0; i < binds.size(); ++i) st.bind(static_cast<int>(i) + 1, binds[i]);
}

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

bool is_number(const std::string& s) {
  if (s.empty()) return false;
  char* end = nullptr;
  std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

// The runs filter, as typed in the dashboard's box: space-separated terms, all of which must hold.
//   status=running  kind=grpo  stage=zero  pipeline=r1-demo  tag=baseline (or tag:baseline)
//   rl.beta=0.001   (any config key; numbers compare as numbers)   words  (in the name)
struct RunsQuery {
  std::string where = "1";
  std::vector<Cell> binds;
};

RunsQuery parse_filter(const std::string& text) {
  RunsQuery q;
  std::stringstream in(text);
  std::string term;
  while (in >> term) {
    size_t eq = term.find('=');
    size_t colon = term.find(':');
    if (eq == std::string::npos && colon != std::string::npos && term.substr(0, colon) == "tag") eq = colon;
    if (eq == std::string::npos || eq == 0) {
      q.where += " AND r.name LIKE ? ESCAPE '\\'";
      std::string like;
      for (char c : term) {
        if (c == '%' || c == '_' || c == '\\') like.push_back('\\');
        like.push_back(c);
      }
      q.binds.emplace_back("%" + like + "%");
      continue;
    }
    std::string key = term.substr(0, eq), value = term.substr(eq + 1);
    if (key == "status" || key == "kind" || key == "stage") {
      q.where += " AND r." + key + " = ?";
      q.binds.emplace_back(value);
    } else if (key == "name") {
      q.where += " AND r.name = ?";
      q.binds.emplace_back(value);
    } else if (key == "tag") {
      q.where += " AND EXISTS (SELECT 1 FROM tags t WHERE t.run_id = r.id AND t.tag = ?)";
      q.binds.emplace_back(value);
    } else if (key == "pipeline") {
      q.where += " AND r.pipeline_id IN (SELECT id FROM pipelines WHERE name = ? OR CAST(id AS TEXT) = ?)";
      q.binds.emplace_back(value);
      q.binds.emplace_back(value);
    } else if (is_number(value)) {
      q.where += " AND EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.id AND p.key = ? AND (p.value = ? OR "
                 "(p.value GLOB '*[0-9]*' AND CAST(p.value AS REAL) = CAST(? AS REAL))))";
      q.binds.emplace_back(key);
      q.binds.emplace_back(value);
      q.binds.emplace_back(value);
    } else {
      q.where += " AND EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.id AND p.key = ? AND p.value = ?)";
      q.binds.emplace_back(key);
      q.binds.emplace_back(value);
    }
  }
  return q;
}

// ORDER BY for sort=id|name|status|kind|stage|started|duration|param:KEY|metric:KEY.
std::string order_by(const std::string& sort, bool desc, RunsQuery& q, Database& db) {
  const std::string dir = desc ? " DESC" : " ASC";
  static const std::map<std::string, std::string> plain = {
      {"id", "r.id"},         {"name", "r.name"},   {"status", "r.status"},
      {"kind", "r.kind"},     {"stage", "r.stage"}, {"started", "r.started_at"},
      {"duration", "COALESCE(r.ended_at, CAST(strftime('%s', 'now') AS REAL)) - r.started_at"}};
  if (auto it = plain.find(sort); it != plain.end()) return it->second + dir + ", r.id" + dir;
  if (sort.rfind("param:", 0) == 0) {
    q.binds.emplace_back(sort.substr(6));
    return "(SELECT CASE WHEN p.value GLOB '*[0-9]*' AND p.value NOT GLOB '*[^0-9.eE+-]*' THEN CAST(p.value AS REAL) "
           "ELSE p.value END FROM params p WHERE p.run_id = r.id AND p.key = ?)" + dir + ", r.id" + dir;
  }
  if (sort.rfind("metric:", 0) == 0) {
    q.binds.emplace_back(metric_key_id(db, sort.substr(7)).value_or(-1));
    return "(SELECT v.value FROM metric_values v WHERE v.run_id = r.id AND v.key_id = ? ORDER BY v.step DESC LIMIT 1)" +
           dir + ", r.id" + dir;
  }
  throw BadRequest{"sort must be id, name, status, kind, stage, started, duration, param:KEY or metric:KEY; got \"" + sort + "\""};
}

const std::vector<std::string> kDefaultParams = {"run.seed", "rl.lr", "rl.beta", "rollout.group_size"};
const std::vector<std::string> kDefaultMetrics = {"reward", "accuracy", "loss"};

// The latest value (and its step) of each chosen metric for one run.
Json latest_values(const RunSummary& summary, const std::vector<std::pair<std::string, std::optional<int64_t>>>& keys) {
  Json out = Json::object();
  for (const auto& [name, id] : keys) {
    if (!id) continue;
    auto it = summary.keys.find(*id);
    if (it == summary.keys.end()) continue;
    out[name] = {{"step", it->second.last_step}, {"value", it->second.has_value ? Json(it->second.last_value) : Json(nullptr)}};
  }
  return out;
}

}  // namespace

Json runs_list(Database& db, RunSummaries& summaries, const Request& req) {
  RunsQuery q = parse_filter(req.param_or("q", ""));
  const int64_t limit = req.int_param("limit", 50, 1, 500), offset = req.int_param("offset", 0, 0, 1'000'000'000);
  const std::string order = req.param_or("order", "desc");
  if (order != "asc" && order != "desc") throw BadRequest{"order must be asc or desc"};
  std::vector<std::string> params = req.param("params") ? split_list(*req.param("params")) : kDefaultParams;
  std::vector<std::string> metrics = req.param("metrics") ? split_list(*req.param("metrics")) : kDefaultMetrics;

  auto count = db.prepare("SELECT COUNT(*) FROM runs r WHERE " + q.where);
  bind_all(count, q.binds);
  count.step();
  const int64_t total = count.int_at(0);

  std::string sort = order_by(req.param_or("sort", "id"), order == "desc", q, db);
  auto st = db.prepare(
      "SELECT r.id, r.name, r.kind, r.status, r.started_at, r.ended_at, r.stage, r.parent_run_id, r.pipeline_id, "
      "(SELECT name FROM pipelines WHERE id = r.pipeline_id), (SELECT group_concat(tag, ',') FROM tags WHERE run_id = r.id), "
      "r.seed FROM runs r WHERE " + q.where + " ORDER BY " + sort + " LIMIT ? OFFSET ?");
  bind_all(st, q.binds);
  st.bind(static_cast<int>(q.binds.size()) + 1, limit).bind(static_cast<int>(q.binds.size()) + 2, offset);

  std::vector<std::pair<std::string, std::optional<int64_t>>> metric_ids;
  for (const auto& m : metrics) metric_ids.emplace_back(m, metric_key_id(db, m));
  auto param_st = db.prepare("SELECT value FROM params WHERE run_id = ? AND key = ?");
  const double now = experiments::unix_now();
  Json rows = Json::array();
  while (st.step()) {
    const int64_t id = st.int_at(0);
    const double started = st.double_at(4);
    Json row = {{"id", id},
                {"name", st.text_at(1)},
                {"kind", st.text_at(2)},
                {"status", st.text_at(3)},
                {"started_at", started},
                {"ended_at", cell_json(st.cell_at(5))},
                {"duration_s", (st.is_null(5) ? now : st.double_at(5)) - started},
                {"stage", cell_json(st.cell_at(6))},
                {"parent_run_id", cell_json(st.cell_at(7))},
                {"pipeline_id", cell_json(st.cell_at(8))},
                {"pipeline", cell_json(st.cell_at(9))},
                {"tags", split_list(st.text_at(10))},
                {"seed", cell_json(st.cell_at(11))}};
    Json pv = Json::object();
    for (const auto& key : params) {
      param_st.bind(1, id).bind(2, std::string_view(key));
      if (param_st.step()) pv[key] = param_st.text_at(0);
      param_st.reset();
    }
    row["params"] = std::move(pv);
    row["metrics"] = latest_values(summaries.get(db, id), metric_ids);
    rows.push_back(std::move(row));
  }
  return {{"total", total}, {"offset", offset}, {"limit", limit}, {"params", params}, {"metrics", metrics}, {"rows", rows}};
}

Json store_keys(Database& db) {
  Json params = Json::array(), metrics = Json::array();
  auto p = db.prepare("SELECT DISTINCT key FROM params ORDER BY key");
  while (p.step()) params.push_back(p.text_at(0));
  auto m = db.prepare("SELECT name FROM metric_keys ORDER BY name");
  while (m.step()) metrics.push_back(m.text_at(0));
  return {{"params", params}, {"metrics", metrics}};
}

Json run_detail(Database& db, RunSummaries& summaries, int64_t run_id) {
  auto st = db.prepare(
      "SELECT id, name, kind, status, recipe, config_json, seed, git_commit, host, started_at, ended_at, notes, "
      "parent_run_id, pipeline_id, stage, (SELECT name FROM pipelines WHERE id = runs.pipeline_id) FROM runs WHERE id = ?");
  st.bind(1, run_id);
  st.step();
  Json run = {{"id", st.int_at(0)},           {"name", st.text_at(1)},     {"kind", st.text_at(2)},
              {"status", st.text_at(3)},      {"recipe", st.text_at(4)},   {"config_json", st.text_at(5)},
              {"seed", cell_json(st.cell_at(6))}, {"git_commit", st.text_at(7)}, {"host", st.text_at(8)},
              {"started_at", st.double_at(9)}, {"ended_at", cell_json(st.cell_at(10))}, {"notes", st.text_at(11)},
              {"parent_run_id", cell_json(st.cell_at(12))}, {"pipeline_id", cell_json(st.cell_at(13))},
              {"stage", cell_json(st.cell_at(14))}, {"pipeline", cell_json(st.cell_at(15))}};
  Json tags = Json::array();
  auto t = db.prepare("SELECT tag FROM tags WHERE run_id = ? ORDER BY tag");
  t.bind(1, run_id);
  while (t.step()) tags.push_back(t.text_at(0));
  run["tags"] = tags;
  Json params = Json::object();
  auto p = db.prepare("SELECT key, value FROM params WHERE run_id = ? ORDER BY key");
  p.bind(1, run_id);
  while (p.step()) params[p.text_at(0)] = p.text_at(1);
  run["params"] = params;
  // The run's metric names with how many points each has and the latest value.
  const RunSummary summary = summaries.get(db, run_id);
  std::map<std::string, const KeySummary*> named;
  auto k = db.prepare("SELECT id, name FROM metric_keys");
  while (k.step())
    if (auto it = summary.keys.find(k.int_at(0)); it != summary.keys.end()) named[k.text_at(1)] = &it->second;
  Json keys = Json::array();
  for (const auto& [name, ks] : named)
    keys.push_back({{"key", name}, {"points", ks->points}, {"last_step", ks->last_step},
                    {"last_value", ks->has_value ? Json(ks->last_value) : Json(nullptr)}});
  run["metric_keys"] = keys;
  Json ckpts = Json::array();
  auto c = db.prepare("SELECT step, path, sha256, bytes, created_at FROM checkpoints WHERE run_id = ? ORDER BY step");
  c.bind(1, run_id);
  while (c.step())
    ckpts.push_back({{"step", c.int_at(0)}, {"path", c.text_at(1)}, {"sha256", c.text_at(2)}, {"bytes", cell_json(c.cell_at(3))},
                     {"created_at", cell_json(c.cell_at(4))}});
  run["checkpoints"] = ckpts;
  Json evals = Json::array();
  auto e = db.prepare("SELECT step, dataset, metric, value, n FROM evals WHERE run_id = ? ORDER BY step, dataset, metric");
  e.bind(1, run_id);
  while (e.step())
    evals.push_back({{"step", e.int_at(0)}, {"dataset", e.text_at(1)}, {"metric", e.text_at(2)}, {"value", cell_json(e.cell_at(3))},
                     {"n", cell_json(e.cell_at(4))}});
  run["evals"] = evals;
  Json kids = Json::array();
  auto ch = db.prepare("SELECT id, name, stage, status FROM runs WHERE parent_run_id = ? ORDER BY id");
  ch.bind(1, run_id);
  while (ch.step()) kids.push_back({{"id", ch.int_at(0)}, {"name", ch.text_at(1)}, {"stage", cell_json(ch.cell_at(2))}, {"status", ch.text_at(3)}});
  run["children"] = kids;
  auto s = db.prepare("SELECT COUNT(*) FROM samples WHERE run_id = ?");
  s.bind(1, run_id);
  s.step();
  run["samples"] = s.int_at(0);
  return run;
}

Json compare_runs(Database& db, const Request& req) {
  std::vector<int64_t> ids;
  for (const auto& s : split_list(req.param_or("runs", ""))) {
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (end != s.c_str() + s.size() || v <= 0) throw BadRequest{"runs must be a comma-separated list of run ids, got \"" + s + "\""};
    require_run(db, v);
    ids.push_back(v);
  }
  if (ids.size() < 2 || ids.size() > 12) throw BadRequest{"compare takes 2 to 12 runs"};
  std::map<std::string, std::vector<std::optional<std::string>>> values;
  Json runs = Json::array();
  for (size_t i = 0; i < ids.size(); ++i) {
    auto r = db.prepare("SELECT name, status FROM runs WHERE id = ?");
    r.bind(1, ids[i]);
    r.step();
    runs.push_back({{"id", ids[i]}, {"name", r.text_at(0)}, {"status", r.text_at(1)}});
    auto p = db.prepare("SELECT key, value FROM params WHERE run_id = ?");
    p.bind(1, ids[i]);
    while (p.step()) {
      auto& v = values[p.text_at(0)];
      v.resize(ids.size());
      v[i] = p.text_at(1);
    }
  }
  Json diff = Json::array();
  size_t same = 0;
  for (auto& [key, v] : values) {
    v.resize(ids.size());
    if (std::all_of(v.begin(), v.end(), [&](const auto& x) { return x == v[0]; })) {
      ++same;
      continue;
    }
    Json row = Json::array();
    for (const auto& x : v) row.push_back(x ? Json(*x) : Json(nullptr));
    diff.push_back({{"key", key}, {"values", row}});
  }
  return {{"runs", runs}, {"diff", diff}, {"same", same}};
}

Json pipelines_list(Database& db) {
  Json out = Json::array();
  auto st = db.prepare(
      "SELECT p.id, p.name, p.path, p.created_at, COUNT(r.id), COUNT(DISTINCT r.stage), "
      "SUM(r.status = 'running') FROM pipelines p LEFT JOIN runs r ON r.pipeline_id = p.id GROUP BY p.id ORDER BY p.id DESC");
  while (st.step())
    out.push_back({{"id", st.int_at(0)}, {"name", st.text_at(1)}, {"path", st.text_at(2)}, {"created_at", st.double_at(3)},
                   {"runs", st.int_at(4)}, {"stages", st.int_at(5)}, {"running", cell_json(st.cell_at(6))}});
  return out;
}

Json pipeline_detail(Database& db, int64_t pipeline_id) {
  auto p = db.prepare("SELECT name, path FROM pipelines WHERE id = ?");
  p.bind(1, pipeline_id);
  if (!p.step()) throw NotFound{"no pipeline " + std::to_string(pipeline_id)};
  Json out = {{"id", pipeline_id}, {"name", p.text_at(0)}, {"path", p.text_at(1)}};
  // The latest run of each stage; earlier runs of a stage are counted.
  auto st = db.prepare(
      "SELECT id, stage, kind, status, parent_run_id, started_at, ended_at, name FROM runs WHERE pipeline_id = ? ORDER BY id");
  st.bind(1, pipeline_id);
  std::map<std::string, Json> latest;
  std::map<std::string, int64_t> runs_of_stage;
  while (st.step()) {
    std::string stage = st.text_at(1);
    ++runs_of_stage[stage];
    latest[stage] = {{"run_id", st.int_at(0)}, {"stage", stage}, {"kind", st.text_at(2)}, {"status", st.text_at(3)},
                     {"parent_run_id", cell_json(st.cell_at(4))}, {"started_at", st.double_at(5)},
                     {"ended_at", cell_json(st.cell_at(6))}, {"name", st.text_at(7)}};
  }
  std::vector<Json> stages;
  for (auto& [stage, j] : latest) {
    j["earlier_runs"] = runs_of_stage[stage] - 1;
    Json head = Json::array();
    for (const auto& [label, value] : experiments::stage_headline(db, j["run_id"].get<int64_t>(), j["kind"].get<std::string>()))
      head.push_back({{"label", label}, {"value", value}});
    j["headline"] = head;
    stages.push_back(j);
  }
  std::sort(stages.begin(), stages.end(), [](const Json& a, const Json& b) { return a["run_id"] < b["run_id"]; });
  out["stages"] = stages;
  return out;
}

}  // namespace r1::serve
