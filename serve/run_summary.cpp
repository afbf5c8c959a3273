#include "serve/run_summary.h"

namespace r1::serve {

RunSummary RunSummaries::get(experiments::Database& db, int64_t run_id) {
  auto r = db.prepare("SELECT status, COALESCE(ended_at, 0), (SELECT MAX(step) FROM metric_values WHERE run_id = ?1) FROM runs WHERE id = ?1");
  r.bind(1, run_id);
  if (!r.step()) return {};
  const std::string status = r.text_at(0);
  const double ended_at = r.double_at(1);
  const int64_t max_step = r.is_null(2) ? -1 : r.int_at(2);
  RunSummary s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = cache_.find(run_id); it != cache_.end()) s = it->second;
  }
  // A resumed run rewrites the steps after its checkpoint, and a finished one may have been
  // resumed: start over unless the run is the same one and has only grown.
  if (s.status != status || s.ended_at != ended_at || max_step < s.through_step) s = RunSummary{};
  s.status = status;
  s.ended_at = ended_at;
  if (max_step < 0 || (max_step == s.through_step && status != "running")) return s;
  // The last step seen again: a step's metrics may land in two flushes.
  auto st = db.prepare("SELECT key_id, step, value FROM metric_values WHERE run_id = ? AND step >= ?");
  st.bind(1, run_id).bind(2, std::max<int64_t>(s.through_step, 0));
  while (st.step()) {
    KeySummary& k = s.keys[st.int_at(0)];
    const int64_t step = st.int_at(1);
    if (step != k.last_step) ++k.points;
    if (step >= k.last_step) {
      k.last_step = step;
      k.has_value = !st.is_null(2);
      k.last_value = k.has_value ? st.double_at(2) : 0;
    }
  }
  s.through_step = max_step;
  std::lock_guard<std::mutex> lock(mu_);
  cache_[run_id] = s;
  return s;
}

}  // namespace r1::serve
