// Attention of one new token per row over its cached keys, on CPU in float32: the hot loop of
// decoding. Batched matmuls are the wrong tool here — each row has its own keys, so bmm becomes
// B tiny GEMMs with per-call overhead — so this walks each row's cache once, parallel over rows,
// with AVX2/FMA code chosen at run time (portable builds keep a plain fallback).
#pragma once

#include <torch/torch.h>

namespace r1::policy {

// True when the fast kernel applies: CPU float32 tensors.
bool decode_attention_applies(const torch::Tensor& q);

// MLA, absorbed form. q_lat: [B, H, r], q_pe: [B, H, dr]; latent: [slots, L, r], rope: [slots, L, dr];
// row b attends to positions 0..lengths[b] of slot rows[b]. Returns o_lat [B, H, r].
torch::Tensor mla_decode_attention(const torch::Tensor& q_lat, const torch::Tensor& q_pe, const torch::Tensor& latent,
                                   const torch::Tensor& rope, const torch::Tensor& rows, const torch::Tensor& lengths,
                                   double scale);

// GQA. q: [B, H, D]; k, v: [slots, L, Hkv, D]. Returns [B, H, D].
torch::Tensor gqa_decode_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                   const torch::Tensor& rows, const torch::Tensor& lengths, double scale);

}  // namespace r1::policy
