// Running a loaded pipeline (`r1 pipeline`, and `r1 demo --r1` over its own pipeline file).
#pragma once

#include <map>
#include <set>
#include <string>

#include "cli/cli_common.h"
#include "experiments/run_store.h"
#include "rl/pipeline.h"

namespace r1::cli {

struct PipelineOutcome {
  int64_t pipeline_id = 0;
  std::map<std::string, rl::StageOutput> outputs;  // every stage's run and what it made
  std::set<std::string> skipped;                   // unchanged stages reused from an earlier run
};

// The stages in order: a finished stage with an unchanged hash is skipped, an interrupted one
// continues in its own run, the rest get new runs. An interrupt (SIGINT, SIGTERM) ends the
// process with exit code 130 after the stage has stopped cleanly.
PipelineOutcome run_pipeline(const Context& ctx, experiments::RunStore& store, const rl::Pipeline& p);

}  // namespace r1::cli
