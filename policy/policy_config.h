// [model]: which policy a recipe trains and how it is held in memory. The architecture itself is
// a Hugging Face config.json (ModelConfig, model_config.h), not a recipe key.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>

namespace r1::policy {

enum class DType { float32, bfloat16 };
constexpr std::array<std::pair<DType, std::string_view>, 2> enum_names(DType) {
  return {{{DType::float32, "float32"}, {DType::bfloat16, "bfloat16"}}};
}

struct PolicyConfig {
  std::string path;                   // Hugging Face folder (config.json + *.safetensors) or a run's checkpoint
  std::string init;                   // config.json to initialise randomly when `path` is empty
  std::string tokenizer;              // folder with tokenizer.json; "" = `path`
  DType dtype = DType::float32;       // parameter dtype; bfloat16 computes in bf16 on CUDA
  bool grad_checkpointing = false;    // recompute each block in backward (long sequences)

  template <class V>
  void visit(V& v) {
    v.path("path", path, "Hugging Face model folder (config.json + safetensors) or a checkpoint folder");
    v.path("init", init, "config.json to initialise randomly when path is empty (tiny experiments)");
    v.path("tokenizer", tokenizer, "folder with tokenizer.json; empty = path");
    v("dtype", dtype, "parameter dtype: float32 | bfloat16");
    v("grad_checkpointing", grad_checkpointing, "recompute each block during backward to save memory");
  }
};

}  // namespace r1::policy
