// Loading what a recipe's [model] names: a Hugging Face folder (or a run's checkpoint), or a
// config.json initialised randomly; its tokenizer; the device.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "policy/policy_config.h"
#include "text/tokenizer.h"
#include "policy/transformer.h"

namespace r1::rl {

struct PolicyBundle {
  policy::CausalLM model{nullptr};
  text::Tokenizer tokenizer;
  std::string tokenizer_dir;  // where tokenizer.json came from (copied into checkpoints)
  torch::Device device = torch::kCPU;
};

PolicyBundle load_policy(const policy::PolicyConfig& cfg, uint64_t seed, torch::Device device);
std::vector<int32_t> eos_ids(const text::Tokenizer& tok, const policy::ModelConfig& c);
// The bytes of a token as text for the rollout engine (special tokens print nothing).
std::function<const std::string&(int32_t)> token_text(const text::Tokenizer& tok);

}  // namespace r1::rl
