// Blocks, the decoder stack, gradient checkpointing and initialisation.
#include "policy/transformer.h"

#include <torch/csrc/autograd/custom_function.h>

#include "policy/cpu_decode.h"

namespace r1::policy {

BlockImpl::BlockImpl(const ModelConfig& c, int64_t layer) : layer_(layer) {
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  if (c.mla()) mla = register_module("self_attn", MlaAttention(c));
  else gqa = register_module("self_attn", GqaAttention(c));
  if (c.moe_layer(layer)) moe = register_module("mlp", Moe(c));
  else dense = register_module("mlp", Mlp(c.hidden_size, c.intermediate_size));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, const torch::Tensor& positions, CacheBatch* cache) {
  auto h = input_layernorm(x);
  h = mla ? mla(h, positions, cache, layer_) : gqa(h, positions, cache, layer_);
  auto y = x + h;
  auto m = post_attention_layernorm(y);
  return y + (moe ? moe(m) : dense(m));
}

DecoderImpl::DecoderImpl(const ModelConfig& c) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    Block b(c, l);
    layers->push_back(b);
    blocks.push_back(b);
  }
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

namespace {

// Gradient checkpointing: forward without keeping activations; backward recomputes the block
// with grad enabled and back-propagates through it (parameter grads accumulate as usual).
struct CheckpointedBlock : public torch::autograd::Function<CheckpointedBlock> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x, torch::Tensor positions,
                               int64_t block_ptr) {
    ctx->saved_data["block"] = block_ptr;
    ctx->save_for_backward({x, positions});
    torch::NoGradGuard ng;
    auto* block = reinterpret_cast<BlockImpl*>(block_ptr);
    block->set_load_counting(LoadCounting::force);
    auto out = block->forward(x, positions, nullptr);
    block->set_load_counting(LoadCounting::automatic);
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    auto* block = reinterpret_cast<BlockImpl*>(ctx->saved_data["block"].toInt());
    auto x = saved[0].detach().requires_grad_(true);
    torch::Tensor out;
    {
      torch::AutoGradMode on(true);
      block->set_load_counting(LoadCounting::skip);
      out = block->forward(x, saved[1], nullptr);
      block->set_load_counting(LoadCounting::automatic);
    }
    torch::autograd::backward({out}, {grads[0]});
    return {x.grad(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

CausalLMImpl::CausalLMImpl(const ModelConfig& c) : config_(c) {
  model = register_module("model", Decoder(c));
  if (!c.tie_word_embeddings)
    lm_head = register_module("lm_head", torch::nn::Linear(torch::nn::LinearOptions(c.hidden_size, c.vocab_size).bias(false)));
  for (const auto& b : model->blocks)
    if (b->moe) moe_layers_.push_back(b->moe);
}

torch::Tensor CausalLMImpl::hidden(const torch::Tensor& ids, torch::Tensor positions, CacheBatch* cache,
                                   const ForwardInputs& inputs) {
  const int64_t T = ids.size(1);
  if (cache) cache->clear_per_forward();
  // Every forward sets (or clears) what its MoE layers replay and count: nothing of a training
  // forward leaks into a later rollout forward.
  auto& moes = moe_layers_;
  if (inputs.routing.defined())
    TORCH_CHECK(inputs.routing.dim() == 4 && inputs.routing.size(2) == static_cast<int64_t>(moes.size()),
                "routing replay: expected [B, T, ", moes.size(), ", k]");
  const auto count = inputs.valid.defined() && !moes.empty() ? inputs.valid.reshape({-1}).to(torch::kBool) : torch::Tensor();
  for (size_t m = 0; m < moes.size(); ++m) {
    auto replay = inputs.routing.defined() ? inputs.routing.select(2, static_cast<int64_t>(m)).reshape({-1, inputs.routing.size(3)}).to(ids.device())
                                           : torch::Tensor();
    moes[m]->set_forward_inputs(count, replay);
  }
  if (!positions.defined()) {
    positions = cache ? cached_positions(*cache, T)
                      : torch::arange(T, torch::TensorOptions().dtype(torch::kLong).device(ids.device())).unsqueeze(0).expand({ids.size(0), T});
  }
  auto h = model->embed_tokens(ids);  // [B, T, hidden]
  for (auto& b : model->blocks) {
    if (checkpointing_ && !cache && is_training() && torch::GradMode::is_enabled())
      h = CheckpointedBlock::apply(h, positions, reinterpret_cast<int64_t>(b.get()));
    else
      h = b->forward(h, positions, cache);
  }
  return model->norm(h);
}

torch::Tensor CausalLMImpl::logits(const torch::Tensor& h) {
  if (lm_head) return cpu_decode::linear(lm_head, lm_head_packed_, h);
  return cpu_decode::matmul_t(lm_head_packed_, h, model->embed_tokens->weight);
}

void CausalLMImpl::init_weights(uint64_t seed) {
  torch::NoGradGuard ng;
  auto gen = at::detail::createCPUGenerator(seed);
  const double std = config_.initializer_range;
  for (auto& item : named_parameters()) {
    const std::string& name = item.key();
    torch::Tensor& t = item.value();
    auto cpu = torch::empty(t.sizes(), torch::kFloat32);
    bool is_norm = name.find("norm") != std::string::npos && name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0 && t.dim() == 1;
    if (is_norm) cpu.fill_(1.0);
    else if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) cpu.zero_();
    else cpu.normal_(0.0, std, gen);
    t.copy_(cpu);
  }
  for (auto& item : named_buffers()) item.value().zero_();  // e_score_correction_bias
}

std::map<std::string, torch::Tensor> CausalLMImpl::state() const {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : named_parameters()) out[item.key()] = item.value();
  for (const auto& item : named_buffers()) out[item.key()] = item.value();
  return out;
}

void CausalLMImpl::set_record_routing(bool on) {
  for (auto& m : moe_layers()) m->set_record_routing(on);
}

torch::Tensor CausalLMImpl::last_routing() const {
  std::vector<torch::Tensor> per_layer;
  for (const auto& m : moe_layers()) {
    if (!m->last_routing().defined()) return {};
    per_layer.push_back(m->last_routing());
  }
  if (per_layer.empty()) return {};
  return torch::stack(per_layer, 1);  // [N, layers, k]
}


}  // namespace r1::policy
