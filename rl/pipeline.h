// Pipelines (`r1 pipeline`): R1's chain of stages — pretrain, SFT, GRPO, rejection sampling,
// evaluation — in one file of `[[stage]]` entries that run in order, each a run in the store.
//
//   [pipeline]
//   name = "r1-tiny"            # default: the file's stem; the store knows a pipeline by name
//   seed = 1                    # optional: every stage's run.seed unless the stage sets one
//   out_dir = "runs"            # default run.out_dir of every stage, relative to this file
//
//   [[stage]]
//   name = "base"
//   kind = "pretrain"           # pretrain | sft | grpo | sample | eval | distill
//   include = "base.toml"       # recipe files under the stage's own tables (relative to the file)
//   [stage.lm]
//   corpus = ["corpus.jsonl"]
//
//   [[stage]]
//   name = "zero"
//   kind = "grpo"
//   model = "stage:base"        # start from that stage's last checkpoint (or a folder); a table
//                               # [stage.model] with `from = "stage:base"` sets other keys too
//   [[stage]]
//   name = "rs1"
//   kind = "sample"
//   model = "stage:zero"
//   [stage.sample]              # rl/sample_config.h; the prompts are the stage's [data]
//   n = 8
//   keep = "correct,format,language=en"
//
//   [[stage]]
//   name = "cold_start"
//   kind = "sft"
//   model = "stage:base"
//   data = "stage:rs1"          # the sample stage's file, before the stage's own lm.corpus
//
//   [[stage]]
//   name = "student"
//   kind = "distill"            # [stage.distill] mode = "sft" (with data) | "on_policy"
//   teacher = "stage:r1"        # distill.teacher = that stage's last checkpoint
//
// Each stage's hash covers its kind, its resolved config, the contents of its input files and
// the hash of the stage before it, so a changed stage changes the hash of every stage after it:
// re-running skips finished stages whose hash is unchanged and re-runs the rest.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "rl/recipe.h"
#include "rl/sample_config.h"

namespace r1::rl {

enum class StageKind { pretrain, sft, grpo, sample, eval, distill };
std::string_view to_string(StageKind k);
bool makes_model(StageKind k);  // pretrain, sft, grpo, distill: a checkpoint later stages can start from

struct PipelineStage {
  std::string name;
  StageKind kind = StageKind::grpo;
  std::string model_from;   // stage whose last checkpoint this one starts from ("" = its [model])
  std::string data_from;    // sample stage whose file this one trains on (sft, distill)
  std::string teacher_from; // stage whose last checkpoint is the teacher (distill)
  text::Value tables;       // the stage's recipe tables, includes merged, references taken out
  SampleConfig sample;      // kind = "sample"
  text::Origin origin;      // where its [[stage]] was written
  std::string hash;
};

struct Pipeline {
  std::string name, path;  // path: absolute
  int64_t seed = 0;         // 0 = each stage's own run.seed
  std::string out_dir = "runs";
  std::vector<PipelineStage> stages;
  const PipelineStage* find(const std::string& stage) const;
};

// Reads a pipeline file. `sets` are "pipeline.key=value" and "stage.NAME.section.key=value".
// Every stage's recipe is bound and checked, references are checked (unknown stage, a stage
// that runs later, a cycle, a kind that makes no model or no data, a stage without a model) and
// hashes are computed before anything runs; errors are experiments::ConfigError naming the
// file, line, stage and key.
Pipeline load_pipeline(const std::string& path, const std::vector<std::string>& sets);

// What a finished stage hands on.
struct StageOutput {
  int64_t run_id = 0;
  std::string model_dir;  // its last checkpoint (pretrain, sft, grpo)
  std::string data_file;  // its kept samples (sample)
};

// The stage's recipe with its inputs filled in from earlier stages' outputs: model.path = the
// checkpoint of `model_from`, lm.corpus = the file of `data_from` then the stage's own corpus,
// distill.teacher = the checkpoint of `teacher_from`,
// and the pipeline's defaults for run.name (<pipeline>.<stage>), run.seed and run.out_dir.
ResolvedRecipe stage_recipe(const Pipeline& p, const PipelineStage& s, const std::map<std::string, StageOutput>& outputs);

}  // namespace r1::rl
