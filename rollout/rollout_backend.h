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

#include <map>
#include <stdexcept>
#include <vector>

#include "rollout/engine.h"

namespace r1::rollout {

class RolloutBackend {
 public:
  virtual ~RolloutBackend() = default;
  // Every completion of every request, ordered by (request, sample).
  virtual std::vector<Completion> generate(const std::vector<Request>& requests) = 0;
  // The same in two halves, so the learner can train while a batch is sampled (asynchronous
  // GRPO): submit() hands the requests over and returns at once; collect() waits for them. A
  // backend that cannot sample in the background (the in-process engine shares the learner's
  // threads) samples in collect(), which makes it the synchronous loop again. `urgent`: the
  // learner waits for these now (a step's extra round), so they go before batches sampled ahead.
  virtual int64_t submit(const std::vector<Request>& requests, bool urgent = false) {
    (void)urgent;
    submitted_[next_ticket_] = requests;
    return next_ticket_++;
  }
  virtual std::vector<Completion> collect(int64_t ticket) {
    auto it = submitted_.find(ticket);
    if (it == submitted_.end()) throw std::logic_error("rollout: collect() of a ticket that was not submitted");
    const std::vector<Request> requests = std::move(it->second);
    submitted_.erase(it);
    return generate(requests);
  }
  // Completions kept across a restart (a checkpoint of asynchronous GRPO), by request index.
  using Received = std::map<size_t, std::vector<Completion>>;
  // What has arrived of a submitted, not yet collected call; with `wait`, once all of it has.
  // A backend that samples in collect() has nothing in flight.
  virtual Received received(int64_t ticket, bool wait) {
    (void)ticket;
    (void)wait;
    return {};
  }
  // submit() with some requests' completions already at hand: only the others are sampled.
  virtual int64_t submit_with(const std::vector<Request>& requests, Received done) {
    (void)done;
    return submit(requests);
  }
  // The learner finished an update of `learner`: later completions must come from it.
  virtual void sync_weights(policy::CausalLM& learner) = 0;
  // Which weights produced the completions (advanced by sync_weights; restored on resume).
  virtual int64_t weight_version() const = 0;
  virtual void set_weight_version(int64_t version) = 0;

 private:
  std::map<int64_t, std::vector<Request>> submitted_;
  int64_t next_ticket_ = 1;
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
