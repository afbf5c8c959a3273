#include "rollout/weight_group.h"

#include <vector>

#include "dist/process_group.h"

namespace r1::rollout {

WeightBroadcast::WeightBroadcast(const wire::WeightGroup& spec, torch::Device device) {
  dist::LaunchEnv env;
  env.rank = static_cast<int>(spec.rank);
  env.world_size = static_cast<int>(spec.world);
  env.master_addr = spec.host;
  env.master_port = static_cast<int>(spec.port);
  env.local_rank = device.is_cuda() ? device.index() : 0;  // NCCL drives this process's own GPU
  dist::DistOptions o;
  o.timeout_s = spec.timeout_s;
  o.store_prefix = "r1forge/rollout_weights/";  // the learner's own store: the same for a learner torchrun restarted
  o.backend = dist::resolve_backend(spec.backend == "nccl" ? dist::Backend::nccl : dist::Backend::gloo, device);
  group_ = std::make_unique<dist::ProcessGroup>(env, o);
}

WeightBroadcast::~WeightBroadcast() = default;

void WeightBroadcast::send(const std::map<std::string, torch::Tensor>& state) { broadcast(state, true); }
void WeightBroadcast::receive(const std::map<std::string, torch::Tensor>& state) { broadcast(state, false); }

// One flat buffer per dtype, tensors in name order (both sides hold the same names and shapes:
// the handshake checked the model config).
void WeightBroadcast::broadcast(const std::map<std::string, torch::Tensor>& state, bool sender) {
  torch::NoGradGuard ng;
  std::map<c10::ScalarType, std::vector<torch::Tensor>> by_dtype;
  for (const auto& [name, t] : state) by_dtype[t.scalar_type()].push_back(t);
  bytes_ = 0;
  std::vector<std::pair<std::vector<torch::Tensor>*, torch::Tensor>> received;
  for (auto& [dtype, tensors] : by_dtype) {
    int64_t numel = 0;
    for (const auto& t : tensors) numel += t.numel();
    torch::Tensor flat;
    if (sender) {
      std::vector<torch::Tensor> parts;
      for (const auto& t : tensors) parts.push_back(t.detach().reshape({-1}).to(group_->device()));
      flat = torch::cat(parts);
    } else {
      flat = torch::empty({numel}, torch::TensorOptions().dtype(dtype).device(group_->device()));
    }
    group_->broadcast(flat, 0);
    bytes_ += numel * static_cast<int64_t>(flat.element_size());
    if (!sender) received.emplace_back(&tensors, flat);
  }
  for (auto& [tensors, flat] : received) {  // every dtype has arrived: the version switches at once
    int64_t at = 0;
    for (auto& t : *tensors) {
      t.copy_(flat.narrow(0, at, t.numel()).view(t.sizes()));
      at += t.numel();
    }
  }
}

}  // namespace r1::rollout
