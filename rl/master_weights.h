// fp32 master weights for a model that computes in bf16 or fp16. AdamW applied to bf16 tensors in
// place rounds every update smaller than half an ulp away: at lr 1e-6 every weight with
// |w| > ~2.6e-4 never moves, and a run silently learns nothing. So the optimizer owns fp32 copies
// (and its state is fp32); after backward the model's gradients are widened into them, and after
// the step the masters are rounded down into the model, which keeps computing in its own dtype.
// For an fp32 model the masters are the model's own parameters: nothing is copied.
//
//   MasterWeights mw(model);
//   torch::optim::AdamW opt(mw.params(), ...);
//   mw.zero_grad(); loss.backward(); double norm = mw.gather_grads_and_clip(1.0); opt.step(); mw.copy_down();
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "policy/transformer.h"

namespace r1::rl {

class MasterWeights {
 public:
  explicit MasterWeights(policy::CausalLM& model);

  bool active() const { return active_; }            // some parameter is not fp32
  std::vector<torch::Tensor>& params() { return masters_; }  // what the optimizer updates
  void zero_grad();
  // Widens the model's gradients into the masters, clips their global norm (0 = no clip) and
  // returns the norm before clipping.
  double gather_grads_and_clip(double max_norm);
  void copy_down();                                  // masters -> model, after optimizer.step()

  // Checkpoints: the masters by parameter name (empty when not active), and back.
  std::map<std::string, torch::Tensor> state() const;
  void load(const std::map<std::string, torch::Tensor>& state, const std::string& source);

 private:
  std::vector<std::string> names_;
  std::vector<torch::Tensor> model_params_, masters_;
  bool active_ = false;
};

}  // namespace r1::rl
