// The engine's cache and weights; one generate() call is a Generation (generation.h).
#include "rollout/engine.h"

#include "rollout/generation.h"

namespace r1::rollout {

const char* to_string(FinishReason r) {
  switch (r) {
    case FinishReason::eos: return "eos";
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::prompt_too_long: return "prompt_too_long";
  }
  return "?";
}

Engine::Engine(policy::CausalLM model, EngineConfig config, std::vector<int32_t> eos_ids, TokenBytes token_bytes)
    : model_(std::move(model)), config_(config), eos_(std::move(eos_ids)), token_bytes_(std::move(token_bytes)) {}

void Engine::ensure_cache(int64_t slots, int64_t slot_len) {
  if (slots <= slots_ && slot_len <= slot_len_ && !cache_.empty()) return;
  slots = std::max(slots, slots_);
  slot_len = std::max(slot_len, slot_len_);
  const auto& c = model_->config();
  auto p = model_->parameters().front();
  auto opts = torch::TensorOptions().dtype(p.scalar_type()).device(p.device());
  cache_.clear();
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    if (c.mla())
      cache_.push_back({torch::zeros({slots, slot_len, c.kv_lora_rank}, opts), torch::zeros({slots, slot_len, c.qk_rope_head_dim}, opts)});
    else
      cache_.push_back({torch::zeros({slots, slot_len, c.num_key_value_heads, c.gqa_head_dim()}, opts),
                        torch::zeros({slots, slot_len, c.num_key_value_heads, c.gqa_head_dim()}, opts)});
  }
  slots_ = slots;
  slot_len_ = slot_len;
}

void Engine::load_weights(policy::CausalLM& source) {
  torch::NoGradGuard ng;
  if (source.get() != model_.get()) {
    auto dst = model_->state();
    for (auto& [name, t] : source->state()) dst.at(name).copy_(t);
  }
  ++weight_version_;
}

std::vector<Completion> Engine::generate(const std::vector<Request>& requests, const OnToken& on_token) {
  torch::NoGradGuard no_grad;
  return Generation(*this, requests, on_token).run();
}

}  // namespace r1::rollout
