#include "rl/critic.h"

#include <filesystem>

#include "policy/checkpoint.h"
#include "policy/policy_error.h"
#include "policy/safetensors.h"

namespace fs = std::filesystem;

namespace r1::rl {

namespace {

policy::CausalLM copy_of(policy::CausalLM& src, torch::Device device) {
  policy::CausalLM out(src->config());
  out->to(device, src->parameters().front().scalar_type());
  out->set_gradient_checkpointing(src->gradient_checkpointing());
  torch::NoGradGuard ng;
  auto dst = out->state();
  for (auto& [k, t] : src->state()) dst.at(k).copy_(t);
  return out;
}

std::map<std::string, torch::Tensor> to_cpu_fp32(const std::map<std::string, torch::Tensor>& in) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [k, t] : in) out[k] = t.detach().to(torch::kCPU, torch::kFloat32);
  return out;
}

}  // namespace

Critic::Critic(const RlConfig& rl, policy::CausalLM& policy, torch::Device device) : kind_(rl.critic) {
  TORCH_CHECK(kind_ != CriticKind::none, "a critic needs rl.critic = head | separate");
  if (kind_ == CriticKind::separate) {
    trunk_ = copy_of(policy, device);
    masters_ = std::make_unique<MasterWeights>(trunk_);
  }
  head_ = torch::nn::Linear(torch::nn::LinearOptions(policy->config().hidden_size, 1));
  {
    torch::NoGradGuard ng;
    head_->weight.zero_();
    head_->bias.zero_();
  }
  head_->to(device, torch::kFloat32);
  optimizer_ = std::make_unique<torch::optim::AdamW>(trained_params(), torch::optim::AdamWOptions(rl.critic_lr)
                                                                           .betas({rl.adam_beta1, rl.adam_beta2})
                                                                           .eps(rl.adam_eps)
                                                                           .weight_decay(0.0));
}

std::vector<torch::Tensor> Critic::trained_params() {
  std::vector<torch::Tensor> out;
  if (masters_) out = masters_->params();
  out.push_back(head_->weight);
  out.push_back(head_->bias);
  return out;
}

torch::Tensor Critic::values(const torch::Tensor& input, const policy::ForwardInputs& forward, const torch::Tensor& policy_hidden) {
  torch::Tensor h;
  if (kind_ == CriticKind::head) {
    TORCH_CHECK(policy_hidden.defined(), "critic = head needs the policy's hidden state");
    h = policy_hidden;
  } else {
    policy::ForwardInputs own = forward;
    own.routing = torch::Tensor();  // the critic routes by its own gates
    h = trunk_->hidden(input, {}, nullptr, own);
  }
  return head_->forward(h.to(torch::kFloat32)).squeeze(-1);
}

void Critic::zero_grad() {
  if (masters_) masters_->zero_grad();
  for (auto* p : {&head_->weight, &head_->bias})
    if (p->grad().defined()) {
      p->grad().detach_();
      p->grad().zero_();
    }
}

double Critic::step(double max_grad_norm, dist::ProcessGroup* group) {
  if (masters_) masters_->gather_grads_and_clip(0.0);  // widen a bf16 trunk's gradients; clip below, jointly
  auto params = trained_params();
  if (group && group->size() > 1) {
    std::vector<torch::Tensor> grads;
    for (auto& p : params) {
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);  // no token reached it here, maybe elsewhere
      grads.push_back(p.grad());
    }
    group->all_reduce_sum(grads);
  }
  const double norm = torch::nn::utils::clip_grad_norm_(params, max_grad_norm > 0 ? max_grad_norm : 1e30);
  optimizer_->step();
  if (masters_) masters_->copy_down();
  return norm;
}

void Critic::save(const std::string& dir) const {
  const std::string sub = dir + "/critic";
  fs::create_directories(sub);
  policy::save_safetensors(sub + "/value_head.safetensors", {{"v_head.weight", head_->weight.detach().to(torch::kCPU)},
                                                              {"v_head.bias", head_->bias.detach().to(torch::kCPU)}});
  if (trunk_) {
    policy::save_safetensors(sub + "/model.safetensors", to_cpu_fp32(trunk_->state()));
    if (masters_->active()) policy::save_safetensors(sub + "/master.safetensors", masters_->state());
  }
  torch::save(*optimizer_, sub + "/optimizer.pt");
}

void Critic::load(const std::string& dir) {
  const std::string sub = dir + "/critic";
  const std::string head_file = sub + "/value_head.safetensors";
  if (!fs::exists(head_file))
    throw policy::PolicyError(sub + ": no critic in this checkpoint (was it written by a run without rl.critic?)");
  auto head = policy::load_safetensors(head_file);
  torch::NoGradGuard ng;
  for (auto [name, param] : {std::pair{"v_head.weight", &head_->weight}, std::pair{"v_head.bias", &head_->bias}}) {
    auto it = head.find(name);
    if (it == head.end() || it->second.sizes() != param->sizes())
      throw policy::PolicyError(head_file + ": no '" + std::string(name) + "' of the model's shape");
    param->copy_(it->second);
  }
  if (trunk_) {
    const std::string model_file = sub + "/model.safetensors";
    if (!fs::exists(model_file)) throw policy::PolicyError(model_file + ": missing (the checkpoint's critic is a head, the recipe's separate)");
    auto tensors = policy::load_safetensors(model_file);
    policy::load_state(trunk_, tensors, model_file);
    const std::string master_file = sub + "/master.safetensors";
    masters_->load(fs::exists(master_file) ? policy::load_safetensors(master_file) : tensors, fs::exists(master_file) ? master_file : model_file);
  }
  const std::string opt_file = sub + "/optimizer.pt";
  if (!fs::exists(opt_file)) throw policy::PolicyError(opt_file + ": missing");
  torch::load(*optimizer_, opt_file);
}

}  // namespace r1::rl
