// MLA and GQA forward passes. Shapes: B rows, T new tokens, S attended positions, H heads.
#include "policy/attention.h"


namespace r1::policy {

namespace {

torch::nn::Linear linear(int64_t in, int64_t out, bool bias) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

// Additive mask [B, 1, T, S]: query t of row b sees key j iff j <= offset[b] + t.
torch::Tensor causal_mask(const torch::Tensor& offsets, int64_t T, int64_t S, torch::ScalarType dtype,
                          torch::Device device) {
  auto q = offsets.to(device).view({-1, 1, 1}) + torch::arange(T, torch::TensorOptions().dtype(torch::kLong).device(device)).view({1, -1, 1});
  auto k = torch::arange(S, torch::TensorOptions().dtype(torch::kLong).device(device)).view({1, 1, -1});
  auto allowed = (k <= q).unsqueeze(1);  // [B, 1, T, S]
  auto zero = torch::zeros({}, torch::TensorOptions().dtype(dtype).device(device));
  auto neg = torch::full({}, -std::numeric_limits<float>::infinity(), torch::TensorOptions().dtype(dtype).device(device));
  return torch::where(allowed, zero, neg);
}

// Softmax in fp32 whatever the compute dtype, then back.
torch::Tensor softmax_fp32(const torch::Tensor& scores) {
  return torch::softmax(scores.to(at_least_fp32(scores.scalar_type())), -1).to(scores.scalar_type());
}

// Writes new[b, t] into store[slots[b], lengths[b] + t].
void write_cache(torch::Tensor& store, const torch::Tensor& fresh, CacheBatch& c) {
  const int64_t T = fresh.size(1);
  auto dev = store.device();
  if (!c.write_rows.defined()) {
    c.write_rows = c.slots.to(dev).repeat_interleave(T);
    c.write_cols = (c.lengths.to(dev).view({-1, 1}) + torch::arange(T, torch::TensorOptions().dtype(torch::kLong).device(dev))).reshape({-1});
  }
  store.index_put_({c.write_rows, c.write_cols}, fresh.flatten(0, 1).to(store.scalar_type()));
}

// q and k rotated at the forward's positions, with cos and sin shared by all layers when cached.
std::pair<torch::Tensor, torch::Tensor> rotate(const Rotary& r, const torch::Tensor& q, const torch::Tensor& k,
                                               const torch::Tensor& positions, CacheBatch* cache) {
  if (!cache) return {r.apply(q, positions), r.apply(k, positions)};
  if (cache->rope_dim != r.dim() || !cache->rope_cos.defined()) {
    std::tie(cache->rope_cos, cache->rope_sin) = r.cos_sin(positions, q.scalar_type(), q.device());
    cache->rope_dim = r.dim();
  }
  return {r.apply(q, cache->rope_cos, cache->rope_sin), r.apply(k, cache->rope_cos, cache->rope_sin)};
}

// The first `span` positions of each row's slot: [B, span, ...].
torch::Tensor read_cache(const torch::Tensor& store, const CacheBatch& c, int64_t B) {
  if (c.contiguous) return store.narrow(0, 0, B).narrow(1, 0, c.span);
  return store.index_select(0, c.slots.to(store.device())).narrow(1, 0, c.span);
}

}  // namespace

torch::Tensor cached_positions(const CacheBatch& cache, int64_t T) {
  auto dev = cache.lengths.device();
  return cache.lengths.view({-1, 1}) + torch::arange(T, torch::TensorOptions().dtype(torch::kLong).device(dev)).view({1, -1});
}

// ---- MLA ---------------------------------------------------------------------------------

MlaAttentionImpl::MlaAttentionImpl(const ModelConfig& c)
    : heads_(c.num_attention_heads),
      nope_(c.qk_nope_head_dim),
      rope_(c.qk_rope_head_dim),
      v_(c.v_head_dim),
      rank_(c.kv_lora_rank),
      scale_(c.softmax_scale()),
      rotary_(c, c.qk_rope_head_dim, c.rope_interleave) {
  const int64_t d = c.hidden_size, qk = nope_ + rope_;
  if (c.q_lora_rank > 0) {
    q_a_proj = register_module("q_a_proj", linear(d, c.q_lora_rank, c.attention_bias));
    q_a_layernorm = register_module("q_a_layernorm", RMSNorm(c.q_lora_rank, c.rms_norm_eps));
    q_b_proj = register_module("q_b_proj", linear(c.q_lora_rank, heads_ * qk, false));
  } else {
    q_proj = register_module("q_proj", linear(d, heads_ * qk, false));
  }
  kv_a_proj_with_mqa = register_module("kv_a_proj_with_mqa", linear(d, rank_ + rope_, c.attention_bias));
  kv_a_layernorm = register_module("kv_a_layernorm", RMSNorm(rank_, c.rms_norm_eps));
  kv_b_proj = register_module("kv_b_proj", linear(rank_, heads_ * (nope_ + v_), false));
  o_proj = register_module("o_proj", linear(heads_ * v_, d, c.attention_bias));
}

torch::Tensor MlaAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& positions, CacheBatch* cache,
                                        int64_t layer) {
  const int64_t B = x.size(0), T = x.size(1), H = heads_;
  auto q = q_proj ? cpu_decode::linear(q_proj, q_packed_, x)
                   : cpu_decode::linear(q_b_proj, q_b_packed_, q_a_layernorm(cpu_decode::linear(q_a_proj, q_a_packed_, x)));  // [B, T, H*(nope+rope)]
  q = q.view({B, T, H, nope_ + rope_});
  auto q_nope = q.narrow(-1, 0, nope_);                                  // [B, T, H, nope]
  auto kv = cpu_decode::linear(kv_a_proj_with_mqa, kv_a_packed_, x);         // [B, T, rank + rope]
  auto c_kv = kv_a_layernorm(kv.narrow(-1, 0, rank_));                   // [B, T, rank]
  auto [q_pe, k_pe1] = rotate(rotary_, q.narrow(-1, nope_, rope_), kv.narrow(-1, rank_, rope_).unsqueeze(2), positions, cache);
  auto k_pe = k_pe1.squeeze(2);                                          // q_pe [B, T, H, rope], k_pe [B, T, rope]

  torch::Tensor latent = c_kv, rope_key = k_pe, mask;
  int64_t S = T;
  if (cache) {
    LayerKv& lk = (*cache->layers)[layer];
    write_cache(lk.a, c_kv, *cache);
    write_cache(lk.b, k_pe, *cache);
    if (T == 1 && cache->absorb)
      if (auto o = cpu_decode::mla_attention(q, q_pe, kv_b_proj->weight, absorbed_, lk, *cache, {H, nope_, rope_, v_, rank_}, scale_))
        return cpu_decode::linear(o_proj, o_packed_, *o);
    latent = read_cache(lk.a, *cache, B).to(x.scalar_type());          // [B, S, rank]
    rope_key = read_cache(lk.b, *cache, B).to(x.scalar_type());        // [B, S, rope]
    S = cache->span;
    mask = causal_mask(cache->lengths, T, S, x.scalar_type(), x.device());  // [B, 1, T, S]
  } else {
    mask = causal_mask(torch::zeros({B}, torch::kLong), T, S, x.scalar_type(), x.device());
  }

  torch::Tensor out;  // [B, T, H, v]
  if (cache && cache->absorb) {
    auto w = kv_b_proj->weight.view({H, nope_ + v_, rank_});
    auto w_uk = w.narrow(1, 0, nope_);                                   // [H, nope, rank]
    auto w_uv = w.narrow(1, nope_, v_);                                  // [H, v, rank]
    auto q_lat = torch::einsum("bthd,hdr->bthr", {q_nope, w_uk});        // [B, T, H, rank]
    // Heads become rows of one matmul against the shared latent: [B, T*H, rank] x [B, rank, S].
    auto scores = torch::bmm(q_lat.reshape({B, T * H, rank_}), latent.transpose(1, 2)) +
                  torch::bmm(q_pe.reshape({B, T * H, rope_}), rope_key.transpose(1, 2));  // [B, T*H, S]
    scores = scores.view({B, T, H, S}).permute({0, 2, 1, 3}) * scale_ + mask;           // [B, H, T, S]
    auto probs = softmax_fp32(scores);
    auto o_lat = torch::bmm(probs.permute({0, 2, 1, 3}).reshape({B, T * H, S}), latent);  // [B, T*H, rank]
    out = torch::einsum("bthr,hvr->bthv", {o_lat.view({B, T, H, rank_}), w_uv});          // [B, T, H, v]
  } else {
    auto kvb = kv_b_proj(latent).view({B, S, H, nope_ + v_});           // [B, S, H, nope+v]
    auto k_nope = kvb.narrow(-1, 0, nope_);
    auto v = kvb.narrow(-1, nope_, v_);
    auto k = torch::cat({k_nope, rope_key.unsqueeze(2).expand({B, S, H, rope_})}, -1);  // [B, S, H, qk]
    auto qf = torch::cat({q_nope, q_pe}, -1);                            // [B, T, H, qk]
    auto scores = torch::matmul(qf.transpose(1, 2), k.permute({0, 2, 3, 1})) * scale_ + mask;  // [B, H, T, S]
    auto probs = softmax_fp32(scores);
    out = torch::matmul(probs, v.transpose(1, 2)).transpose(1, 2);       // [B, T, H, v]
  }
  return cpu_decode::linear(o_proj, o_packed_, out.reshape({B, T, H * v_}));  // [B, T, hidden]
}

