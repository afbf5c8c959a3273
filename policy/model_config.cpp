// config.json <-> ModelConfig, and the counts behind `r1 model info`.
#include "policy/model_config.h"

#include <cmath>
#include <filesystem>

namespace r1::policy {

namespace {

int64_t opt_int(const Value& j, const char* key, int64_t dflt, const std::string& src) {
  const Value& v = j[key];
  if (v.is_undefined() || v.is_null()) return dflt;
  return j.get_int(key, src);
}
double opt_double(const Value& j, const char* key, double dflt, const std::string& src) {
  const Value& v = j[key];
  if (v.is_undefined() || v.is_null()) return dflt;
  return j.get_double(key, src);
}
bool opt_bool(const Value& j, const char* key, bool dflt) {
  const Value& v = j[key];
  return v.is_bool() ? v.as_bool() : dflt;
}
int64_t need_int(const Value& j, const char* key, const std::string& src) {
  if (j[key].is_undefined() || j[key].is_null())
    throw PolicyError(src + ": missing required key '" + key + "'");
  int64_t v = j.get_int(key, src);
  if (v <= 0) throw PolicyError(src + ": '" + key + "' must be positive, found " + std::to_string(v));
  return v;
}
int64_t first_id(const Value& v) {
  if (v.is_int()) return v.as_int();
  if (v.is_array() && v.size() > 0 && v[0].is_int()) return v[0].as_int();
  return -1;
}

}  // namespace

ModelConfig ModelConfig::from_json(const Value& j, const std::string& src) {
  if (!j.is_object()) throw PolicyError(src + ": not a JSON object");
  ModelConfig c;
  c.extra = j;
  if (!j["model_type"].is_string()) throw PolicyError(src + ": missing required key 'model_type'");
  c.model_type = j["model_type"].as_string();
  const bool deepseek = c.model_type == "deepseek_v3" || c.model_type == "deepseek_v2";
  const bool dense = c.model_type == "qwen2" || c.model_type == "qwen3" || c.model_type == "llama";
  if (!deepseek && !dense)
    throw PolicyError(src + ": model_type '" + c.model_type +
                      "' is not supported (supported: deepseek_v3, deepseek_v2, qwen2, qwen3, llama)");
  c.vocab_size = need_int(j, "vocab_size", src);
  c.hidden_size = need_int(j, "hidden_size", src);
  c.num_hidden_layers = need_int(j, "num_hidden_layers", src);
  c.num_attention_heads = need_int(j, "num_attention_heads", src);
  c.intermediate_size = need_int(j, "intermediate_size", src);
  c.num_key_value_heads = opt_int(j, "num_key_value_heads", c.num_attention_heads, src);
  c.head_dim = opt_int(j, "head_dim", 0, src);
  c.max_position_embeddings = opt_int(j, "max_position_embeddings", 4096, src);
  c.rms_norm_eps = opt_double(j, "rms_norm_eps", 1e-6, src);
  c.rope_theta = opt_double(j, "rope_theta", 10000.0, src);
  c.tie_word_embeddings = opt_bool(j, "tie_word_embeddings", c.model_type == "qwen2" ? false : false);
  c.attention_bias = opt_bool(j, "attention_bias", c.model_type == "qwen2");
  c.qk_norm = c.model_type == "qwen3";
  c.initializer_range = opt_double(j, "initializer_range", 0.02, src);
  c.bos_token_id = first_id(j["bos_token_id"]);
  c.eos_token_id = first_id(j["eos_token_id"]);
  if (j["torch_dtype"].is_string()) c.torch_dtype = j["torch_dtype"].as_string();
  else if (j["dtype"].is_string()) c.torch_dtype = j["dtype"].as_string();

  const Value& rs = j["rope_scaling"];
  if (rs.is_object()) {
    const Value& t = rs["type"].is_string() ? rs["type"] : rs["rope_type"];
    c.rope_scaling.type = t.is_string() ? t.as_string() : "";
    if (c.rope_scaling.type == "default") c.rope_scaling.type.clear();
    std::string where = src + " rope_scaling";
    c.rope_scaling.factor = opt_double(rs, "factor", 1.0, where);
    c.rope_scaling.mscale = opt_double(rs, "mscale", 0.0, where);
    c.rope_scaling.mscale_all_dim = opt_double(rs, "mscale_all_dim", 0.0, where);
    c.rope_scaling.beta_fast = opt_double(rs, "beta_fast", 32.0, where);
    c.rope_scaling.beta_slow = opt_double(rs, "beta_slow", 1.0, where);
    c.rope_scaling.original_max_position_embeddings =
        opt_int(rs, "original_max_position_embeddings", c.max_position_embeddings, where);
    c.rope_scaling.low_freq_factor = opt_double(rs, "low_freq_factor", 1.0, where);
    c.rope_scaling.high_freq_factor = opt_double(rs, "high_freq_factor", 4.0, where);
    c.rope_scaling.truncate = opt_bool(rs, "truncate", true);
    const std::string& ty = c.rope_scaling.type;
    if (!ty.empty() && ty != "yarn" && ty != "linear" && ty != "llama3")
      throw PolicyError(where + ": type '" + ty + "' is not supported (yarn, linear, llama3)");
  }

  if (deepseek) {
    c.kv_lora_rank = need_int(j, "kv_lora_rank", src);
    c.q_lora_rank = opt_int(j, "q_lora_rank", 0, src);
    c.qk_nope_head_dim = need_int(j, "qk_nope_head_dim", src);
    c.qk_rope_head_dim = need_int(j, "qk_rope_head_dim", src);
    c.v_head_dim = need_int(j, "v_head_dim", src);
    c.rope_interleave = opt_bool(j, "rope_interleave", true);
    if (c.qk_rope_head_dim % 2) throw PolicyError(src + ": 'qk_rope_head_dim' must be even");
    c.n_routed_experts = opt_int(j, "n_routed_experts", 0, src);
    c.n_shared_experts = opt_int(j, "n_shared_experts", 0, src);
    c.num_experts_per_tok = opt_int(j, "num_experts_per_tok", 0, src);
    c.moe_intermediate_size = opt_int(j, "moe_intermediate_size", 0, src);
    c.first_k_dense_replace = opt_int(j, "first_k_dense_replace", 0, src);
    c.moe_layer_freq = opt_int(j, "moe_layer_freq", 1, src);
    c.n_group = opt_int(j, "n_group", 1, src);
    c.topk_group = opt_int(j, "topk_group", 1, src);
    c.routed_scaling_factor = opt_double(j, "routed_scaling_factor", 1.0, src);
    c.norm_topk_prob = opt_bool(j, "norm_topk_prob", false);
    std::string sf = j["scoring_func"].is_string() ? j["scoring_func"].as_string() : "softmax";
    if (sf == "sigmoid") c.scoring_func = ScoringFunc::sigmoid;
    else if (sf == "softmax") c.scoring_func = ScoringFunc::softmax;
    else throw PolicyError(src + ": scoring_func '" + sf + "' is not sigmoid or softmax");
    c.topk_method = j["topk_method"].is_string() ? j["topk_method"].as_string()
                                                 : (c.model_type == "deepseek_v3" ? "noaux_tc" : "greedy");
    if (c.n_routed_experts > 0) {
      if (c.num_experts_per_tok <= 0 || c.num_experts_per_tok > c.n_routed_experts)
        throw PolicyError(src + ": 'num_experts_per_tok' must be in [1, n_routed_experts]");
      if (c.moe_intermediate_size <= 0) throw PolicyError(src + ": missing required key 'moe_intermediate_size'");
      if (c.n_group < 1 || c.n_routed_experts % c.n_group != 0)
        throw PolicyError(src + ": 'n_group' must divide 'n_routed_experts'");
      if (c.topk_group < 1 || c.topk_group > c.n_group) throw PolicyError(src + ": 'topk_group' must be in [1, n_group]");
    }
    c.num_key_value_heads = c.num_attention_heads;
  } else {
    if (c.num_attention_heads % c.num_key_value_heads != 0)
      throw PolicyError(src + ": num_attention_heads must be a multiple of num_key_value_heads");
    if (c.head_dim == 0 && c.hidden_size % c.num_attention_heads != 0)
      throw PolicyError(src + ": hidden_size must be a multiple of num_attention_heads (or set head_dim)");
    if (c.gqa_head_dim() % 2) throw PolicyError(src + ": the head dimension must be even for RoPE");
    c.tie_word_embeddings = opt_bool(j, "tie_word_embeddings", false);
  }
  return c;
}

ModelConfig ModelConfig::load(const std::string& path) {
  std::filesystem::path p(path);
  if (std::filesystem::is_directory(p)) p /= "config.json";
  if (!std::filesystem::exists(p)) throw PolicyError(p.string() + ": config.json not found");
  return from_json(read_json_file(p.string()), p.string());
}

Value ModelConfig::to_json() const {
  Value j = extra.is_object() ? extra : Value(Value::Object{});
  auto put = [&](const char* k, Value v) { j.set(k, std::move(v)); };
  put("model_type", Value(model_type));
  put("vocab_size", Value(vocab_size));
  put("hidden_size", Value(hidden_size));
  put("intermediate_size", Value(intermediate_size));
  put("num_hidden_layers", Value(num_hidden_layers));
  put("num_attention_heads", Value(num_attention_heads));
  put("num_key_value_heads", Value(num_key_value_heads));
  if (head_dim > 0) put("head_dim", Value(head_dim));
  put("max_position_embeddings", Value(max_position_embeddings));
  put("rms_norm_eps", Value(rms_norm_eps));
  put("rope_theta", Value(rope_theta));
  put("tie_word_embeddings", Value(tie_word_embeddings));
  put("attention_bias", Value(attention_bias));
  put("initializer_range", Value(initializer_range));
  put("torch_dtype", Value(torch_dtype));
  if (bos_token_id >= 0) put("bos_token_id", Value(bos_token_id));
  if (eos_token_id >= 0) put("eos_token_id", Value(eos_token_id));
  if (mla()) {
    put("kv_lora_rank", Value(kv_lora_rank));
    put("q_lora_rank", q_lora_rank > 0 ? Value(q_lora_rank) : Value::null());
    put("qk_nope_head_dim", Value(qk_nope_head_dim));
    put("qk_rope_head_dim", Value(qk_rope_head_dim));
    put("v_head_dim", Value(v_head_dim));
    put("n_routed_experts", n_routed_experts > 0 ? Value(n_routed_experts) : Value::null());
    put("n_shared_experts", Value(n_shared_experts));
    put("num_experts_per_tok", Value(num_experts_per_tok));
    put("moe_intermediate_size", Value(moe_intermediate_size));
    put("first_k_dense_replace", Value(first_k_dense_replace));
    put("moe_layer_freq", Value(moe_layer_freq));
    put("n_group", Value(n_group));
    put("topk_group", Value(topk_group));
    put("scoring_func", Value(scoring_func == ScoringFunc::sigmoid ? "sigmoid" : "softmax"));
    put("norm_topk_prob", Value(norm_topk_prob));
    put("routed_scaling_factor", Value(routed_scaling_factor));
    put("topk_method", Value(topk_method));
  }
  if (!rope_scaling.type.empty()) {
    Value rs(Value::Object{});
    rs.set("type", Value(rope_scaling.type));
    rs.set("factor", Value(rope_scaling.factor));
    if (rope_scaling.type == "yarn") {
      rs.set("beta_fast", Value(rope_scaling.beta_fast));
      rs.set("beta_slow", Value(rope_scaling.beta_slow));
      if (rope_scaling.mscale > 0) rs.set("mscale", Value(rope_scaling.mscale));
      if (rope_scaling.mscale_all_dim > 0) rs.set("mscale_all_dim", Value(rope_scaling.mscale_all_dim));
    }
    rs.set("original_max_position_embeddings", Value(rope_scaling.original_max_position_embeddings));
    put("rope_scaling", rs);
  }
  return j;
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
