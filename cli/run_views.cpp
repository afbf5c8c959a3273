// Metric summaries for `runs show`, `runs compare` and `runs ls`.
#include "cli/run_views.h"

#include <algorithm>

namespace r1::cli {

experiments::RunInfo resolve_run(experiments::RunStore& store, const std::string& id_or_name) {
  auto r = store.find_run(id_or_name);
  if (!r) throw InputError("no run '" + id_or_name + "' in " + store.path() + " (see r1 runs ls)");
  return *r;
}

bool higher_is_better(const std::string& key) {
  static const char* lower[] = {"loss", "kl", "time", "error", "_s", "length", "len", "grad_norm", "clip", "entropy"};
  std::string k = key;
  std::transform(k.begin(), k.end(), k.begin(), ::tolower);
  for (const char* l : lower)
    if (k.find(l) != std::string::npos) return false;
  return true;
}

std::vector<MetricSummary> summarize_metrics(experiments::RunStore& store, int64_t run_id) {
  std::vector<MetricSummary> out;
  for (const auto& [key, series] : store.metric_series_all(run_id)) {
    if (series.empty()) continue;
    MetricSummary m;
    m.key = key;
    m.n = series.size();
    m.last = series.back().value;
    m.last_step = series.back().step;
    m.min = m.max = series.front().value;
    bool up = higher_is_better(key);
    m.best = series.front().value;
    m.best_step = series.front().step;
    for (const auto& p : series) {
      m.values.push_back(p.value);
      m.min = std::min(m.min, p.value);
      m.max = std::max(m.max, p.value);
      if (up ? p.value > m.best : p.value < m.best) {
        m.best = p.value;
        m.best_step = p.step;
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace r1::cli
