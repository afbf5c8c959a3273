// Where tensors live: CUDA when available (and asked for), else CPU.
#pragma once

#include <torch/torch.h>

#include <string>

namespace r1::policy {

// preference: "auto" | "cpu" | "cuda". Throws PolicyError for "cuda" without a GPU.
torch::Device pick_device(const std::string& preference);
// Intra-op threads: 0 = all cores.
void set_threads(int64_t threads);

}  // namespace r1::policy
