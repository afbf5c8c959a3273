// `r1 pretrain` and `r1 sft`: next-token training with the same optimizer, schedule, checkpoint,
// resume and run-store machinery as `r1 train`. Pretraining packs documents (EOS between them)
// into fixed-length sequences; SFT renders chat examples with the tokenizer's template and puts
// the loss on assistant tokens only.
#pragma once

#include "experiments/run_store.h"
#include "rl/recipe.h"
#include "rl/trainer.h"

namespace r1::rl {

enum class LmMode { pretrain, sft };

TrainResult train_lm(const Recipe& recipe, LmMode mode, int64_t run_id, experiments::RunStore& store, const TrainEnv& env,
                     bool resume);

}  // namespace r1::rl
