#include "rl/optimizer_shards.h"

#include <c10/util/string_utils.h>
#include <torch/version.h>

namespace r1::rl {
namespace {

// The key LibTorch's optimizers file a parameter's state under: the TensorImpl's address, as text
// in 1.x and as the pointer itself in 2.x.
auto state_key(const torch::Tensor& p) {
#if TORCH_VERSION_MAJOR >= 2
  return static_cast<void*>(p.unsafeGetTensorImpl());
#else
  return c10::guts::to_string(p.unsafeGetTensorImpl());
#endif
}

}  // namespace

OptimizerShards::OptimizerShards(std::vector<torch::Tensor> params, dist::ProcessGroup* group, bool enabled)
    : params_(std::move(params)), group_(group), active_(enabled && group && group->size() > 1) {
  if (!active_) return;
  std::vector<int64_t> load(static_cast<size_t>(group_->size()), 0);
  for (const auto& p : params_) {
    const int r = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    owner_.push_back(r);
    load[static_cast<size_t>(r)] += p.numel();
  }
}

void OptimizerShards::keep_own_grads() {
  if (!active_) return;
  for (size_t i = 0; i < params_.size(); ++i)
    if (owner_[i] != group_->rank()) params_[i].mutable_grad() = torch::Tensor();
}

void OptimizerShards::share_params() {
  if (!active_) return;
  torch::NoGradGuard ng;
  for (int r = 0; r < group_->size(); ++r) {
    std::vector<torch::Tensor> mine;
    for (size_t i = 0; i < params_.size(); ++i)
      if (owner_[i] == r) mine.push_back(params_[i]);
    if (mine.empty()) continue;
    std::vector<torch::Tensor> flat_parts;
    for (auto& p : mine) flat_parts.push_back(p.detach().reshape({-1}));
    torch::Tensor flat = torch::cat(flat_parts);
    group_->broadcast(flat, r);
    int64_t off = 0;
    for (auto& p : mine) {
      p.detach().copy_(flat.narrow(0, off, p.numel()).view(p.sizes()));
      off += p.numel();
    }
  }
}

void OptimizerShards::gather_state(torch::optim::AdamW& opt) {
  if (!active_) return;
  torch::NoGradGuard ng;
  auto& state = opt.state();
  for (int r = 0; r < group_->size(); ++r) {
    // Owner r sends [step, exp_avg..., exp_avg_sq...] of its parameters (zeros where it has none yet).
    std::vector<size_t> idx;
    int64_t n = 0;
    for (size_t i = 0; i < params_.size(); ++i)
      if (owner_[i] == r) idx.push_back(i), n += params_[i].numel();
    if (idx.empty()) continue;
    torch::Tensor buf = torch::zeros({static_cast<int64_t>(idx.size()) + 2 * n}, torch::kFloat32);
    if (r == group_->rank()) {
      int64_t off = static_cast<int64_t>(idx.size());
      for (size_t k = 0; k < idx.size(); ++k) {
        const auto& p = params_[idx[k]];
        auto it = state.find(state_key(p));
        if (it != state.end()) {
          auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
          buf[static_cast<int64_t>(k)] = static_cast<float>(s.step());
          buf.narrow(0, off, p.numel()).copy_(s.exp_avg().reshape({-1}));
          buf.narrow(0, off + n, p.numel()).copy_(s.exp_avg_sq().reshape({-1}));
        }
        off += p.numel();
      }
    }
    group_->broadcast(buf, r);
    if (r == group_->rank()) continue;
    int64_t off = static_cast<int64_t>(idx.size());
    for (size_t k = 0; k < idx.size(); ++k) {
      const auto& p = params_[idx[k]];
      const auto step = static_cast<int64_t>(buf[static_cast<int64_t>(k)].item<float>());
      if (step > 0) {
        auto s = std::make_unique<torch::optim::AdamWParamState>();
        s->step(step);
        s->exp_avg(buf.narrow(0, off, p.numel()).view(p.sizes()).clone());
        s->exp_avg_sq(buf.narrow(0, off + n, p.numel()).view(p.sizes()).clone());
        state[state_key(p)] = std::move(s);
      }
      off += p.numel();
    }
  }
}

void OptimizerShards::drop_others_state(torch::optim::AdamW& opt) {
  if (!active_) return;
  for (size_t i = 0; i < params_.size(); ++i)
    if (owner_[i] != group_->rank()) opt.state().erase(state_key(params_[i]));
}

double OptimizerShards::state_bytes(const torch::optim::AdamW& opt) {
  double bytes = 0;
  for (const auto& [key, s] : opt.state()) {
    const auto& a = static_cast<const torch::optim::AdamWParamState&>(*s);
    if (a.exp_avg().defined()) bytes += static_cast<double>(a.exp_avg().numel() * a.exp_avg().element_size());
    if (a.exp_avg_sq().defined()) bytes += static_cast<double>(a.exp_avg_sq().numel() * a.exp_avg_sq().element_size());
  }
  return bytes;
}

}  // namespace r1::rl
