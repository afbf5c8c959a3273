// Weights over a c10d broadcast instead of the rollout connection (rollout.weight_sync = "c10d"),
// for a worker set fixed at launch: the learner (rank 0) and its N workers (ranks 1..N, in the
// order they joined) form one process group, Gloo on CPU or NCCL on GPU, when the first new
// version is published. Each version then goes as one broadcast per dtype of the whole state
// flattened in name order, announced on every worker's connection by a `weights_c10d` frame
// (frames stay in order, so a request never overtakes its weights). The group has the
// semantics of a data-parallel job's: a worker lost mid-broadcast ends the run, named.
//
//   WeightBroadcast wb(spec, torch::kCPU);   // every rank; blocks until all have joined
//   wb.send(model->state());                 // learner
//   wb.receive(worker_model->state());       // worker
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>

#include "rollout/handshake.h"

namespace r1::dist {
class ProcessGroup;
}

namespace r1::rollout {

class WeightBroadcast {
 public:
  WeightBroadcast(const wire::WeightGroup& spec, torch::Device device);
  ~WeightBroadcast();
  void send(const std::map<std::string, torch::Tensor>& state);
  // Into `state` in place; a version is written only once all of it has arrived.
  void receive(const std::map<std::string, torch::Tensor>& state);
  int64_t bytes_per_version() const { return bytes_; }

 private:
  void broadcast(const std::map<std::string, torch::Tensor>& state, bool sender);
  std::unique_ptr<dist::ProcessGroup> group_;
  int64_t bytes_ = 0;
};

}  // namespace r1::rollout
