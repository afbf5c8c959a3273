// Hugging Face model folders: config.json + model.safetensors (or shards with
// model.safetensors.index.json). Loading is strict: missing, unexpected and mis-shaped tensors are
// listed together in one error. Saving writes a temporary folder and renames it into place.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>

#include "policy/model_config.h"
#include "policy/transformer.h"

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

// `write(tmp_dir)` fills a temporary sibling of `dir`. A new `dir` appears in one rename; into an
// existing one each file is renamed over its old version, and files not written are kept
// (a tokenizer beside the weights survives a save). A failed write leaves `dir` untouched.
void write_folder_atomically(const std::string& dir, const std::function<void(const std::string&)>& write);

}  // namespace r1::policy
