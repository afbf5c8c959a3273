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
constexpr std::array<std::pair<ScoringFunc, std::string_view>, 2> enum_names(ScoringFunc) {
  return {{{ScoringFunc::softmax, "softmax"}, {ScoringFunc::sigmoid, "sigmoid"}}};
}

struct RopeScaling {
  std::string type;                         // "" = none, "yarn", "linear", "llama3"
  double factor = 1.0;
  double mscale = 0.0;                      // yarn: 0 = absent
  double mscale_all_dim = 0.0;              // yarn: 0 = absent
  double beta_fast = 32.0, beta_slow = 1.0; // yarn correction range
  int64_t original_max_position_embeddings = 0;  // 0 = the model's max_position_embeddings
  double low_freq_factor = 1.0, high_freq_factor = 4.0;  // llama3
  bool truncate = true;                     // yarn: round the correction range to integers
  Value extra;                              // keys of the source's rope_scaling not modelled here

  // The config.json keys; a written config holds only the keys of its own scaling type.
  template <class V>
  void visit(V& v) {
    v("type", type, "yarn | linear | llama3 (newer files say rope_type)");
    v("factor", factor, "context extension factor", 0.0);
    if (V::kReads || type == "yarn") {
      v("beta_fast", beta_fast, "yarn: fast end of the correction range");
      v("beta_slow", beta_slow, "yarn: slow end of the correction range");
      v.nullable("mscale", mscale, 0.0, "yarn: attention scale coefficient", 0.0);
      v.nullable("mscale_all_dim", mscale_all_dim, 0.0, "yarn: softmax scale coefficient", 0.0);
      v("truncate", truncate, "yarn: round the correction range to integers");
    }
    if (V::kReads || type == "llama3") {
      v("low_freq_factor", low_freq_factor, "llama3: low-frequency factor", 0.0);
      v("high_freq_factor", high_freq_factor, "llama3: high-frequency factor", 0.0);
    }
    v("original_max_position_embeddings", original_max_position_embeddings, "context length before scaling", 0);
    v.rest(extra);
  }
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
  bool qk_norm = false;            // RMSNorm on q and k per head (Qwen3); from model_type, not a key
  double initializer_range = 0.02;
  RopeScaling rope_scaling;

  // Multi-head latent attention (DeepSeek-V2/V3). kv_lora_rank = 0 means GQA.
  int64_t q_lora_rank = 0;         // 0 = q projected directly (null in config.json)
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

  int64_t bos_token_id = -1, eos_token_id = -1;  // -1 = none (null)
  std::string torch_dtype = "float32";
  Value extra;  // the source file's keys that are not modelled here, written back on save

  // The config.json keys, bound by text/value_binder.h both ways (types, ranges, required keys,
  // unknown keys kept in `extra`). A written config holds the MLA and MoE keys only for MLA
  // models and rope_scaling only when set, as Hugging Face's own files do.
  template <class V>
  void visit(V& v) {
    v.required("model_type", model_type, "deepseek_v3 | deepseek_v2 | qwen2 | qwen3 | llama");
    v.required("vocab_size", vocab_size, "tokens in the vocabulary", 1);
    v.required("hidden_size", hidden_size, "model width", 1);
    v.required("intermediate_size", intermediate_size, "dense SwiGLU width", 1);
    v.required("num_hidden_layers", num_hidden_layers, "transformer blocks", 1);
    v.required("num_attention_heads", num_attention_heads, "query heads", 1);
    v("num_key_value_heads", num_key_value_heads, "GQA key/value heads; absent = num_attention_heads", 1);
    v.nullable("head_dim", head_dim, int64_t{0}, "GQA head size; absent = hidden_size / heads", 0);
    v("max_position_embeddings", max_position_embeddings, "longest sequence", 1);
    v("rms_norm_eps", rms_norm_eps, "RMSNorm epsilon", 0.0);
    v("rope_theta", rope_theta, "RoPE base", 0.0);
    v("tie_word_embeddings", tie_word_embeddings, "the head shares the embedding matrix");
    v("attention_bias", attention_bias, "q/k/v projection biases; absent = true for qwen2");
    v("initializer_range", initializer_range, "std of the random initialisation", 0.0);
    v("torch_dtype", torch_dtype, "dtype of the saved weights");
    v.nullable("bos_token_id", bos_token_id, int64_t{-1}, "beginning-of-sequence token", 0);
    v.nullable("eos_token_id", eos_token_id, int64_t{-1}, "end-of-sequence token", 0);
    if (V::kReads || !rope_scaling.type.empty()) v.table("rope_scaling", rope_scaling, "context extension");
    if (V::kReads || mla()) visit_latent_attention(v);
    if (V::kReads || mla()) visit_experts(v);
    v.rest(extra);
  }

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

 private:
  template <class V>
  void visit_latent_attention(V& v) {
    v("kv_lora_rank", kv_lora_rank, "MLA latent width (0 or absent = GQA attention)", 0);
    v.nullable("q_lora_rank", q_lora_rank, int64_t{0}, "MLA query compression (null = direct)", 0);
    v("qk_nope_head_dim", qk_nope_head_dim, "MLA per-head key width without RoPE", 0);
    v("qk_rope_head_dim", qk_rope_head_dim, "MLA per-head RoPE key width", 0);
    v("v_head_dim", v_head_dim, "MLA per-head value width", 0);
    v("rope_interleave", rope_interleave, "MLA RoPE on (even, odd) pairs");
  }
  template <class V>
  void visit_experts(V& v) {
    v.nullable("n_routed_experts", n_routed_experts, int64_t{0}, "routed experts (null = dense model)", 0);
    v("n_shared_experts", n_shared_experts, "always-on experts per MoE layer", 0);
    v("num_experts_per_tok", num_experts_per_tok, "routed experts each token uses", 0);
    v("moe_intermediate_size", moe_intermediate_size, "expert SwiGLU width", 0);
    v("first_k_dense_replace", first_k_dense_replace, "leading dense layers", 0);
    v("moe_layer_freq", moe_layer_freq, "every k-th layer is MoE", 1);
    v("n_group", n_group, "expert groups", 1);
    v("topk_group", topk_group, "groups each token may use", 1);
    v("scoring_func", scoring_func, "gate scores: softmax | sigmoid");
    v("norm_topk_prob", norm_topk_prob, "renormalise the chosen experts' weights");
    v("routed_scaling_factor", routed_scaling_factor, "scale of the routed output", 0.0);
    v("topk_method", topk_method, "greedy | group_limited_greedy | noaux_tc; absent = noaux_tc for deepseek_v3");
  }
  // Defaults that depend on model_type or on other keys; checks across keys.
  void apply_family_defaults(const Value& json);
  void validate(const std::string& source) const;
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
