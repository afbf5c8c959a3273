// Rejection sampling as one call, shared by `r1 sample` and a pipeline's sample stage: sample,
// judge, keep, write the SFT JSON Lines (temporary file, then rename), record a samplesets row.
#pragma once

#include <string>

#include "datasets/data_config.h"
#include "experiments/run_store.h"
#include "rl/rejection_sampling.h"
#include "rl/sample_config.h"

namespace r1::cli {

struct SampleJob {
  std::string model, tokenizer;      // tokenizer "" = the model folder
  datasets::DataConfig data;         // the prompts: a named set or generator, or a jsonl file
  rl::SampleConfig sample;
  std::string out;                   // SFT JSON Lines written
  std::string device = "auto";
  uint64_t seed = 1;
  int64_t run_id = 0;                // the run doing the sampling (a pipeline stage); 0 = none
  bool progress = false;             // a token counter on standard error
};

struct SampleOutcome {
  int64_t sampleset_id = 0;
  experiments::SampleSetRecord record;
  rl::SelectionCounts counts;
};

// Throws InputError for bad rules or no prompts.
SampleOutcome run_sample_job(const SampleJob& job, experiments::RunStore& store);

}  // namespace r1::cli
