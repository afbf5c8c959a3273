// The ranks of one job as a c10d process group: they meet through c10d's TCPStore at the master
// (rank 0 hosts it, or torchrun's agent does), then talk over Gloo (CPU tensors) or NCCL (CUDA
// tensors, when LibTorch has it). Every collective has the job's timeout, so a lost rank ends the
// others with an error instead of a hang.
//
//   dist::ProcessGroup pg(dist::read_launch_env(), {.timeout_s = 60});
//   pg.all_reduce_sum(grads);              // in place, in buckets
//   auto totals = pg.all_reduce({tokens, sequences}, dist::ReduceOp::sum);
#pragma once

#include <torch/torch.h>

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dist/dist_config.h"
#include "dist/launch_env.h"

namespace c10d {
class Backend;
class ProcessGroup;
class Store;
}  // namespace c10d

namespace r1::dist {

enum class ReduceOp { sum, max, min };

struct DistOptions {
  double timeout_s = 1800;        // rendezvous and every collective
  size_t bucket_bytes = 25 << 20; // gradients are all-reduced in flat buckets of about this size
  Backend backend = Backend::gloo;  // resolved: gloo or nccl (resolve_backend)
  // Keys' prefix in the store; "" = per torchrun attempt. A group with a store of its own that
  // processes outside the job join (the rollout weight group) names a fixed one.
  std::string store_prefix;
};

// Whether this build can talk NCCL (LibTorch with CUDA and c10d's ProcessGroupNCCL).
bool nccl_built();
// The GPU a rank of a CUDA job drives: cuda:LOCAL_RANK. Throws DistError when the host has fewer.
torch::Device rank_cuda_device(const LaunchEnv& env);
// dist.backend for a run on `device`: auto is nccl on CUDA, gloo on CPU. Throws DistError naming
// dist.backend for nccl on a CPU run or in a build without NCCL.
Backend resolve_backend(Backend requested, const torch::Device& device);

class ProcessGroup {
 public:
  // Joins the job described by `env` (a single-rank env gives a group of one that never talks).
  // Throws DistError naming the master when the ranks do not all arrive within the timeout.
  ProcessGroup(const LaunchEnv& env, const DistOptions& options);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return env_.rank; }
  int size() const { return env_.world_size; }
  const LaunchEnv& env() const { return env_; }
  Backend backend() const { return options_.backend; }
  // Where the collectives' tensors live: the CPU for Gloo, this rank's GPU (cuda:LOCAL_RANK) for NCCL.
  torch::Device device() const { return device_; }

  // Sums every rank's tensors into each of them (gradients): flattened into buckets of one dtype,
  // one all-reduce per bucket, copied back.
  void all_reduce_sum(const std::vector<torch::Tensor>& tensors);
  // Reduces a few numbers (counts, metrics) across ranks.
  std::vector<double> all_reduce(std::vector<double> values, ReduceOp op);
  void broadcast(torch::Tensor& tensor, int root);
  void barrier();
  // Every rank's `mine`, in rank order, at `root` (others get {}): bytes such as sample records,
  // through the job's store, so it needs no tensor of any device. Every rank must call it.
  std::vector<std::string> gather_bytes(const std::string& mine, int root);
  // Whether the last failed collective's diagnosis blamed rank `r` (it exited, stopped answering,
  // or, for rank 0, the store it hosts is gone).
  bool blamed(int r) const;

 private:
  void meet();
  void join_gloo();
  void join_nccl();
  void all_reduce_tensor(torch::Tensor& flat, ReduceOp op, const char* what);
  // The error for a failed collective, naming the ranks known to have exited.
  DistError failed(const std::string& what, const std::exception& e) const;
  // After a failed collective, the ranks to blame: those of this host that have exited ("rank 1
  // (pid 4242) has exited", from the host and pid each rank left in the store), else those of any
  // host whose heartbeat stood still for kSilentAfter_s ("rank 3 (host n2, pid 77) stopped
  // answering"), else rank 0 when the store it hosts is gone; "" when none is known. A rank that
  // reported its own failure (failed/<rank> in the store) failed because of another: never blamed.
  std::string lost_ranks() const;
  std::string exited_ranks() const;
  std::string silent_ranks() const;
  std::pair<std::string, pid_t> who(int rank) const;  // {host, pid} it registered, or {"", 0}
  bool reported_failure(int rank) const;              // it failed because of another rank
  std::vector<uint8_t> wait_for_key(const std::string& key, int from) const;  // set by rank `from`
  static constexpr double kSilentAfter_s = 2.5;       // beats come every second

  // The collective backend (Gloo's or NCCL's), opaque here: c10d's headers are heavy, and its base
  // class is c10d::ProcessGroup in LibTorch 1.x but c10d::Backend in 2.x.
  struct Collectives;
  class Heartbeat;

  LaunchEnv env_;
  DistOptions options_;
  torch::Device device_ = torch::kCPU;
  c10::intrusive_ptr<c10d::Store> store_;
  std::unique_ptr<Collectives> collectives_;
  std::unique_ptr<Heartbeat> heartbeat_;
  int64_t gathers_ = 0;  // gather_bytes calls so far: each one's keys in the store are its own
  mutable std::vector<int> blamed_;  // filled by lost_ranks()
  mutable bool failed_ = false;      // a collective failed here
};

}  // namespace r1::dist
