// The endpoints, one function each, grouped by page: api_runs.cpp (runs, compare, lineage),
// api_metrics.cpp (curves, expert load, live), api_samples.cpp (completions, histograms),
// api_sql.cpp (the SQL box). Private to serve/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/sqlite_db.h"
#include "serve/api.h"
#include "serve/http_types.h"

namespace r1::serve {

using experiments::Database;
using Json = nlohmann::json;

Json cell_json(const experiments::Cell& c);
std::optional<int64_t> metric_key_id(Database& db, const std::string& name);
void require_run(Database& db, int64_t run_id);  // NotFound naming the run
void bind_all(experiments::Statement& st, const std::vector<experiments::Cell>& binds);  // to ?1, ?2, ...

Json runs_list(Database& db, RunSummaries& summaries, const Request& req);
Json run_detail(Database& db, RunSummaries& summaries, int64_t run_id);
Json store_keys(Database& db);
Json compare_runs(Database& db, const Request& req);
Json pipelines_list(Database& db);
Json pipeline_detail(Database& db, int64_t pipeline_id);

std::string metric_series(Database& db, int64_t run_id, const Request& req);  // JSON text
Json expert_load(Database& db, int64_t run_id, const Request& req);

Json samples_page(Database& db, int64_t run_id, const Request& req);
Json sample_steps(Database& db, int64_t run_id);
Json reward_histogram(Database& db, int64_t run_id, const Request& req);

Response sql_box(Database& db, const Request& req, const ApiLimits& limits);

}  // namespace r1::serve
