// RMSNorm, RoPE (with YaRN as Hugging Face computes it) and SwiGLU.
#include "policy/layers.h"

#include <algorithm>
#include <cmath>

#include "policy/cpu_decode.h"

namespace r1::policy {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  if (auto y = cpu_decode::rms_norm(x, weight, eps_)) return *y;
  auto xf = x.to(at_least_fp32(x.scalar_type()));
  auto var = xf.pow(2).mean(-1, /*keepdim=*/true);
  xf = xf * torch::rsqrt(var + eps_);
  return weight * xf.to(x.scalar_type());
}

namespace {

double get_mscale(double scale, double mscale = 1.0) {
  if (scale <= 1.0) return 1.0;
  return 0.1 * mscale * std::log(scale) + 1.0;
}

// YaRN (Peng et al. 2023) as transformers' _compute_yarn_parameters: interpolate low
// frequencies by `factor`, keep high ones, ramp between the correction dims.
torch::Tensor yarn_inv_freq(const ModelConfig& c, int64_t dim, double& attention_factor) {
  const RopeScaling& rs = c.rope_scaling;
  double base = c.rope_theta, factor = rs.factor;
  auto pos_freqs = torch::pow(base, torch::arange(0, dim, 2, torch::kFloat32) / static_cast<double>(dim));
  auto extrapolation = 1.0 / pos_freqs;
  auto interpolation = 1.0 / (factor * pos_freqs);
  double orig = static_cast<double>(rs.original_max_position_embeddings);
  auto correction_dim = [&](double rotations) {
    return (dim * std::log(orig / (rotations * 2 * M_PI))) / (2 * std::log(base));
  };
  double low = correction_dim(rs.beta_fast), high = correction_dim(rs.beta_slow);
  if (rs.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;
  auto ramp = ((torch::arange(dim / 2, torch::kFloat32) - low) / (high - low)).clamp(0, 1);
  auto extrapolation_factor = 1 - ramp;
  if (rs.mscale > 0 && rs.mscale_all_dim > 0)
    attention_factor = get_mscale(factor, rs.mscale) / get_mscale(factor, rs.mscale_all_dim);
  else
    attention_factor = get_mscale(factor);
  return interpolation * (1 - extrapolation_factor) + extrapolation * extrapolation_factor;
}

// Llama 3.1 frequency-dependent scaling.
torch::Tensor llama3_inv_freq(const ModelConfig& c, torch::Tensor inv_freq) {
  const RopeScaling& rs = c.rope_scaling;
  double old_len = static_cast<double>(rs.original_max_position_embeddings);
  double low_wavelen = old_len / rs.low_freq_factor, high_wavelen = old_len / rs.high_freq_factor;
  auto wavelen = 2 * M_PI / inv_freq;
  auto scaled = torch::where(wavelen > low_wavelen, inv_freq / rs.factor, inv_freq);
  auto smooth = (old_len / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
  auto smoothed = (1 - smooth) * scaled / rs.factor + smooth * scaled;
  auto medium = (wavelen >= high_wavelen) & (wavelen <= low_wavelen);
  return torch::where(medium, smoothed, scaled);
}

}  // namespace

Rotary::Rotary(const ModelConfig& c, int64_t dim, bool interleaved) : interleaved_(interleaved) {
  TORCH_CHECK(dim % 2 == 0, "rotary dimension must be even");
  auto inv = 1.0 / torch::pow(c.rope_theta, torch::arange(0, dim, 2, torch::kFloat32) / static_cast<double>(dim));
  const std::string& t = c.rope_scaling.type;
  if (t == "yarn") inv = yarn_inv_freq(c, dim, attention_factor_);
  else if (t == "linear") inv = inv / c.rope_scaling.factor;
  else if (t == "llama3") inv = llama3_inv_freq(c, inv);
  inv_freq_ = inv;
}

std::pair<torch::Tensor, torch::Tensor> Rotary::cos_sin(const torch::Tensor& positions, torch::ScalarType dtype,
                                                        torch::Device device) const {
  // freqs: [B, T, 1, D/2], computed in fp32 like transformers.
  auto inv = inv_freq_.to(device);
  auto freqs = positions.to(torch::kFloat32).unsqueeze(-1) * inv;  // [B, T, D/2]
  auto cos = (freqs.cos() * attention_factor_).unsqueeze(2).to(dtype);
  auto sin = (freqs.sin() * attention_factor_).unsqueeze(2).to(dtype);
  return {cos, sin};
}

torch::Tensor Rotary::apply(const torch::Tensor& x, const torch::Tensor& positions) const {
  auto [cos, sin] = cos_sin(positions, x.scalar_type(), x.device());
  return apply(x, cos, sin);
}

torch::Tensor Rotary::apply(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) const {
  const int64_t half = x.size(-1) / 2;
  if (interleaved_) {
    // (x[2i], x[2i+1]) rotated by freq i — DeepSeek's complex multiplication. transformers
    // de-interleaves q and k the same way before rotate_half, so every q.k product is equal.
    auto xp = x.unflatten(-1, {half, 2});                 // [B, T, H, D/2, 2]
    auto x0 = xp.select(-1, 0), x1 = xp.select(-1, 1);    // [B, T, H, D/2]
    return torch::stack({x0 * cos - x1 * sin, x0 * sin + x1 * cos}, -1).flatten(-2);
  }
  auto x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return torch::cat({x1 * cos - x2 * sin, x2 * cos + x1 * sin}, -1);
}

MlpImpl::MlpImpl(int64_t hidden, int64_t inner) {
  gate_proj = register_module("gate_proj", torch::nn::Linear(torch::nn::LinearOptions(hidden, inner).bias(false)));
  up_proj = register_module("up_proj", torch::nn::Linear(torch::nn::LinearOptions(hidden, inner).bias(false)));
  down_proj = register_module("down_proj", torch::nn::Linear(torch::nn::LinearOptions(inner, hidden).bias(false)));
}

MlpImpl::Packed MlpImpl::packed() {
  return {gate_packed_.packed(gate_proj->weight), up_packed_.packed(up_proj->weight), down_packed_.packed(down_proj->weight),
          gate_proj->weight.size(1), gate_proj->weight.size(0)};
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  if (auto y = cpu_decode::mlp(*this, x)) return *y;
  return cpu_decode::linear(down_proj, down_packed_,
                            torch::silu(cpu_decode::linear(gate_proj, gate_packed_, x)) * cpu_decode::linear(up_proj, up_packed_, x));
}

}  // namespace r1::policy
