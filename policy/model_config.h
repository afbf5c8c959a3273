// ModelConfig: the architecture, read from a Hugging Face config.json. One struct describes
// DeepSeek-V3 (MLA + DeepSeekMoE), DeepSeek-V2 and dense Qwen2/Qwen3/Llama (GQA) models; field
// names are the config.json keys. Parameter, KV-cache and FLOP counts come from the shapes alone
// (no weights allocated), for `r1 model info`.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "policy/policy_error.h"

namespace r1::policy {

enum class ScoringFunc { softmax, sigmoid };

struct RopeScaling {
  std::string type;                         // "" = none, "yarn", "linear", "llama3"
  double factor = 1.0;
  double mscale = 0.0;                      // yarn: 0 = absent
  double mscale_all_dim = 0.0;              // yarn: 0 = absent
  double beta_fast = 32.0, beta_slow = 1.0; // yarn correction range
  int64_t original_max_position_embeddings = 0;
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  bool truncate = true;                     // yarn: round the correction range to integers
};

struct ModelConfig {
  std::string model_type;          // deepseek_v3 | deepseek_v2 | qwen2 | qwen3 | llama
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;   // dense SwiGLU width
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0; // GQA; equals heads for MLA
  int64_t head_dim = 0;            // GQA head size; 0 = hidden / heads
  int64_t max_position_embeddings = 4096;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  bool attention_bias = false;     // q/k/v projection biases (Qwen2)
  bool qk_norm = false;            // RMSNorm on q and k per head (Qwen3)
  double initializer_range = 0.02;
  RopeScaling rope_scaling;

  // Multi-head latent attention (DeepSeek-V2/V3). kv_lora_rank = 0 means GQA.
  int64_t q_lora_rank = 0;         // 0 = q projected directly
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  bool rope_interleave = true;     // MLA rope on (even, odd) pairs, as DeepSeek's reference code

  // DeepSeekMoE. n_routed_experts = 0 means every layer is dense.
  int64_t n_routed_experts = 0;
  int64_t n_shared_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t moe_intermediate_size = 0;
  int64_t first_k_dense_replace = 0;
  int64_t moe_layer_freq = 1;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  ScoringFunc scoring_func = ScoringFunc::softmax;
  bool norm_topk_prob = false;
  double routed_scaling_factor = 1.0;
  std::string topk_method = "greedy";  // greedy | group_limited_greedy | noaux_tc (selection bias)

  int64_t bos_token_id = -1, eos_token_id = -1;
  std::string torch_dtype = "float32";
  Value extra;  // every key of the source file, written back on save

  static ModelConfig from_json(const Value& json, const std::string& source);
  static ModelConfig load(const std::string& path);  // a config.json or a folder holding one
  Value to_json() const;

  bool mla() const { return kv_lora_rank > 0; }
  bool moe_layer(int64_t layer) const {
    return n_routed_experts > 0 && layer >= first_k_dense_replace && layer % std::max<int64_t>(moe_layer_freq, 1) == 0;
  }
  bool has_selection_bias() const { return topk_method == "noaux_tc"; }
  int64_t qk_head_dim() const { return mla() ? qk_nope_head_dim + qk_rope_head_dim : gqa_head_dim(); }
  int64_t gqa_head_dim() const { return head_dim > 0 ? head_dim : hidden_size / num_attention_heads; }
  // Softmax scale: 1/sqrt(qk head dim), times mscale^2 under YaRN with mscale_all_dim.
  double softmax_scale() const;
};

// Direct counts from the shapes. "Activated" is what one token passes through: all attention,
// dense MLPs, the router, num_experts_per_tok routed and all shared experts, embedding and head.
struct ModelCounts {
  double total_params = 0;
  double activated_params = 0;
  double embedding_params = 0;
  double head_params = 0;             // 0 when tied
  double attention_params_per_layer = 0;
  double kv_cache_bytes_per_token = 0;  // at the config's dtype: MLA latent + rope key, or K and V
  double flops_per_token = 0;           // forward, at `context` tokens of attention span
  double matmul_flops_per_token = 0;    // 2 x activated weights used in matmuls (no embedding lookup)
  double attention_flops_per_token = 0;
  int64_t context = 0;
};
ModelCounts count_model(const ModelConfig& c, int64_t context = 4096, int bytes_per_value = 2);

}  // namespace r1::policy
