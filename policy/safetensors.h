// Reading and writing *.safetensors with torch tensors. Reading memory-maps the file; tensors
// alias the mapping (copy-on-write pages, so they may be modified in memory) unless their data is
// misaligned for the dtype. Writing goes to a temporary file renamed into place.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>

namespace r1::policy {

std::map<std::string, torch::Tensor> load_safetensors(const std::string& path);
void save_safetensors(const std::string& path, const std::map<std::string, torch::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace r1::policy
