// PPO's value model (rl.critic, advantage = gae): V(s_t) for every position of a learner
// micro-batch, trained toward the GAE returns with the clipped value loss of grpo.h.
//   head:     a linear head on the policy's final hidden state. The trunk is shared: the value
//             loss (times rl.vf_coef) flows into it with the policy loss, and the head has its own
//             learning rate.
//   separate: a copy of the policy's trunk at the start of the run with its own head, optimizer
//             and fp32 masters (as OpenRLHF and veRL; twice the learner's memory and compute).
// The head is fp32 and starts at zero: the first values are 0, so the first advantages are the
// discounted rewards. The critic is checkpointed with the policy (critic/ in the checkpoint).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "dist/process_group.h"
#include "policy/transformer.h"
#include "rl/master_weights.h"
#include "rl/rl_config.h"

namespace r1::rl {

class Critic {
 public:
  // `policy` is copied for `separate`, and only its hidden size read for `head`.
  Critic(const RlConfig& rl, policy::CausalLM& policy, torch::Device device);

  CriticKind kind() const { return kind_; }
  // Values [b, T] of a micro-batch. `policy_hidden` ([b, T, H], the policy's final hidden state of
  // the same inputs) feeds the head; a separate critic runs its own trunk on `input` instead.
  torch::Tensor values(const torch::Tensor& input, const policy::ForwardInputs& forward, const torch::Tensor& policy_hidden);

  void zero_grad();
  // Clips the critic's own gradient norm (0 = no clip), steps its optimizer; returns the norm.
  // With several ranks in `group` its gradients are summed across them first (each rank's loss is
  // normalised by the whole batch's counts), so every rank takes the same step.
  double step(double max_grad_norm, dist::ProcessGroup* group = nullptr);

  // Checkpoints: critic/ holds model.safetensors (the head, and the trunk when separate),
  // optimizer.pt and, for a bf16 trunk, master.safetensors.
  void save(const std::string& dir) const;
  void load(const std::string& dir);

 private:
  std::vector<torch::Tensor> trained_params();

  CriticKind kind_;
  policy::CausalLM trunk_{nullptr};  // separate only
  torch::nn::Linear head_{nullptr};
  std::unique_ptr<MasterWeights> masters_;  // separate only
  std::unique_ptr<torch::optim::AdamW> optimizer_;
};

}  // namespace r1::rl
