// Hugging Face model folders: config.json + model.safetensors (or shards with
// model.safetensors.index.json). Loading is strict: missing, unexpected and mis-shaped tensors are
// listed together in one error. Saving writes a temporary folder and renames it into place.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>

#include "policy/model_config.h"
#include "policy/transformer.h"
#include "text/folder_write.h"

namespace r1::policy {

// Every tensor of a folder's safetensors files (one file or an index of shards).
std::map<std::string, torch::Tensor> load_folder_tensors(const std::string& dir);

// Copies `tensors` into the model's parameters and buffers (casting dtype/device). Throws
// PolicyError listing every missing, unexpected or mis-shaped name. Tensors of MTP layers
// (index >= num_hidden_layers) and rotary inv_freq buffers of old checkpoints are ignored.
void load_state(CausalLM& model, const std::map<std::string, torch::Tensor>& tensors, const std::string& source);

struct LoadOptions {
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;
};
CausalLM load_pretrained(const std::string& dir, const LoadOptions& options = {});

// Writes config.json and the weights (in `dtype`; shards above max_shard_bytes, 0 = one file).
void save_pretrained(CausalLM& model, const std::string& dir, torch::ScalarType dtype = torch::kFloat32,
                     int64_t max_shard_bytes = 0);


}  // namespace r1::policy
