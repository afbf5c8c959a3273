// Building blocks shared by every architecture: RMSNorm, rotary embeddings (plain, linear,
// YaRN, Llama-3 scaling; half-split or interleaved pairs) and the SwiGLU MLP.
#pragma once

#include <torch/torch.h>

#include "policy/model_config.h"
#include "policy/packed_linear.h"

namespace r1::policy {

// fp32 for half-precision compute, float64 kept as is (gradient checks run in double).
inline torch::ScalarType at_least_fp32(torch::ScalarType t) { return t == torch::kFloat64 ? t : torch::kFloat32; }

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);  // normalizes in fp32, returns x's dtype
  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

// Rotary position embedding for one head size. Computes cos/sin for the given positions on the
// fly (no table sized by max_position_embeddings, which is 163840 for DeepSeek-V3).
class Rotary {
 public:
  Rotary() = default;
  Rotary(const ModelConfig& c, int64_t rotary_dim, bool interleaved);
  // x: [B, T, H, D]; positions: [B, T] int64. Returns x rotated, same shape and dtype.
  torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& positions) const;
  // The same in two steps, so that layers sharing positions compute cos and sin once:
  // cos_sin -> ([B, T, 1, D/2], [B, T, 1, D/2]) in `dtype`; apply(x, cos, sin).
  std::pair<torch::Tensor, torch::Tensor> cos_sin(const torch::Tensor& positions, torch::ScalarType dtype,
                                                  torch::Device device) const;
  torch::Tensor apply(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) const;
  int64_t dim() const { return 2 * inv_freq_.size(0); }
  torch::Tensor inv_freq() const { return inv_freq_; }
  double attention_factor() const { return attention_factor_; }

 private:
  torch::Tensor inv_freq_;          // [D/2] float32
  double attention_factor_ = 1.0;   // YaRN scales cos and sin
  bool interleaved_ = false;
};

// SwiGLU feed-forward: down(silu(gate(x)) * up(x)). HF names gate_proj, up_proj, down_proj.
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t hidden, int64_t inner);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};

  // The packed weights, for running the MLP's panels directly (expert_decode.h); call only where
  // PackedWeight::applies to the input and gate_proj's weight.
  struct Packed {
    torch::Tensor gate, up, down;  // [ceil(n / 16), k, 16] each
    int64_t hidden = 0, inner = 0;
  };
  Packed packed();

 private:
  PackedWeight gate_packed_, up_packed_, down_packed_;  // decode-sized batches (packed_linear.h)
};
TORCH_MODULE(Mlp);

}  // namespace r1::policy
