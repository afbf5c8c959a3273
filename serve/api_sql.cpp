// The SQL box: one read-only statement over the store, with a row limit and a time limit
// (Database::guarded_query), answered as JSON or as CSV.
#include <chrono>

#include "serve/api_handlers.h"

namespace r1::serve {
namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Response sql_box(Database& db, const Request& req, const ApiLimits& limits) {
  std::string sql = req.param_or("sql", "");
  std::string format = req.param_or("format", "json");
  int64_t limit = req.int_param("limit", static_cast<int64_t>(limits.sql_row_limit), 1, static_cast<int64_t>(limits.sql_row_limit));
  if (req.method == "POST") {
    Json body = Json::parse(req.body);  // a parse error is a 400 (Api::handle)
    if (!body.is_object() || !body.contains("sql") || !body["sql"].is_string()) throw BadRequest{"POST /api/sql takes {\"sql\": \"SELECT ...\"}"};
    sql = body["sql"].get<std::string>();
    if (body.contains("format")) format = body["format"].get<std::string>();
    if (body.contains("limit")) limit = std::clamp<int64_t>(body["limit"].get<int64_t>(), 1, static_cast<int64_t>(limits.sql_row_limit));
  }
  if (format != "json" && format != "csv") throw BadRequest{"format must be json or csv"};
  if (sql.empty()) throw BadRequest{"no query: pass sql"};
  const auto t0 = std::chrono::steady_clock::now();
  experiments::Database::GuardedResult r;
  try {
    r = db.guarded_query(sql, static_cast<size_t>(limit), limits.sql_time_limit_ms);
  } catch (const experiments::ExperimentsError& e) {
    std::string msg = e.what();
    // Errors name the store's path; the box's user does not need the server's file layout.
    if (size_t p = msg.find(db.path() + ": "); p == 0) msg = msg.substr(db.path().size() + 2);
    throw BadRequest{msg};
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  Response resp;
  resp.headers.emplace_back("Cache-Control", "no-store");
  if (format == "csv") {
    resp.content_type = "text/csv; charset=utf-8";
    resp.headers.emplace_back("Content-Disposition", "attachment; filename=\"query.csv\"");
    for (size_t i = 0; i < r.rs.columns.size(); ++i) resp.body += (i ? "," : "") + csv_field(r.rs.columns[i]);
    resp.body += "\r\n";
    for (const auto& row : r.rs.rows) {
      for (size_t i = 0; i < row.size(); ++i) resp.body += (i ? "," : "") + csv_field(experiments::cell_text(row[i]));
      resp.body += "\r\n";
    }
    return resp;
  }
  Json rows = Json::array();
  for (const auto& row : r.rs.rows) {
    Json j = Json::array();
    for (const auto& c : row) j.push_back(cell_json(c));
    rows.push_back(std::move(j));
  }
  resp.body = Json{{"columns", r.rs.columns}, {"rows", rows}, {"truncated", r.truncated}, {"limit", limit}, {"elapsed_ms", ms}}
                  .dump(-1, ' ', false, Json::error_handler_t::replace);
  return resp;
}

}  // namespace r1::serve