// ---- GQA ---------------------------------------------------------------------------------

GqaAttentionImpl::GqaAttentionImpl(const ModelConfig& c)
    : heads_(c.num_attention_heads),
      kv_heads_(c.num_key_value_heads),
      head_dim_(c.gqa_head_dim()),
      scale_(c.softmax_scale()),
      rotary_(c, c.gqa_head_dim(), false) {
  const int64_t d = c.hidden_size;
  q_proj = register_module("q_proj", linear(d, heads_ * head_dim_, c.attention_bias));
  k_proj = register_module("k_proj", linear(d, kv_heads_ * head_dim_, c.attention_bias));
  v_proj = register_module("v_proj", linear(d, kv_heads_ * head_dim_, c.attention_bias));
  o_proj = register_module("o_proj", linear(heads_ * head_dim_, d, false));
  if (c.qk_norm) {
    q_norm = register_module("q_norm", RMSNorm(head_dim_, c.rms_norm_eps));
    k_norm = register_module("k_norm", RMSNorm(head_dim_, c.rms_norm_eps));
  }
}

torch::Tensor GqaAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& positions, CacheBatch* cache,
                                        int64_t layer) {
  const int64_t B = x.size(0), T = x.size(1), H = heads_, G = heads_ / kv_heads_, D = head_dim_;
  auto q = cpu_decode::linear(q_proj, q_packed_, x).view({B, T, H, D});
  auto k = cpu_decode::linear(k_proj, k_packed_, x).view({B, T, kv_heads_, D});
  auto v = cpu_decode::linear(v_proj, v_packed_, x).view({B, T, kv_heads_, D});
  if (q_norm) {
    q = q_norm(q);
    k = k_norm(k);
  }
  std::tie(q, k) = rotate(rotary_, q, k, positions, cache);
  int64_t S = T;
  torch::Tensor mask;
  if (cache) {
    LayerKv& lk = (*cache->layers)[layer];
    write_cache(lk.a, k, *cache);
    write_cache(lk.b, v, *cache);
    if (T == 1)
      if (auto o = cpu_decode::gqa_attention(q, lk, *cache, scale_)) return cpu_decode::linear(o_proj, o_packed_, *o);
    k = read_cache(lk.a, *cache, B).to(x.scalar_type());                 // [B, S, Hkv, D]
    v = read_cache(lk.b, *cache, B).to(x.scalar_type());
    S = cache->span;
    mask = causal_mask(cache->lengths, T, S, x.scalar_type(), x.device());
  } else {
    mask = causal_mask(torch::zeros({B}, torch::kLong), T, S, x.scalar_type(), x.device());
  }
  // Query heads of one KV head become rows of one matmul: no K/V copy per group.
  auto qg = q.view({B, T, kv_heads_, G, D}).permute({0, 2, 3, 1, 4}).reshape({B, kv_heads_, G * T, D});  // [B, Hkv, G*T, D]
  auto kt = k.permute({0, 2, 3, 1});                                      // [B, Hkv, D, S]
  auto scores = torch::matmul(qg, kt).view({B, kv_heads_, G, T, S}) * scale_ + mask.unsqueeze(1);  // [B, Hkv, G, T, S]
  auto probs = softmax_fp32(scores);
  auto out = torch::matmul(probs.view({B, kv_heads_, G * T, S}), v.transpose(1, 2));  // [B, Hkv, G*T, D]
  out = out.view({B, kv_heads_, G, T, D}).permute({0, 3, 1, 2, 4}).reshape({B, T, H * D});
  return cpu_decode::linear(o_proj, o_packed_, out);
}

}  // namespace r1::policy
