// `r1 demo --r1` (cmd_demo_r1.cpp): R1's chain of experiments/pipelines/r1.toml on generated data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/cli_common.h"

namespace r1::cli {

struct DemoR1Options {
  int64_t seed = 1;
  std::string dir = "runs/demo-r1";  // data, the pipeline file and the stages' checkpoints
  std::vector<std::string> sets;     // pipeline overrides (stage.NAME.section.key=value)
  int64_t eval_limit = 200;          // held-out problems per set (there are 300 sums and 100 functions)
};

void run_r1_demo(const Context& ctx, const DemoR1Options& o);

}  // namespace r1::cli
