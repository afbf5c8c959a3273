// The dashboard's JSON endpoints over the run store. Every view is a SQL query the user could also
// run with `r1 sql`; the endpoints add paging, downsampling and the SQL box's guard.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "experiments/sqlite_db.h"
#include "serve/http_types.h"
#include "serve/run_summary.h"

namespace r1::serve {

struct ApiLimits {
  int sql_time_limit_ms = 2000;
  size_t sql_row_limit = 1000;
};

// Where a live stream of one run stands: what the client has already been sent.
struct LiveCursor {
  int64_t run_id = 0;
  int64_t step = -1;          // the highest metric step sent
  int64_t rows_at_step = 0;   // metric rows of that step sent (a step may land in two flushes)
  int64_t sample_id = 0;      // the highest sample id announced
  std::string status;
};

class Api {
 public:
  Api(std::string db_path, ApiLimits limits);

  // GET/POST /api/...: 200 with JSON (or CSV), 400 for a bad parameter, 404 for an unknown
  // route or run, 500 with the message for a store error. Never throws.
  Response handle(const Request& req);

  // Live updates of one run as server-sent events: live_open starts after `after_step`;
  // live_poll returns the events that are new since the cursor ("" when nothing is).
  LiveCursor live_open(int64_t run_id, int64_t after_step);
  std::string live_poll(LiveCursor& cursor);

  // Brings every run's summary into memory, newest run first, until done or stop_warm_up(): the
  // first runs page then need not scan the store (bench_serve: 226 ms cold, under 1 ms warm).
  void warm_up();
  void stop_warm_up() { stop_warm_up_ = true; }

 private:
  // Read-only connections, one per concurrent request (SQLite connections are single-threaded
  // here: the store opens them without a mutex).
  class Lease {
   public:
    Lease(Api& api);
    ~Lease();
    experiments::Database& db() { return *db_; }

   private:
    Api& api_;
    std::unique_ptr<experiments::Database> db_;
  };
  Response dispatch(experiments::Database& db, const Request& req);

  std::string db_path_;
  ApiLimits limits_;
  RunSummaries summaries_;
  std::atomic<bool> stop_warm_up_{false};
  std::mutex mu_;
  std::vector<std::unique_ptr<experiments::Database>> idle_;
};

}  // namespace r1::serve
