// The causal language model: embeddings, N blocks (RMSNorm -> attention -> residual -> RMSNorm
// -> MLP or MoE -> residual), final norm, LM head. Parameter names are Hugging Face's
// (model.layers.N.self_attn.kv_a_proj_with_mqa.weight, lm_head.weight, ...), so state dicts map
// 1:1 onto safetensors checkpoints of DeepseekV3ForCausalLM, Qwen2ForCausalLM, LlamaForCausalLM.
//
//   CausalLM m(config);                  // random init as transformers does
//   auto logits = m->forward(ids);       // [B, T] -> [B, T, vocab], full causal attention
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "policy/attention.h"
#include "policy/layers.h"
#include "policy/model_config.h"
#include "policy/moe.h"

namespace r1::policy {

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const ModelConfig& c, int64_t layer);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& positions, CacheBatch* cache);
  // Gradient checkpointing's forward (force) and recomputation (skip); see moe.h.
  void set_load_counting(LoadCounting c) {
    if (moe) moe->set_load_counting(c);
  }

  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  MlaAttention mla{nullptr};
  GqaAttention gqa{nullptr};
  Mlp dense{nullptr};
  Moe moe{nullptr};

 private:
  int64_t layer_;
};
TORCH_MODULE(Block);

class DecoderImpl : public torch::nn::Module {
 public:
  explicit DecoderImpl(const ModelConfig& c);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
  std::vector<Block> blocks;
};
TORCH_MODULE(Decoder);

// What a training forward tells the MoE layers beyond the ids (both optional).
struct ForwardInputs {
  torch::Tensor valid;    // [B, T] bool: positions that count toward expert loads (not padding)
  torch::Tensor routing;  // [B, T, moe layers, k] int64: experts to route each position to (replay)
};

class CausalLMImpl : public torch::nn::Module {
 public:
  explicit CausalLMImpl(const ModelConfig& c);

  // ids: [B, T] int64. positions: [B, T] (default 0..T-1, or cache lengths + t with a cache).
  torch::Tensor hidden(const torch::Tensor& ids, torch::Tensor positions = {}, CacheBatch* cache = nullptr,
                       const ForwardInputs& inputs = {});
  torch::Tensor logits(const torch::Tensor& hidden);  // [.., hidden] -> [.., vocab]
  // The [vocab, hidden] matrix logits() multiplies by: lm_head's, or the tied embedding.
  const torch::Tensor& output_weight() const { return lm_head ? lm_head->weight : model->embed_tokens->weight; }
  torch::Tensor forward(const torch::Tensor& ids, torch::Tensor positions = {}, CacheBatch* cache = nullptr) {
    return logits(hidden(ids, positions, cache));
  }

  const ModelConfig& config() const { return config_; }
  void set_gradient_checkpointing(bool on) { checkpointing_ = on; }
  bool gradient_checkpointing() const { return checkpointing_; }
  void init_weights(uint64_t seed);  // normal(0, initializer_range), norms 1, biases 0

  // Hugging Face names -> tensors (parameters and persistent buffers; lm_head omitted when tied).
  std::map<std::string, torch::Tensor> state() const;
  std::vector<Moe> moe_layers() const { return moe_layers_; }
  // Routing record for the rollout engine: after each forward, last_routing() is [B*T, moe layers,
  // k] int64 (undefined for a model without MoE layers or while recording is off).
  void set_record_routing(bool on);
  torch::Tensor last_routing() const;

  Decoder model{nullptr};
  torch::nn::Linear lm_head{nullptr};

 private:
  ModelConfig config_;
  bool checkpointing_ = false;
  std::vector<Moe> moe_layers_;  // the blocks' MoE layers, found once (every forward sets their inputs)
  PackedWeight lm_head_packed_;  // decode-sized batches (packed_linear.h); the embedding when tied
};
TORCH_MODULE(CausalLM);

}  // namespace r1::policy
