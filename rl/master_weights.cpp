#include "rl/master_weights.h"

#include "text/json_value.h"

namespace r1::rl {

MasterWeights::MasterWeights(policy::CausalLM& model) {
  for (const auto& item : model->named_parameters()) {
    names_.push_back(item.key());
    model_params_.push_back(item.value());
    active_ = active_ || item.value().scalar_type() != torch::kFloat32;
  }
  torch::NoGradGuard ng;
  for (auto& p : model_params_) masters_.push_back(active_ ? p.detach().to(torch::kFloat32).clone().requires_grad_(true) : p);
}

void MasterWeights::zero_grad() {
  auto zero = [](std::vector<torch::Tensor>& list) {
    for (auto& p : list)
      if (p.grad().defined()) {
        p.grad().detach_();
        p.grad().zero_();
      }
  };
  zero(model_params_);
  if (active_) zero(masters_);  // otherwise the masters are the model's parameters
}

double MasterWeights::gather_grads_and_clip(double max_norm) {
  if (active_) {
    torch::NoGradGuard ng;
    for (size_t i = 0; i < masters_.size(); ++i) {
      const auto& g = model_params_[i].grad();
      if (!g.defined()) continue;
      if (masters_[i].grad().defined()) masters_[i].mutable_grad().copy_(g);
      else masters_[i].mutable_grad() = g.to(torch::kFloat32);
    }
  }
  return torch::nn::utils::clip_grad_norm_(masters_, max_norm > 0 ? max_norm : 1e30);
}

void MasterWeights::copy_down() {
  if (!active_) return;
  torch::NoGradGuard ng;
  for (size_t i = 0; i < masters_.size(); ++i) model_params_[i].copy_(masters_[i]);
}

std::map<std::string, torch::Tensor> MasterWeights::state() const {
  std::map<std::string, torch::Tensor> out;
  if (!active_) return out;
  for (size_t i = 0; i < masters_.size(); ++i) out[names_[i]] = masters_[i].detach().to(torch::kCPU);
  return out;
}

void MasterWeights::load(const std::map<std::string, torch::Tensor>& state, const std::string& source) {
  if (!active_) return;
  torch::NoGradGuard ng;
  for (size_t i = 0; i < masters_.size(); ++i) {
    auto it = state.find(names_[i]);
    if (it == state.end() || it->second.sizes() != masters_[i].sizes())
      throw policy::PolicyError(source + ": no fp32 master weight '" + names_[i] + "' of the right shape");
    masters_[i].copy_(it->second);
  }
  copy_down();
}

}  // namespace r1::rl
