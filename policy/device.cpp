#include "policy/device.h"

#include <thread>

#include "policy/policy_error.h"

namespace r1::policy {

torch::Device pick_device(const std::string& preference) {
  bool cuda = torch::cuda::is_available();
  if (preference == "cuda") {
    if (!cuda) throw PolicyError("device 'cuda' requested but no CUDA device is available (use auto or cpu)");
    return torch::kCUDA;
  }
  if (preference == "cpu") return torch::kCPU;
  return cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

void set_threads(int64_t threads) {
  int n = threads > 0 ? static_cast<int>(threads) : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(n);
}

void set_deterministic(bool on) { at::globalContext().setDeterministicAlgorithms(on, /*warn_only=*/false); }

}  // namespace r1::policy
