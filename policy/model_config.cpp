// config.json <-> ModelConfig (through the field list in model_config.h), and the counts behind
// `r1 model info`.
#include "policy/model_config.h"

#include <cmath>
#include <filesystem>

#include "text/value_binder.h"

namespace r1::policy {

namespace {

bool is_deepseek(const std::string& t) { return t == "deepseek_v3" || t == "deepseek_v2"; }
bool is_dense_family(const std::string& t) { return t == "qwen2" || t == "qwen3" || t == "llama"; }

// Hugging Face writes some keys more than one way; bind one spelling. `dtype` (transformers
// >= 4.56) stands for torch_dtype, rope_scaling's `rope_type` for `type`, and a list of end
// tokens binds as its first.
Value hf_spellings(const Value& json) {
  Value j = json;
  if (!j.contains("torch_dtype") && j["dtype"].is_string()) j.set("torch_dtype", j["dtype"]);
  for (const char* key : {"bos_token_id", "eos_token_id"})
    if (j[key].is_array()) j.set(key, j[key].size() > 0 ? j[key][0] : Value::null());
  if (const Value* rs = j.find("rope_scaling"); rs && rs->is_object()) {
    Value scaling = *rs;
    if (!scaling.contains("type") && scaling.contains("rope_type")) scaling.set("type", scaling["rope_type"]);
    if (scaling["type"].is_string() && scaling["type"].as_string() == "default") scaling.set("type", Value(""));
    j.set("rope_scaling", std::move(scaling));
  }
  return j;
}

}  // namespace

ModelConfig ModelConfig::from_json(const Value& json, const std::string& src) {
  if (!json.is_object()) throw PolicyError(src + ": not a JSON object");
  // The family decides which keys are required, so it is checked before the binder runs.
  if (!json["model_type"].is_string()) throw PolicyError(src + ": missing required key 'model_type'");
  const std::string& type = json["model_type"].as_string();
  if (!is_deepseek(type) && !is_dense_family(type))
    throw PolicyError(src + ": model_type '" + type +
                      "' is not supported (supported: deepseek_v3, deepseek_v2, qwen2, qwen3, llama)");
  ModelConfig c;
  text::bind_table(hf_spellings(json), "", c, src);
  c.apply_family_defaults(json);
  c.validate(src);
  return c;
}

void ModelConfig::apply_family_defaults(const Value& json) {
  qk_norm = model_type == "qwen3";
  if (!json.contains("attention_bias")) attention_bias = model_type == "qwen2";
  if (rope_scaling.original_max_position_embeddings == 0)
    rope_scaling.original_max_position_embeddings = max_position_embeddings;
  if (is_deepseek(model_type)) {
    num_key_value_heads = num_attention_heads;  // MLA: one latent serves every head
    if (!json.contains("topk_method")) topk_method = model_type == "deepseek_v3" ? "noaux_tc" : "greedy";
    return;
  }
  if (num_key_value_heads == 0) num_key_value_heads = num_attention_heads;
  // The dense families have no latent attention and no experts, whatever stray keys say.
  kv_lora_rank = q_lora_rank = qk_nope_head_dim = qk_rope_head_dim = v_head_dim = 0;
  n_routed_experts = 0;
}

void ModelConfig::validate(const std::string& src) const {
  auto need = [&](int64_t v, const char* key) {
    if (v <= 0) throw PolicyError(src + ": missing required key '" + key + "' (a positive integer)");
  };
  const std::string& ty = rope_scaling.type;
  if (!ty.empty() && ty != "yarn" && ty != "linear" && ty != "llama3")
    throw PolicyError(src + ": rope_scaling.type '" + ty + "' is not supported (yarn, linear, llama3)");
  if (is_deepseek(model_type)) {
    need(kv_lora_rank, "kv_lora_rank");
    need(qk_nope_head_dim, "qk_nope_head_dim");
    need(qk_rope_head_dim, "qk_rope_head_dim");
    need(v_head_dim, "v_head_dim");
    if (qk_rope_head_dim % 2) throw PolicyError(src + ": 'qk_rope_head_dim' must be even");
    if (n_routed_experts > 0) {
      if (num_experts_per_tok <= 0 || num_experts_per_tok > n_routed_experts)
        throw PolicyError(src + ": 'num_experts_per_tok' must be in [1, n_routed_experts]");
      need(moe_intermediate_size, "moe_intermediate_size");
      if (n_routed_experts % n_group != 0) throw PolicyError(src + ": 'n_group' must divide 'n_routed_experts'");
      if (topk_group > n_group) throw PolicyError(src + ": 'topk_group' must be in [1, n_group]");
    }
    return;
  }
  if (num_attention_heads % num_key_value_heads != 0)
    throw PolicyError(src + ": num_attention_heads must be a multiple of num_key_value_heads");
  if (head_dim == 0 && hidden_size % num_attention_heads != 0)
    throw PolicyError(src + ": hidden_size must be a multiple of num_attention_heads (or set head_dim)");
  if (gqa_head_dim() % 2) throw PolicyError(src + ": the head dimension must be even for RoPE");
}

ModelConfig ModelConfig::load(const std::string& path) {
  std::filesystem::path p(path);
  if (std::filesystem::is_directory(p)) p /= "config.json";
  if (!std::filesystem::exists(p)) throw PolicyError(p.string() + ": config.json not found");
  return from_json(read_json_file(p.string()), p.string());
}

Value ModelConfig::to_json() const {
  ModelConfig copy = *this;
  return text::to_tree(copy);
}

static double yarn_get_mscale(double scale, double mscale) {
  if (scale <= 1.0) return 1.0;
  return 0.1 * mscale * std::log(scale) + 1.0;
}

double ModelConfig::softmax_scale() const {
  double s = 1.0 / std::sqrt(static_cast<double>(qk_head_dim()));
  if (rope_scaling.type == "yarn" && rope_scaling.mscale_all_dim > 0) {
    double m = yarn_get_mscale(rope_scaling.factor, rope_scaling.mscale_all_dim);
    s *= m * m;
  }
  return s;
}

ModelCounts count_model(const ModelConfig& c, int64_t context, int bytes_per_value) {
  ModelCounts n;
  n.context = context;
  const double d = static_cast<double>(c.hidden_size);
  const double H = static_cast<double>(c.num_attention_heads);
  double attn = 0;
  if (c.mla()) {
    double qk = static_cast<double>(c.qk_head_dim());
    if (c.q_lora_rank > 0) attn += d * c.q_lora_rank + c.q_lora_rank + c.q_lora_rank * H * qk;  // q_a, norm, q_b
    else attn += d * H * qk;
    attn += d * (c.kv_lora_rank + c.qk_rope_head_dim) + c.kv_lora_rank;         // kv_a (+MQA rope key), norm
    attn += c.kv_lora_rank * H * (c.qk_nope_head_dim + c.v_head_dim);           // kv_b
    attn += H * c.v_head_dim * d;                                               // o
  } else {
    double hd = static_cast<double>(c.gqa_head_dim());
    double kv = static_cast<double>(c.num_key_value_heads);
    attn += d * H * hd + 2 * d * kv * hd + H * hd * d;
    if (c.attention_bias) attn += H * hd + 2 * kv * hd;
    if (c.qk_norm) attn += 2 * hd;
  }
  n.attention_params_per_layer = attn;
  const double norms = 2 * d;
  const double dense_mlp = 3 * d * c.intermediate_size;
  const double expert = 3 * d * c.moe_intermediate_size;
  double total = 0, active = 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    total += attn + norms;
    active += attn + norms;
    if (c.moe_layer(l)) {
      double router = c.n_routed_experts * d + (c.has_selection_bias() ? c.n_routed_experts : 0);
      total += router + (c.n_routed_experts + c.n_shared_experts) * expert;
      active += router + (c.num_experts_per_tok + c.n_shared_experts) * expert;
    } else {
      total += dense_mlp;
      active += dense_mlp;
    }
  }
  n.embedding_params = static_cast<double>(c.vocab_size) * d;
  n.head_params = c.tie_word_embeddings ? 0 : n.embedding_params;
  total += n.embedding_params + n.head_params + d;  // + final norm
  active += n.embedding_params + n.head_params + d;
  n.total_params = total;
  n.activated_params = active;

  if (c.mla()) n.kv_cache_bytes_per_token = static_cast<double>(c.num_hidden_layers) * (c.kv_lora_rank + c.qk_rope_head_dim) * bytes_per_value;
  else n.kv_cache_bytes_per_token = 2.0 * c.num_hidden_layers * c.num_key_value_heads * c.gqa_head_dim() * bytes_per_value;

  // Matmul FLOPs: 2 per multiply-add of every activated weight except the embedding lookup
  // (the head is a matmul even when tied); norms and biases are negligible and left out.
  double tied_head = c.tie_word_embeddings ? n.embedding_params : 0;
  n.matmul_flops_per_token = 2.0 * (active - n.embedding_params + tied_head);
  // Attention scores and the weighted sum over `context` keys (naive form: per head qk + v).
  double per_layer = c.mla() ? 2.0 * H * context * (c.qk_head_dim() + c.v_head_dim)
                             : 2.0 * H * context * (2.0 * c.gqa_head_dim());
  n.attention_flops_per_token = per_layer * c.num_hidden_layers;
  n.flops_per_token = n.matmul_flops_per_token + n.attention_flops_per_token;
  return n;
}

}  // namespace r1::policy
