// The ranks of one job as a c10d process group: they meet through c10d's TCPStore at the master
// (rank 0 hosts it, or torchrun's agent does), then talk over Gloo (CPU tensors). Every collective
// has the job's timeout, so a lost rank ends the others with an error instead of a hang.
//
//   dist::ProcessGroup pg(dist::read_launch_env(), {.timeout_s = 60});
//   pg.all_reduce_sum(grads);              // in place, in buckets
//   auto totals = pg.all_reduce({tokens, sequences}, dist::ReduceOp::sum);
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

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
};

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

  // Sums every rank's tensors into each of them (gradients): flattened into buckets of one dtype,
  // one all-reduce per bucket, copied back.
  void all_reduce_sum(const std::vector<torch::Tensor>& tensors);
  // Reduces a few numbers (counts, metrics) across ranks.
  std::vector<double> all_reduce(std::vector<double> values, ReduceOp op);
  void broadcast(torch::Tensor& tensor, int root);
  void barrier();

 private:
  void all_reduce_tensor(torch::Tensor& flat, ReduceOp op, const char* what);
  // After a failed collective: which ranks of this host have exited ("rank 1 (pid 4242) has
  // exited"), from the host and pid each rank left in the store at rendezvous; "" when none is known.
  std::string lost_ranks() const;
  std::string lost_ranks_now() const;

  LaunchEnv env_;
  DistOptions options_;
  c10::intrusive_ptr<c10d::Store> store_;
  std::shared_ptr<void> group_;  // c10::intrusive_ptr<c10d::ProcessGroupGloo>, opaque here (its headers are heavy)
};

}  // namespace r1::dist
