// Tiny architectures used by the CPU tests: every feature of the real ones, a few thousand
// parameters. Same code path as the 671B config.
#pragma once

#include "policy/model_config.h"

namespace r1::test {

inline policy::ModelConfig tiny_v3(bool q_lora = true, bool yarn = true) {
  std::string json = R"({"model_type": "deepseek_v3", "vocab_size": 61, "hidden_size": 32, "intermediate_size": 48,
    "num_hidden_layers": 3, "num_attention_heads": 4, "kv_lora_rank": 16, "q_lora_rank": )" +
                     std::string(q_lora ? "24" : "null") + R"(, "qk_nope_head_dim": 8, "qk_rope_head_dim": 4,
    "v_head_dim": 6, "n_routed_experts": 8, "n_shared_experts": 1, "num_experts_per_tok": 2,
    "moe_intermediate_size": 12, "first_k_dense_replace": 1, "n_group": 4, "topk_group": 2,
    "scoring_func": "sigmoid", "norm_topk_prob": true, "routed_scaling_factor": 2.5, "topk_method": "noaux_tc",
    "rms_norm_eps": 1e-6, "rope_theta": 10000, "max_position_embeddings": 256, "initializer_range": 0.2)" +
                     std::string(yarn ? R"(, "rope_scaling": {"type": "yarn", "factor": 4, "mscale": 1.0,
    "mscale_all_dim": 1.0, "beta_fast": 32, "beta_slow": 1, "original_max_position_embeddings": 64})" : "") + "}";
  return policy::ModelConfig::from_json(text::parse_json(json, "tiny_v3"), "tiny_v3");
}

inline policy::ModelConfig tiny_qwen2() {
  return policy::ModelConfig::from_json(text::parse_json(R"({"model_type": "qwen2", "vocab_size": 53,
    "hidden_size": 32, "intermediate_size": 40, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "tie_word_embeddings": true, "rope_theta": 1000000, "rms_norm_eps": 1e-6,
    "max_position_embeddings": 256, "initializer_range": 0.2})", "tiny_qwen2"), "tiny_qwen2");
}

}  // namespace r1::test
