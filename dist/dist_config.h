// [dist]: how the ranks of a data-parallel job talk (`torchrun ... r1 train`, or Slurm's srun).
// Which rank this process is comes from the launcher's environment (launch_env.h), not from here.
#pragma once

#include <array>
#include <string_view>
#include <utility>

namespace r1::dist {

// Gloo carries CPU tensors, NCCL CUDA ones (each rank on the GPU of its LOCAL_RANK); auto picks by
// the run's device. Gloo with a CUDA run stages every collective through host memory.
enum class Backend { auto_, gloo, nccl };
constexpr std::array<std::pair<Backend, std::string_view>, 3> enum_names(Backend) {
  return {{{Backend::auto_, "auto"}, {Backend::gloo, "gloo"}, {Backend::nccl, "nccl"}}};
}

struct DistConfig {
  double timeout_s = 1800;       // rendezvous and every collective: a lost rank ends the others
  Backend backend = Backend::auto_;
  int64_t check_weights_every = 10;  // steps between the weight-checksum comparison (0 = never)

  template <class V>
  void visit(V& v) {
    v("timeout_s", timeout_s, "seconds the ranks wait for each other (rendezvous and every collective)", 1.0, 86400.0);
    v("backend", backend, "auto (nccl on CUDA, gloo on CPU) | gloo (CPU tensors) | nccl (CUDA tensors)");
    v("check_weights_every", check_weights_every, "steps between comparing the ranks' weight checksums (dist/weights_in_sync); 0 = never", 0, 1000000);
  }
};

}  // namespace r1::dist
