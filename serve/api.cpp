// Routing of /api/..., the connection pool, and the live stream's polling.
#include "serve/api.h"

#include <charconv>
#include <string_view>

#include "serve/api_handlers.h"

namespace r1::serve {
namespace {

// "/api/runs/12/metrics" -> {"runs", "12", "metrics"}.
std::vector<std::string> path_parts(std::string_view path) {
  std::vector<std::string> parts;
  path.remove_prefix(std::string_view("/api/").size());
  while (!path.empty()) {
    size_t slash = path.find('/');
    parts.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

int64_t id_part(const std::string& s, const char* what) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) throw NotFound{std::string("no ") + what + " \"" + s + "\""};
  return v;
}

Response ok(std::string json_text) {
  Response r;
  r.body = std::move(json_text);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

Response ok(const Json& j) { return ok(j.dump(-1, ' ', false, Json::error_handler_t::replace)); }

}  // namespace

Api::Api(std::string db_path, ApiLimits limits) : db_path_(std::move(db_path)), limits_(limits) {}

Api::Lease::Lease(Api& api) : api_(api) {
  {
    std::lock_guard<std::mutex> lock(api_.mu_);
    if (!api_.idle_.empty()) {
      db_ = std::move(api_.idle_.back());
      api_.idle_.pop_back();
    }
  }
  if (!db_) db_ = std::make_unique<experiments::Database>(api_.db_path_, experiments::Database::Mode::ReadOnly);
}

Api::Lease::~Lease() {
  std::lock_guard<std::mutex> lock(api_.mu_);
  api_.idle_.push_back(std::move(db_));
}

Response Api::handle(const Request& req) {
  try {
    Lease lease(*this);
    return dispatch(lease.db(), req);
  } catch (const BadRequest& e) {
    return json_error(400, e.message);
  } catch (const NotFound& e) {
    return json_error(404, e.message);
  } catch (const Json::exception& e) {
    return json_error(400, std::string("bad JSON: ") + e.what());
  } catch (const std::exception& e) {
    return json_error(500, e.what());
  }
}

Response Api::dispatch(Database& db, const Request& req) {
  std::vector<std::string> p = path_parts(req.path);
  const bool get = req.method == "GET";
  if (p.size() == 1 && p[0] == "sql" && (get || req.method == "POST")) return sql_box(db, req, limits_);
  if (!get) return json_error(405, "only GET here");
  if (p.size() == 1 && p[0] == "runs") return ok(runs_list(db, summaries_, req));
  if (p.size() == 1 && p[0] == "keys") return ok(store_keys(db));
  if (p.size() == 1 && p[0] == "compare") return ok(compare_runs(db, req));
  if (p.size() == 1 && p[0] == "pipelines") return ok(pipelines_list(db));
  if (p.size() == 2 && p[0] == "pipelines") return ok(pipeline_detail(db, id_part(p[1], "pipeline")));
  if (p.size() >= 2 && p[0] == "runs") {
    int64_t run = id_part(p[1], "run");
    require_run(db, run);
    if (p.size() == 2) return ok(run_detail(db, summaries_, run));
    if (p.size() == 3 && p[2] == "metrics") return ok(metric_series(db, run, req));
    if (p.size() == 3 && p[2] == "experts") return ok(expert_load(db, run, req));
    if (p.size() == 3 && p[2] == "samples") return ok(samples_page(db, run, req));
    if (p.size() == 3 && p[2] == "sample_steps") return ok(sample_steps(db, run));
    if (p.size() == 3 && p[2] == "histogram") return ok(reward_histogram(db, run, req));
  }
  return json_error(404, "no endpoint " + req.path);
}

void Api::warm_up() {
  try {
    Lease lease(*this);
    std::vector<int64_t> runs;
    auto st = lease.db().prepare("SELECT id FROM runs ORDER BY id DESC");
    while (st.step()) runs.push_back(st.int_at(0));
    for (int64_t run : runs) {
      if (stop_warm_up_) return;
      summaries_.get(lease.db(), run);
    }
  } catch (const std::exception&) {
    // A store that cannot be read now answers its requests with the reason; nothing to do here.
  }
}

LiveCursor Api::live_open(int64_t run_id, int64_t after_step) {
  Lease lease(*this);
  require_run(lease.db(), run_id);
  LiveCursor c;
  c.run_id = run_id;
  c.step = after_step;
  c.rows_at_step = 0;
  if (after_step >= 0) {
    auto st = lease.db().prepare("SELECT COUNT(*) FROM metric_values WHERE run_id = ? AND step = ?");
    st.bind(1, run_id).bind(2, after_step);
    st.step();
    c.rows_at_step = st.int_at(0);
  }
  auto s = lease.db().prepare("SELECT COALESCE(MAX(id), 0) FROM samples WHERE run_id = ?");
  s.bind(1, run_id);
  s.step();
  c.sample_id = s.int_at(0);
  return c;
}

namespace {

std::string event(const char* name, const Json& data) {
  return std::string("event: ") + name + "\ndata: " + data.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n";
}

}  // namespace

std::string Api::live_poll(LiveCursor& c) {
  Lease lease(*this);
  Database& db = lease.db();
  std::string out;
  // Metric rows from the cursor's step on (rows of that step already sent are counted, so a step
  // that landed in two flushes is sent again whole, and the client replaces its points).
  auto st = db.prepare(
      "SELECT k.name, v.step, v.value, v.wall_time FROM metric_values v JOIN metric_keys k ON k.id = v.key_id "
      "WHERE v.run_id = ? AND v.step >= ? ORDER BY v.step LIMIT 20000");
  st.bind(1, c.run_id).bind(2, std::max<int64_t>(c.step, 0));
  Json points = Json::object();
  int64_t max_step = c.step, rows_at_max = 0, rows_at_cursor = 0;
  std::vector<std::tuple<std::string, int64_t, Json, Json>> rows;
  while (st.step()) {
    int64_t step = st.int_at(1);
    rows.emplace_back(st.text_at(0), step, cell_json(st.cell_at(2)), cell_json(st.cell_at(3)));
    if (step == c.step) ++rows_at_cursor;
    if (step > max_step) max_step = step, rows_at_max = 0;
    if (step == max_step) ++rows_at_max;
  }
  bool news = max_step > c.step || rows_at_cursor > c.rows_at_step;
  if (news) {
    const bool resend_cursor_step = rows_at_cursor > c.rows_at_step;
    for (auto& [key, step, value, wall] : rows) {
      if (step < c.step || (step == c.step && !resend_cursor_step)) continue;
      points[key].push_back(Json::array({step, value, wall}));
    }
    out += event("metrics", {{"points", points}});
    c.step = max_step;
    c.rows_at_step = rows_at_max;
  }
  auto s = db.prepare("SELECT COALESCE(MAX(id), 0), COUNT(*) FROM samples WHERE run_id = ?");
  s.bind(1, c.run_id);
  s.step();
  if (s.int_at(0) > c.sample_id) {
    c.sample_id = s.int_at(0);
    out += event("samples", {{"max_id", c.sample_id}, {"count", s.int_at(1)}});
  }
  auto r = db.prepare("SELECT status, ended_at FROM runs WHERE id = ?");
  r.bind(1, c.run_id);
  if (r.step() && r.text_at(0) != c.status) {
    c.status = r.text_at(0);
    out += event("status", {{"status", c.status}, {"ended_at", cell_json(r.cell_at(1))}});
  }
  return out;
}

}  // namespace r1::serve
