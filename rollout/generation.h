// One Engine::generate() call as a scheduler: a queue of (request, sample) waiting for a cache
// slot, the live sequences in slots 0..B-1, and prompts prefilled earlier whose samples still
// wait. run() loops admit -> decode step -> retire until every sample is done. Internal to rollout/.
#pragma once

#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "rollout/engine.h"
#include "rollout/sampler.h"

namespace r1::rollout {

class Generation {
 public:
  Generation(Engine& engine, const std::vector<Request>& requests, const Engine::OnToken& on_token);
  std::vector<Completion> run();

 private:
  struct Seq {
    int64_t request = 0, sample = 0;
    RowSampling sampling;     // the request's SamplingParams as the sampler reads them
    std::mt19937_64 rng;
    Completion out;
    std::string bytes;        // completion bytes so far
    size_t text_end = std::string::npos;  // cut point when a stop string matched
    int64_t len = 0;          // entries in this sequence's cache slot
    int32_t pending = 0;      // last sampled token, not yet in the cache
    bool done = false;
    std::vector<torch::Tensor> routes;  // per decode step: [moe layers, k] experts of the input token
    double uniform() { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
  };
  struct Prefix {
    std::vector<policy::LayerKv> kv;  // [1, P, ...] per layer
    torch::Tensor logits;             // [1, V] at the last prompt position
    int64_t remaining = 0;            // samples still to admit
  };
  // The new sequences of one admission round and whose prefill each one reuses.
  struct Admission {
    int64_t first_new = 0;
    std::vector<int64_t> carrier_of;  // per new sequence: index (among new) of its prefill; -1 = stored prefix
    std::vector<int64_t> carriers;    // new sequences that prefill
    std::map<int64_t, int64_t> carrier_for_request;
  };

  void size_cache();
  void admit();
  Admission take_from_queue();
  torch::Tensor prefill_carriers(const Admission& a, std::map<int64_t, int64_t>& row_of_carrier);
  void keep_waiting_prefixes(const Admission& a, const torch::Tensor& carrier_logits, const std::map<int64_t, int64_t>& row_of_carrier);
  void record_prompt_routes(const Admission& a, const std::vector<const std::vector<int32_t>*>& prompts);
  void decode_step();
  void retire_finished();

  // Prefills several prompts in one forward (right-padded), each into its own slot; returns the
  // logits at each prompt's last position, [k, V].
  torch::Tensor prefill(const std::vector<const std::vector<int32_t>*>& prompts, const std::vector<int64_t>& slots);
  void copy_slot(int64_t from, int64_t to, int64_t n);
  void accept(Seq& s, int32_t token, float sampling_logprob, float policy_logprob);  // and decide if it is finished
  void finish(Seq& s);

  Engine& e_;
  const std::vector<Request>& requests_;
  const Engine::OnToken& on_token_;
  torch::Device device_ = torch::kCPU;
  int64_t slot_len_ = 0, prefill_budget_ = 0;
  bool record_ = false;
  std::vector<Completion> results_;
  std::vector<size_t> first_of_;                        // index of each request's first completion
  std::deque<std::pair<int64_t, int64_t>> queue_;       // (request, sample) waiting for a slot
  std::map<int64_t, Prefix> prefixes_;                  // prompts prefilled earlier whose samples still wait
  std::map<int64_t, torch::Tensor> prompt_routes_;      // routing record of each prompt's positions
  std::vector<Seq> active_;                             // live sequences, in slots 0..B-1
};

}  // namespace r1::rollout
