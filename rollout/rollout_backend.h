// The training loop's view of rollout: completion groups for a batch of requests, and the
// learner's weights after each update. The loop talks only to this interface, so rollout workers
// in other processes or hosts (behind a remote service) add an implementation instead of
// changing the loop.
//
//   rollout::Engine engine(model, config, eos, token_bytes);
//   rollout::InProcessRollout rollout(engine);   // shares the learner's model
//   auto completions = rollout.generate(requests);
//   ...optimizer step on `model`...
//   rollout.sync_weights(model);                  // in process: only the version moves
#pragma once

#include <vector>

#include "rollout/engine.h"

namespace r1::rollout {

class RolloutBackend {
 public:
  virtual ~RolloutBackend() = default;
  // Every completion of every request, ordered by (request, sample).
  virtual std::vector<Completion> generate(const std::vector<Request>& requests) = 0;
  // The learner finished an update of `learner`: later completions must come from it.
  virtual void sync_weights(policy::CausalLM& learner) = 0;
  // Which weights produced the completions (advanced by sync_weights; restored on resume).
  virtual int64_t weight_version() const = 0;
  virtual void set_weight_version(int64_t version) = 0;
};

// The engine in the learner's process. When it decodes with the learner's own module the weights
// are already current; otherwise they are copied in place (the KV cache is not reallocated).
class InProcessRollout final : public RolloutBackend {
 public:
  explicit InProcessRollout(Engine& engine) : engine_(engine) {}
  std::vector<Completion> generate(const std::vector<Request>& requests) override { return engine_.generate(requests); }
  void sync_weights(policy::CausalLM& learner) override { engine_.load_weights(learner); }
  int64_t weight_version() const override { return engine_.weight_version(); }
  void set_weight_version(int64_t version) override { engine_.set_weight_version(version); }

 private:
  Engine& engine_;
};

}  // namespace r1::rollout
