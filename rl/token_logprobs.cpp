#include "rl/token_logprobs.h"

#include <torch/csrc/autograd/custom_function.h>

namespace r1::rl {

namespace {

constexpr int64_t kChunkFloats = int64_t{1} << 26;  // 256 MB of fp32 logits per chunk

struct ChunkedLogprobs : public torch::autograd::Function<ChunkedLogprobs> {
  // hidden [N, H], weight [V, H], targets [N] -> {logp [N], entropy [N]}
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, torch::Tensor hidden, torch::Tensor weight,
                                                torch::Tensor targets, double temperature, int64_t chunk) {
    torch::NoGradGuard ng;
    const int64_t N = hidden.size(0);
    auto w = weight.to(torch::kFloat32);
    auto f32 = hidden.options().dtype(torch::kFloat32);
    auto logp = torch::empty({N}, f32), entropy = torch::empty({N}, f32), lse = torch::empty({N}, f32);
    for (int64_t off = 0; off < N; off += chunk) {
      const int64_t n = std::min(chunk, N - off);
      auto z = torch::matmul(hidden.narrow(0, off, n).to(torch::kFloat32), w.t()).div_(temperature);  // [n, V]
      auto l = torch::logsumexp(z, -1);                                                               // [n]
      logp.narrow(0, off, n).copy_(z.gather(1, targets.narrow(0, off, n).unsqueeze(1)).squeeze(1) - l);
      entropy.narrow(0, off, n).copy_(l - (torch::softmax(z, -1) * z).sum(-1));
      lse.narrow(0, off, n).copy_(l);
    }
    ctx->save_for_backward({hidden, weight, targets, lse, entropy});
    // An output nothing depends on gets an undefined gradient, not zeros: without an entropy
    // bonus the backward then skips the entropy term and its [n, V] buffer.
    ctx->set_materialize_grads(false);
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["chunk"] = chunk;
    return {logp, entropy};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const auto &hidden = saved[0], &weight = saved[1], &targets = saved[2], &lse = saved[3], &entropy = saved[4];
    const double temperature = ctx->saved_data["temperature"].toDouble();
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const int64_t N = hidden.size(0);
    auto w = weight.to(torch::kFloat32);
    auto grad_h = torch::empty(hidden.sizes(), hidden.options().dtype(torch::kFloat32));
    auto grad_w = torch::zeros_like(w);
    auto g = grads[0].defined() ? grads[0].to(torch::kFloat32) : torch::zeros({N}, w.options());
    const bool entropy_grad = grads[1].defined();  // an entropy bonus in the loss
    auto ge = entropy_grad ? grads[1].to(torch::kFloat32) : torch::Tensor();
    for (int64_t off = 0; off < N; off += chunk) {
      const int64_t n = std::min(chunk, N - off);
      auto h = hidden.narrow(0, off, n).to(torch::kFloat32);
      auto z = torch::matmul(h, w.t()).div_(temperature);
      auto log_p = z.sub_(lse.narrow(0, off, n).unsqueeze(1));  // [n, V], in place of z
      // Without an entropy term -p is made in place too: one [n, V] buffer per chunk.
      torch::Tensor p = entropy_grad ? log_p.exp() : torch::Tensor();
      auto dz = entropy_grad ? p.neg() : log_p.exp_().neg_();  // -p
      // d logp_i / d z_ij = (onehot_ij - p_ij) / T, times the incoming gradient of logp_i.
      dz.scatter_add_(1, targets.narrow(0, off, n).unsqueeze(1), torch::ones({n, 1}, dz.options()));
      dz.mul_((g.narrow(0, off, n) / temperature).unsqueeze(1));
      // d H_i / d z_ij = -p_ij (log p_ij + H_i) / T, times the incoming gradient of H_i.
      if (entropy_grad)
        dz.sub_(p * (log_p + entropy.narrow(0, off, n).unsqueeze(1)) * (ge.narrow(0, off, n) / temperature).unsqueeze(1));
      grad_h.narrow(0, off, n).copy_(torch::matmul(dz, w));
      grad_w.add_(torch::matmul(dz.t(), h));
    }
    return {grad_h.to(hidden.scalar_type()), grad_w.to(weight.scalar_type()), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

TokenLogprobs chunked_token_logprobs(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& targets,
                                     double temperature, int64_t chunk_rows) {
  TORCH_CHECK(temperature > 0, "the learner's temperature must be > 0");
  const auto lead = targets.sizes().vec();
  auto h = hidden.reshape({-1, hidden.size(-1)});
  auto t = targets.reshape({-1});
  const int64_t chunk = chunk_rows > 0 ? chunk_rows : std::max<int64_t>(1, kChunkFloats / weight.size(0));
  auto out = ChunkedLogprobs::apply(h, weight, t, temperature, chunk);
  return {out[0].view(lead), out[1].view(lead)};
}

}  // namespace r1::rl
