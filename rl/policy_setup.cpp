#include "rl/policy_setup.h"

#include <filesystem>

#include "policy/checkpoint.h"

namespace fs = std::filesystem;

namespace r1::rl {

PolicyBundle load_policy(const policy::PolicyConfig& cfg, uint64_t seed, torch::Device device) {
  PolicyBundle b;
  b.device = device;
  torch::ScalarType dtype = cfg.dtype == policy::DType::bfloat16 ? torch::kBFloat16 : torch::kFloat32;
  if (!cfg.path.empty()) {
    b.model = policy::load_pretrained(cfg.path, {device, dtype});
  } else if (!cfg.init.empty()) {
    policy::CausalLM m(policy::ModelConfig::load(cfg.init));
    m->init_weights(seed);
    m->to(device, dtype);
    b.model = m;
  } else {
    throw policy::PolicyError("model: set model.path (a model folder) or model.init (a config.json to initialise)");
  }
  b.model->set_gradient_checkpointing(cfg.grad_checkpointing);
  b.tokenizer_dir = !cfg.tokenizer.empty() ? cfg.tokenizer : cfg.path;
  if (b.tokenizer_dir.empty()) throw policy::PolicyError("model.tokenizer: a randomly initialised model needs a tokenizer folder");
  b.tokenizer = text::Tokenizer::load(b.tokenizer_dir);
  if (b.tokenizer.vocab_size() > b.model->config().vocab_size)
    throw policy::PolicyError(b.tokenizer_dir + ": the tokenizer has " + std::to_string(b.tokenizer.vocab_size()) +
                              " ids but the model's vocab_size is " + std::to_string(b.model->config().vocab_size));
  return b;
}

std::vector<int32_t> eos_ids(const text::Tokenizer& tok, const policy::ModelConfig& c) {
  std::vector<int32_t> out;
  if (tok.eos_id() >= 0) out.push_back(tok.eos_id());
  if (c.eos_token_id >= 0 && c.eos_token_id != tok.eos_id()) out.push_back(static_cast<int32_t>(c.eos_token_id));
  return out;
}

std::function<const std::string&(int32_t)> token_text(const text::Tokenizer& tok) {
  return [&tok](int32_t id) -> const std::string& {
    static const std::string none;
    return tok.is_special(id) ? none : tok.token_bytes(id);
  };
}

}  // namespace r1::rl
