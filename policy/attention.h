// Attention: multi-head latent attention (DeepSeek-V2/V3) and grouped-query attention
// (Llama/Qwen), each with a full causal path for training and a cached path for incremental
// decoding. The cache's storage belongs to rollout/: layers only see a CacheBatch describing
// where each row's entries live.
//
// MLA caches only the compressed latent c_kv (after kv_a_layernorm) and the shared rope key per
// token. The cached path attends in the latent space ("absorbed": W_UK folded into the query,
// W_UV applied after the weighted sum) or, for reference, expands the latent to full K/V ("naive").
#pragma once

#include <torch/torch.h>

#include <vector>

#include "policy/cpu_decode.h"
#include "policy/layers.h"
#include "policy/model_config.h"

namespace r1::policy {

// One layer's cache tensors. MLA: a = latent [S, L, kv_lora_rank], b = rope key [S, L, rope_dim].
// GQA: a = K, b = V, each [S, L, n_kv_heads, head_dim]. S slots of L positions.
struct LayerKv {
  torch::Tensor a, b;
};

struct CacheBatch {
  std::vector<LayerKv>* layers = nullptr;
  torch::Tensor slots;       // [B] int64: the cache slot of each row
  torch::Tensor lengths;     // [B] int64: entries already cached; new tokens go at lengths + t
  int64_t span = 0;          // max over rows of lengths + T: how many positions are attended
  bool contiguous = false;   // slots == 0..B-1: read the cache through views, not gathers
  bool absorb = true;        // MLA: attend in the latent space

  // The same for every layer of one forward (same rows, same positions): made by the first layer
  // that needs them, cleared by CausalLM::hidden at the start of each forward. Saves about
  // twenty small ops per layer and decode step.
  torch::Tensor write_rows, write_cols;  // where this forward's tokens go in each layer's cache
  torch::Tensor rope_cos, rope_sin;      // rotary factors at this forward's positions
  int64_t rope_dim = 0;
  void clear_per_forward() {
    write_rows = write_cols = rope_cos = rope_sin = torch::Tensor();
    rope_dim = 0;
  }
};

// positions of each token in a cached forward: lengths[b] + t, shape [B, T].
torch::Tensor cached_positions(const CacheBatch& cache, int64_t T);

class MlaAttentionImpl : public torch::nn::Module {
 public:
  explicit MlaAttentionImpl(const ModelConfig& c);
  // x: [B, T, hidden]; positions: [B, T]. With a cache, writes this layer's entries and attends
  // over everything cached for the row; without, causal attention within x.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& positions, CacheBatch* cache, int64_t layer);

  torch::nn::Linear q_proj{nullptr}, q_a_proj{nullptr}, q_b_proj{nullptr};
  RMSNorm q_a_layernorm{nullptr};
  torch::nn::Linear kv_a_proj_with_mqa{nullptr}, kv_b_proj{nullptr}, o_proj{nullptr};
  RMSNorm kv_a_layernorm{nullptr};

 private:
  int64_t heads_, nope_, rope_, v_, rank_;
  double scale_;
  Rotary rotary_;
  PackedWeight q_packed_, q_a_packed_, q_b_packed_, kv_a_packed_, o_packed_;  // decode-sized batches (cpu_decode.h)
  cpu_decode::AbsorbedHeads absorbed_;  // kv_b_proj per head, for the absorbed decode kernel
};
TORCH_MODULE(MlaAttention);

class GqaAttentionImpl : public torch::nn::Module {
 public:
  explicit GqaAttentionImpl(const ModelConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& positions, CacheBatch* cache, int64_t layer);

  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};  // Qwen3 only

 private:
  int64_t heads_, kv_heads_, head_dim_;
  double scale_;
  Rotary rotary_;
  PackedWeight q_packed_, k_packed_, v_packed_, o_packed_;  // decode-sized batches
};
TORCH_MODULE(GqaAttention);

}  // namespace r1::policy
