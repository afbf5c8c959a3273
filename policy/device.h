// Where tensors live: CUDA when available (and asked for), else CPU.
#pragma once

#include <torch/torch.h>

#include <string>

namespace r1::policy {

// preference: "auto" | "cpu" | "cuda". Throws PolicyError for "cuda" without a GPU.
torch::Device pick_device(const std::string& preference);
// Intra-op threads: 0 = all cores.
void set_threads(int64_t threads);
// run.deterministic: only deterministic kernels (an op without one raises); with a fixed thread
// count this makes a run reproducible on one machine.
void set_deterministic(bool on);

}  // namespace r1::policy
