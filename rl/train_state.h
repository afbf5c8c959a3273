// Checkpoints of a training run: the model as a Hugging Face folder (loadable by `r1 generate`
// and transformers, tokenizer included), the optimizer state, the data position, the step, and the
// reference model when it differs from the policy. Written to a temporary folder, then renamed.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>

#include "policy/transformer.h"
#include "rl/critic.h"
#include "rl/master_weights.h"

namespace r1::rl {

struct TrainState {
  int64_t step = 0;            // optimizer steps done (1-based logging step of the last one)
  int64_t data_position = 0;   // tasks drawn from the training cursor
  int64_t weight_version = 0;  // rollout engine weight version
  int64_t opt_steps = 0;       // optimizer updates done (mu x minibatches per step)
  double kl_coef = -1;         // the adaptive KL's current beta; < 0 = rl.beta (not adapted yet)
  std::string inflight;        // asynchronous GRPO: the batches sampled ahead and what had arrived
                               // of them (RolloutPipeline::inflight_state); "" = none
};

// Writes `dir` (created atomically); returns the bytes written.
// `masters` (bf16/fp16 models) adds master.safetensors, the fp32 weights the optimizer updates;
// `critic` (PPO) adds critic/.
int64_t save_checkpoint(const std::string& dir, policy::CausalLM& model, torch::optim::Optimizer* optimizer,
                        policy::CausalLM* reference, const TrainState& state, const std::string& tokenizer_dir,
                        const MasterWeights* masters = nullptr, const Critic* critic = nullptr);

// Restores into existing objects (shapes must match); throws PolicyError naming the file.
TrainState load_checkpoint(const std::string& dir, policy::CausalLM& model, torch::optim::Optimizer* optimizer,
                           policy::CausalLM* reference, MasterWeights* masters = nullptr, Critic* critic = nullptr);

}  // namespace r1::rl
