// Read-side helpers shared by the `runs` commands: resolving RUN arguments and summarising metrics.
#pragma once

#include <string>
#include <vector>

#include "cli/cli_common.h"

namespace r1::cli {

experiments::RunInfo resolve_run(experiments::RunStore& store, const std::string& id_or_name);

// Whether larger is better for a metric, judged by its name: losses, KL, times, errors and
// lengths are minimised; everything else (reward, accuracy, pass@k, ...) is maximised.
bool higher_is_better(const std::string& key);

struct MetricSummary {
  std::string key;
  size_t n = 0;
  int64_t last_step = 0;
  double last = 0, best = 0, min = 0, max = 0;
  int64_t best_step = 0;
  std::vector<double> values;
};
std::vector<MetricSummary> summarize_metrics(experiments::RunStore& store, int64_t run_id);

// A pipeline's stages as a tree with their latest runs (`r1 runs lineage`, the end of `r1 pipeline`).
void print_lineage(experiments::RunStore& store, int64_t pipeline_id, bool json);
void add_lineage_command(CLI::App& runs, Context& ctx);

}  // namespace r1::cli
