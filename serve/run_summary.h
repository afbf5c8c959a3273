// Per run, each metric's point count and latest value, kept in memory and brought up to date from
// the rows after the step last seen. The store's metric rows are keyed (run, step, key) for fast
// writing, so "the latest value of key K" would otherwise scan a run's rows backwards until K
// turns up, and the whole run when it never does (bench_serve: 77 ms for a runs page, 4 ms cached).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "experiments/sqlite_db.h"

namespace r1::serve {

struct KeySummary {
  int64_t points = 0, last_step = -1;
  double last_value = 0;
  bool has_value = false;  // false while every value is NULL (NaN)
};

struct RunSummary {
  int64_t through_step = -1;  // rows up to this step are folded in
  std::string status;         // as when last brought up to date: a change (finished, resumed) recomputes
  double ended_at = 0;
  std::unordered_map<int64_t, KeySummary> keys;  // by metric_keys.id
};

class RunSummaries {
 public:
  RunSummary get(experiments::Database& db, int64_t run_id);  // a copy, up to date

 private:
  std::mutex mu_;
  std::unordered_map<int64_t, RunSummary> cache_;
};

}  // namespace r1::serve
