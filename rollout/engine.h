// The rollout engine: prompts (token ids) in, groups of sampled completions out, as fast as the
// hardware allows. It speaks token ids; text only enters through a token-bytes callback used for
// stop strings and the returned text.
//
//   Engine engine(model, {.max_batch_seqs = 64}, tok.eos_id(), [&](int32_t id) { return tok.token_bytes(id); });
//   auto completions = engine.generate({{.prompt = ids, .n = 16, .params = {.temperature = 1.0, .seed = 7}}});
//
// How: a preallocated slot cache (per layer; MLA stores the compressed latent + rope key and
// attends in the absorbed form, GQA stores K/V). Each prompt is prefilled once; its cached prefix is
// copied into the slots of its n samples. All live sequences decode together; a finished one frees
// its slot for a waiting one at once (continuous batching), and active slots are kept compact so
// attention reads the cache through views. Each sequence samples from its own seeded generator:
// the same requests and seeds give the same completions, whatever the batch composition.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "policy/transformer.h"

namespace r1::rollout {

struct SamplingParams {
  double temperature = 1.0;              // 0 = greedy
  double top_p = 1.0;
  int64_t top_k = 0;
  double min_p = 0.0;
  int64_t max_new_tokens = 256;
  std::vector<int32_t> stop_token_ids;   // finish reason "stop" (the token is kept)
  std::vector<std::string> stop_strings; // matched on the decoded tail
  bool include_stop = true;              // keep a matched stop string in the text
  uint64_t seed = 0;
};

struct Request {
  std::vector<int32_t> prompt;
  int64_t n = 1;
  SamplingParams params;
};

enum class FinishReason { eos, stop, length, prompt_too_long };
const char* to_string(FinishReason r);

struct Completion {
  int64_t request = 0, sample = 0;          // indices into the request list / its n samples
  std::vector<int32_t> tokens;              // EOS and stop tokens included
  std::vector<float> sampling_logprobs;     // under the filtered distribution that sampled them
  std::vector<float> policy_logprobs;       // under the plain policy (temperature 1): GRPO's old log-probs
  std::string text;                         // decoded completion (stop string cut if !include_stop)
  FinishReason finish = FinishReason::length;
  int64_t prompt_tokens = 0, completion_tokens = 0;
  int64_t weight_version = 0;               // weights it was started with (its first token's)
  std::vector<int64_t> token_versions;      // per token: the weights that produced it (newer than
                                            // weight_version after an in-flight update)
  // With EngineConfig::record_routing on an MoE model: the experts every input position was routed
  // to, [prompt + completion - 1, moe layers, k] int16 on the CPU (prompt positions from the
  // prefill, then one per decode step): what the learner replays (rl.routing_replay).
  torch::Tensor routing;
};

// How freed slots are used. Only `continuous` is for real work; the static modes are the
// baselines bench_rollout measures it against.
enum class Batching {
  continuous,   // a finished sequence frees its slot and a waiting one takes it at once
  static_pad,   // static batches as Hugging Face generate() runs them: a finished row keeps its place,
                // decoding padding, until the batch's longest sequence ends; then the next batch starts
  static_drop,  // static batches whose finished rows leave the step (no refill until the batch drains)
};

struct EngineConfig {
  int64_t max_batch_seqs = 64;     // sequences decoded together (cache slots)
  int64_t max_batch_tokens = 0;    // KV-cache budget in tokens over all slots; 0 = slots x longest need
  int64_t max_context = 0;         // prompt + completion cap; 0 = the model's max_position_embeddings
  bool prefix_sharing = true;      // prefill each prompt once for its n samples
  Batching batching = Batching::continuous;
  bool absorb = true;              // MLA: attend in the latent space
  bool record_routing = false;     // MoE: record each position's experts in Completion::routing
};

struct EngineStats {
  int64_t prefill_tokens = 0, decode_tokens = 0, decode_steps = 0, prefills = 0;
  double prefill_s = 0, decode_s = 0;
};

class Generation;

class Engine {
 public:
  using TokenBytes = std::function<const std::string&(int32_t)>;
  // Called for every new token of a completion (request, sample, token id), e.g. for streaming.
  using OnToken = std::function<void(int64_t, int64_t, int32_t)>;

  Engine(policy::CausalLM model, EngineConfig config, std::vector<int32_t> eos_ids, TokenBytes token_bytes);

  // Every completion of every request, ordered by (request, sample). Never throws for a prompt
  // that is too long (its completions finish with prompt_too_long).
  std::vector<Completion> generate(const std::vector<Request>& requests, const OnToken& on_token = {});

  // Called before every decode step of generate(). A rollout worker applies weights that arrived
  // meanwhile there (an in-flight update: the sequences go on with the new weights and their
  // cache as it stands, and later tokens record the new version). Empty: nothing is called.
  void set_between_steps(std::function<void()> hook) { between_steps_ = std::move(hook); }

  // New weights from the learner, copied in place (cache and buffers are not reallocated).
  void load_weights(policy::CausalLM& source);
  // Same-process learner sharing this engine's model: only the version changes.
  void bump_weight_version() { ++weight_version_; }
  int64_t weight_version() const { return weight_version_; }
  void set_weight_version(int64_t v) { weight_version_ = v; }

  const EngineStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }
  policy::CausalLM& model() { return model_; }
  int64_t cache_slots() const { return slots_; }
  int64_t cache_slot_len() const { return slot_len_; }

 private:
  friend class Generation;  // one generate() call's scheduler
  void ensure_cache(int64_t slots, int64_t slot_len);

  policy::CausalLM model_;
  EngineConfig config_;
  std::vector<int32_t> eos_;
  TokenBytes token_bytes_;
  int64_t weight_version_ = 0;
  std::function<void()> between_steps_;
  EngineStats stats_;
  std::vector<policy::LayerKv> cache_;
  int64_t slots_ = 0, slot_len_ = 0;
};

}  // namespace r1::rollout
