// DeepSeekMoE: shared experts every token passes through, plus routed experts chosen by a gate
// with sigmoid (V3) or softmax (V2) scores, group-limited top-k, normalized top-k weights times
// routed_scaling_factor, and the auxiliary-loss-free balancing bias (V3's e_score_correction_bias:
// it shifts which experts are selected, never the weights, and is updated outside autograd).
// Dispatch is batched: tokens are sorted by expert and each expert runs once on its tokens.
#pragma once

#include <map>
#include <string>

#include <torch/torch.h>

#include "policy/layers.h"
#include "policy/model_config.h"

namespace r1::policy {

struct Routing {
  torch::Tensor weights;  // [N, k] mixing weights (differentiable w.r.t. the gate)
  torch::Tensor experts;  // [N, k] int64 expert ids
};

class MoeGateImpl : public torch::nn::Module {
 public:
  explicit MoeGateImpl(const ModelConfig& c);
  // x: [N, hidden]. `replay` ([N, k] int64, optional): use these experts instead of choosing;
  // the mixing weights still come from this gate's scores (and carry its gradient).
  Routing forward(const torch::Tensor& x, const torch::Tensor& replay = {});
  torch::Tensor weight;                    // [E, hidden]
  // [E] buffer; defined only for noaux_tc (V3). Always fp32, whatever the model's dtype (as
  // DeepSeek keeps it): a 0.001 step is lost on a bf16 bias of magnitude >= 0.5.
  torch::Tensor e_score_correction_bias;

  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Dtype dtype, bool non_blocking = false) override;

 private:
  Routing mixing_weights(const torch::Tensor& scores, const torch::Tensor& chosen, torch::ScalarType dtype) const;

  int64_t experts_, top_k_, n_group_, topk_group_;
  ScoringFunc scoring_;
  bool norm_topk_;
  double scaling_;
  PackedWeight packed_;  // decode-sized batches (cpu_decode.h)
};
TORCH_MODULE(MoeGate);

// Expert loads are counted by training forwards only (training mode with grad enabled — not
// rollout or evaluation). Gradient checkpointing runs its forward without grad (`force` makes it
// count) and recomputes in backward (`skip` keeps that from counting twice).
enum class LoadCounting { automatic, force, skip };

class MoeImpl : public torch::nn::Module {
 public:
  explicit MoeImpl(const ModelConfig& c);
  torch::Tensor forward(const torch::Tensor& x);  // [B, T, hidden]

  // Set by CausalLM before each forward (and kept for gradient checkpointing's recomputation):
  // `count` [N] bool, the tokens that count toward the load (padding does not; undefined = all);
  // `replay` [N, k] int64, the experts to route to (undefined = the gate chooses).
  void set_forward_inputs(torch::Tensor count, torch::Tensor replay);
  // Keep the experts of the last forward ([N, k], read by the rollout engine to record routing).
  void set_record_routing(bool on) { record_ = on; }
  void set_load_counting(LoadCounting c) { counting_ = c; }
  const torch::Tensor& last_routing() const { return last_experts_; }

  // Tokens routed to each expert since the last reset, counted in training mode: the load the
  // balancing bias reacts to, and what `moe/max_load_ratio` is logged from.
  torch::Tensor load() const { return load_; }
  void reset_load();
  // Each expert's share of the tokens routed in `load` ([E]), as metrics named
  // moe/load/l<i>/e<e> for the i-th MoE layer (what `r1 serve` draws as a heat map).
  static void add_load_shares(int64_t moe_index, const torch::Tensor& load, std::map<std::string, double>& metrics) {
    const double total = load.sum().item<double>();
    if (total <= 0) return;
    auto share = (load / total).to(torch::kCPU, torch::kFloat64).contiguous();
    const double* v = share.data_ptr<double>();
    for (int64_t e = 0; e < share.numel(); ++e)
      metrics["moe/load/l" + std::to_string(moe_index) + "/e" + std::to_string(e)] = v[e];
  }
  // bias += speed * sign(mean_load - load): underloaded experts become likelier to be chosen.
  void update_bias(double speed);

  MoeGate gate{nullptr};
  torch::nn::ModuleList experts{nullptr};
  Mlp shared_experts{nullptr};

 private:
  std::vector<Mlp> expert_list_;
  torch::Tensor load_;  // [E] float64 (not a buffer: not part of the checkpoint)
  torch::Tensor count_, replay_, last_experts_;
  bool record_ = false;
  LoadCounting counting_ = LoadCounting::automatic;
};
TORCH_MODULE(Moe);


}  // namespace r1::policy
