// ZeRO-1 for the data-parallel learner (rl.shard_optimizer): each parameter belongs to one rank,
// which alone keeps its AdamW moments and updates it; the updated parameters are then broadcast
// from their owners. Every rank still holds the whole model and (summed) gradients; the optimizer
// state per rank shrinks to about 1/N. Checkpoints keep the whole state (rank 0 gathers it), so a
// run resumes at any world size, sharded or not.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "dist/process_group.h"

namespace r1::rl {

class OptimizerShards {
 public:
  // `params`: what the optimizer updates, in its order. Inactive (a no-op) unless `enabled` and
  // `group` has several ranks. Owners are balanced by element count, the same on every rank.
  OptimizerShards(std::vector<torch::Tensor> params, dist::ProcessGroup* group, bool enabled);
  bool active() const { return active_; }

  void keep_own_grads();  // before optimizer.step(): AdamW skips a parameter without a gradient
  void share_params();    // after it: each parameter from its owner
  // Around a checkpoint (every rank calls both): the owners' moments into this rank's optimizer,
  // then back to this rank's share only. Also after loading a checkpoint.
  void gather_state(torch::optim::AdamW& opt);
  void drop_others_state(torch::optim::AdamW& opt);
  static double state_bytes(const torch::optim::AdamW& opt);  // the moments this rank holds

 private:
  std::vector<torch::Tensor> params_;
  std::vector<int> owner_;
  dist::ProcessGroup* group_ = nullptr;
  bool active_ = false;
};

}  // namespace r1::rl
