// Weights as the rollout service sends them to workers: one version of a model's state (its
// parameters and buffers, by name) cut into `weights` frame payloads of at most `max_chunk` bytes
// of tensor data each (a large tensor spans several), and put back together on the worker into
// its own model's tensors, in place. A version is applied only when all of its chunks arrived;
// a chunk of another version, a tensor the worker's model lacks, or a shape, dtype or byte range
// that does not match is a WireError naming the tensor.
//
//   for (auto& p : encode_weights(model->state(), version, 8 << 20)) gate.send(w, FrameType::weights, p);
//   WeightsReceiver rx(worker_model->state());
//   if (rx.add(payload)) engine.set_weight_version(rx.version());   // the whole version is in
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "rollout/wire.h"

namespace r1::rollout {

using StateDict = std::map<std::string, torch::Tensor>;

std::vector<std::string> encode_weights(const StateDict& state, int64_t version, size_t max_chunk);

class WeightsReceiver {
 public:
  // `target`: the worker model's tensors (on any device), written in place as chunks arrive.
  explicit WeightsReceiver(StateDict target);
  // Applies one chunk; true when it completed its version (every tensor of the target written).
  bool add(std::string_view payload);
  int64_t version() const { return version_; }  // the last complete version (-1 before the first)

 private:
  StateDict target_;
  int64_t version_ = -1;
  int64_t receiving_ = -1;   // the version whose chunks are arriving
  uint32_t chunks_seen_ = 0, chunks_expected_ = 0;
  std::map<std::string, int64_t> bytes_written_;  // per tensor, of the version arriving
  StateDict staging_;  // the arriving version, on the CPU: the model switches only when all of it is in
};

}  // namespace r1::rollout
