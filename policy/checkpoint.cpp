// Strict loading and atomic saving of Hugging Face model folders.
#include "policy/checkpoint.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "policy/policy_error.h"
#include "policy/safetensors.h"

namespace fs = std::filesystem;

namespace r1::policy {

std::map<std::string, torch::Tensor> load_folder_tensors(const std::string& dir) {
  fs::path d(dir);
  std::map<std::string, torch::Tensor> all;
  fs::path index = d / "model.safetensors.index.json";
  if (fs::exists(index)) {
    Value j = read_json_file(index.string());
    std::set<std::string> files;
    for (const auto& [name, file] : j["weight_map"].as_object()) {
      if (!file.is_string()) throw PolicyError(index.string() + ": weight_map['" + name + "'] is not a file name");
      files.insert(file.as_string());
    }
    if (files.empty()) throw PolicyError(index.string() + ": empty weight_map");
    for (const auto& f : files) {
      if (f.find('/') != std::string::npos || f.find("..") != std::string::npos)
        throw PolicyError(index.string() + ": shard name '" + f + "' must be a plain file name");
      auto part = load_safetensors((d / f).string());
      for (auto& [k, v] : part) all[k] = v;
    }
    return all;
  }
  fs::path single = d / "model.safetensors";
  if (fs::exists(single)) return load_safetensors(single.string());
  throw PolicyError(dir + ": no model.safetensors or model.safetensors.index.json (is this a model folder?)");
}

void load_state(CausalLM& model, const std::map<std::string, torch::Tensor>& tensors, const std::string& source) {
  auto state = model->state();
  const auto& c = model->config();
  std::vector<std::string> missing, unexpected, misshaped;
  for (const auto& [name, t] : tensors) {
    if (state.count(name)) continue;
    if (name.find("rotary_emb.inv_freq") != std::string::npos) continue;
    if (name == "lm_head.weight" && c.tie_word_embeddings) continue;
    // DeepSeek-V3's multi-token-prediction layers follow the last decoder layer.
    if (name.rfind("model.layers.", 0) == 0) {
      int64_t idx = std::atoll(name.c_str() + 13);
      if (idx >= c.num_hidden_layers) continue;
    }
    unexpected.push_back(name);
  }
  for (const auto& [name, p] : state) {
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      missing.push_back(name);
      continue;
    }
    if (it->second.sizes() != p.sizes()) {
      std::ostringstream os;
      os << name << " (file " << it->second.sizes() << ", model " << p.sizes() << ")";
      misshaped.push_back(os.str());
    }
  }
  if (!missing.empty() || !unexpected.empty() || !misshaped.empty()) {
    auto list = [](const std::vector<std::string>& v) {
      std::string s;
      for (size_t i = 0; i < v.size() && i < 8; ++i) s += (i ? ", " : "") + v[i];
      if (v.size() > 8) s += ", ... (" + std::to_string(v.size()) + " in all)";
      return s;
    };
    std::string msg = source + ": checkpoint does not match config.json:";
    if (!missing.empty()) msg += " missing [" + list(missing) + "]";
    if (!unexpected.empty()) msg += " unexpected [" + list(unexpected) + "]";
    if (!misshaped.empty()) msg += " mis-shaped [" + list(misshaped) + "]";
    throw PolicyError(msg);
  }
  torch::NoGradGuard ng;
  for (auto& [name, p] : state) p.copy_(tensors.at(name));
}

CausalLM load_pretrained(const std::string& dir, const LoadOptions& o) {
  ModelConfig c = ModelConfig::load(dir);
  auto tensors = load_folder_tensors(dir);
  CausalLM m(c);
  m->to(o.dtype);
  load_state(m, tensors, dir);
  m->to(o.device);
  return m;
}

void save_pretrained(CausalLM& model, const std::string& dir, torch::ScalarType dtype, int64_t max_shard_bytes) {
  std::set<std::string> written;
  text::write_folder_atomically(dir, [&](const std::string& tmp) {
    ModelConfig c = model->config();
    c.torch_dtype = dtype == torch::kBFloat16 ? "bfloat16" : dtype == torch::kFloat16 ? "float16" : "float32";
    Value cfg = c.to_json();
    if (!cfg.contains("architectures")) {
      const char* arch = c.model_type == "deepseek_v3"   ? "DeepseekV3ForCausalLM"
                         : c.model_type == "deepseek_v2" ? "DeepseekV2ForCausalLM"
                         : c.model_type == "qwen2"       ? "Qwen2ForCausalLM"
                         : c.model_type == "qwen3"       ? "Qwen3ForCausalLM"
                                                         : "LlamaForCausalLM";
      cfg.set("architectures", Value(Value::Array{Value(arch)}));
    }
    std::ofstream(tmp + "/config.json") << to_json(cfg, true, 2) << "\n";

    std::map<std::string, torch::Tensor> state;
    for (auto& [name, t] : model->state()) {
      // Parameters in the requested dtype; the balancing bias stays fp32 as DeepSeek keeps it.
      bool keep = name.find("e_score_correction_bias") != std::string::npos;
      state[name] = keep ? t.detach().to(torch::kCPU, torch::kFloat32) : t.detach().to(torch::kCPU, dtype);
    }
    if (max_shard_bytes <= 0) {
      save_safetensors(tmp + "/model.safetensors", state);
      return;
    }
    std::vector<std::map<std::string, torch::Tensor>> shards(1);
    int64_t size = 0, total = 0;
    for (auto& [name, t] : state) {
      int64_t bytes = t.numel() * t.element_size();
      if (size > 0 && size + bytes > max_shard_bytes) {
        shards.emplace_back();
        size = 0;
      }
      shards.back()[name] = t;
      size += bytes;
      total += bytes;
    }
    Value weight_map(Value::Object{});
    char buf[64];
    for (size_t i = 0; i < shards.size(); ++i) {
      std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
      save_safetensors(tmp + "/" + buf, shards[i]);
      for (auto& [name, t] : shards[i]) weight_map.set(name, Value(std::string(buf)));
    }
    Value index(Value::Object{});
    Value meta(Value::Object{});
    meta.set("total_size", Value(total));
    index.set("metadata", meta);
    index.set("weight_map", weight_map);
    std::ofstream(tmp + "/model.safetensors.index.json") << to_json(index, true, 2) << "\n";
  });
  for (const auto& entry : fs::directory_iterator(dir)) written.insert(entry.path().filename().string());
  // Weight files of an earlier, differently sharded save would be read with this one: remove
  // them now that the new files are in place.
  std::error_code ec;
  if (max_shard_bytes > 0) {
    Value index = read_json_file((fs::path(dir) / "model.safetensors.index.json").string());
    std::set<std::string> live;
    for (const auto& [name, file] : index["weight_map"].as_object()) live.insert(file.as_string());
    fs::remove(fs::path(dir) / "model.safetensors", ec);
    for (const auto& f : written)
      if (f.rfind("model-", 0) == 0 && !live.count(f)) fs::remove(fs::path(dir) / f, ec);
  } else
    for (const auto& f : written)
      if (f.rfind("model-", 0) == 0 || f == "model.safetensors.index.json") fs::remove(fs::path(dir) / f, ec);
}

}  // namespace r1::policy
