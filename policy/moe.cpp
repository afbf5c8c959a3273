// Gate and batched expert dispatch.
#include "policy/moe.h"

#include "policy/cpu_decode.h"

namespace r1::policy {

MoeGateImpl::MoeGateImpl(const ModelConfig& c)
    : experts_(c.n_routed_experts),
      top_k_(c.num_experts_per_tok),
      n_group_(c.n_group),
      topk_group_(c.topk_group),
      scoring_(c.scoring_func),
      norm_topk_(c.norm_topk_prob),
      scaling_(c.routed_scaling_factor) {
  weight = register_parameter("weight", torch::empty({experts_, c.hidden_size}));
  if (c.has_selection_bias()) e_score_correction_bias = register_buffer("e_score_correction_bias", torch::zeros({experts_}));
}

void MoeGateImpl::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(device, dtype, non_blocking);
  if (e_score_correction_bias.defined()) e_score_correction_bias.set_data(e_score_correction_bias.to(torch::kFloat32));
}

void MoeGateImpl::to(torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(dtype, non_blocking);
  if (e_score_correction_bias.defined()) e_score_correction_bias.set_data(e_score_correction_bias.to(torch::kFloat32));
}

Routing MoeGateImpl::forward(const torch::Tensor& x, const torch::Tensor& replay) {
  const int64_t N = x.size(0);
  // Router logits in fp32 (as DeepSeek-V3 and transformers do).
  const auto ct = at_least_fp32(x.scalar_type());
  auto xc = x.to(ct);
  auto logits = cpu_decode::matmul_t(packed_, xc, weight);  // [N, E]
  auto scores = scoring_ == ScoringFunc::sigmoid ? logits.sigmoid() : logits.softmax(-1);
  if (replay.defined()) return mixing_weights(scores, replay, x.scalar_type());
  torch::Tensor choice = scores.detach();
  if (e_score_correction_bias.defined()) choice = choice + e_score_correction_bias.to(ct);
  if (n_group_ > 1) {
    auto grouped = choice.view({N, n_group_, experts_ / n_group_});
    // A group's score: the sum of its top-2 (with the bias, V3) or its max (V2).
    auto group_scores = e_score_correction_bias.defined() ? std::get<0>(grouped.topk(2, -1)).sum(-1)
                                                          : std::get<0>(grouped.max(-1));  // [N, n_group]
    auto keep = std::get<1>(group_scores.topk(topk_group_, -1));                          // [N, topk_group]
    auto group_mask = torch::zeros_like(group_scores).scatter_(1, keep, 1.0).to(torch::kBool);  // [N, n_group]
    auto expert_mask = group_mask.unsqueeze(-1).expand({N, n_group_, experts_ / n_group_}).reshape({N, experts_});
    choice = choice.masked_fill(~expert_mask, -std::numeric_limits<float>::infinity());
  }
  auto chosen = std::get<1>(choice.topk(top_k_, -1));  // [N, k]
  return mixing_weights(scores, chosen, x.scalar_type());
}

Routing MoeGateImpl::mixing_weights(const torch::Tensor& scores, const torch::Tensor& chosen, torch::ScalarType dtype) const {
  auto w = scores.gather(1, chosen);                   // [N, k], differentiable
  if (norm_topk_ && top_k_ > 1) w = w / (w.sum(-1, true) + 1e-20);
  w = w * scaling_;
  return {w.to(dtype), chosen};
}

MoeImpl::MoeImpl(const ModelConfig& c) {
  gate = register_module("gate", MoeGate(c));
  experts = register_module("experts", torch::nn::ModuleList());
  for (int64_t e = 0; e < c.n_routed_experts; ++e) {
    Mlp m(c.hidden_size, c.moe_intermediate_size);
    experts->push_back(m);
    expert_list_.push_back(m);
  }
  if (c.n_shared_experts > 0)
    shared_experts = register_module("shared_experts", Mlp(c.hidden_size, c.moe_intermediate_size * c.n_shared_experts));
  load_ = torch::zeros({c.n_routed_experts}, torch::kFloat64);
}

void MoeImpl::reset_load() { load_.zero_(); }

void MoeImpl::set_forward_inputs(torch::Tensor count, torch::Tensor replay) {
  count_ = std::move(count);
  replay_ = std::move(replay);
}

void MoeImpl::update_bias(double speed) {
  auto& bias = gate->e_score_correction_bias;
  if (!bias.defined() || speed <= 0) return;
  torch::NoGradGuard ng;
  auto l = load_.to(torch::kFloat32);
  if (l.sum().item<float>() <= 0) return;
  bias.add_((speed * torch::sign(l.mean() - l)).to(bias.device(), bias.scalar_type()));
}

torch::Tensor MoeImpl::forward(const torch::Tensor& x) {
  const auto shape = x.sizes().vec();
  auto flat = x.reshape({-1, x.size(-1)});                     // [N, hidden]
  const int64_t N = flat.size(0);
  if (replay_.defined()) TORCH_CHECK(replay_.size(0) == N, "routing replay: ", replay_.size(0), " tokens for a forward of ", N);
  if (count_.defined()) TORCH_CHECK(count_.size(0) == N, "load mask: ", count_.size(0), " tokens for a forward of ", N);
  Routing r = gate(flat, replay_);
  if (record_) last_experts_ = r.experts;
  const int64_t k = r.experts.size(1), E = static_cast<int64_t>(expert_list_.size());
  bool count = is_training() && (counting_ == LoadCounting::force || (counting_ == LoadCounting::automatic && torch::GradMode::is_enabled()));
  if (!count)  // the tensor path counts the load
    if (auto y = cpu_decode::experts(expert_list_, shared_experts, flat, r)) return y->view(shape);
  auto flat_experts = r.experts.reshape({-1});                 // [N*k]
  auto counts = torch::bincount(flat_experts, {}, E).to(torch::kCPU);  // [E]
  if (count) {
    // Only real tokens: right padding is one token at similar positions, piled onto a few experts.
    auto counted = count_.defined() ? torch::bincount(r.experts.index({count_.to(r.experts.device())}).reshape({-1}), {}, E).to(torch::kCPU) : counts;
    load_ += counted.to(torch::kFloat64);
  }
  auto order = std::get<1>(flat_experts.sort(/*stable=*/true, 0, false));  // assignments grouped by expert
  auto token_of = order.div(k, "floor");                       // [N*k] token index of each assignment
  auto weight_of = r.weights.reshape({-1}).index_select(0, order);  // [N*k]
  auto out = torch::zeros_like(flat);
  auto counts_acc = counts.accessor<int64_t, 1>();
  int64_t offset = 0;
  for (int64_t e = 0; e < E; ++e) {
    int64_t n = counts_acc[e];
    if (n == 0) continue;
    auto tokens = token_of.narrow(0, offset, n);               // [n]
    auto y = expert_list_[e]->forward(flat.index_select(0, tokens));  // [n, hidden]
    out.index_add_(0, tokens, y * weight_of.narrow(0, offset, n).unsqueeze(1));
    offset += n;
  }
  if (shared_experts) out = out + shared_experts(flat);
  return out.view(shape);
}

}  // namespace r1::policy
