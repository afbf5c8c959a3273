// The scheduler: admission (prefill or prefix copy), batched decode steps, finishing and slot
// compaction.
#include "rollout/engine.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <random>

#include "policy/unicode_text.h"
#include "rollout/sampler.h"

namespace r1::rollout {

const char* to_string(FinishReason r) {
  switch (r) {
    case FinishReason::eos: return "eos";
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::prompt_too_long: return "prompt_too_long";
  }
  return "?";
}

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

struct Seq {
  int64_t request = 0, sample = 0;
  std::mt19937_64 rng;
  Completion out;
  std::string bytes;        // completion bytes so far
  size_t text_end = std::string::npos;  // cut point when a stop string matched
  int64_t len = 0;          // entries in this sequence's cache slot
  int32_t pending = 0;      // last sampled token, not yet in the cache
  bool done = false;
  double uniform() { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
};

struct Prefix {
  std::vector<policy::LayerKv> kv;  // [1, P, ...] per layer
  torch::Tensor logits;             // [1, V] at the last prompt position
  int64_t remaining = 0;            // samples still to admit
};

RowSampling row_params(const SamplingParams& p) { return {p.temperature, p.top_k, p.top_p, p.min_p}; }

}  // namespace

Engine::Engine(policy::CausalLM model, EngineConfig config, std::vector<int32_t> eos_ids, TokenBytes token_bytes)
    : model_(std::move(model)), config_(config), eos_(std::move(eos_ids)), token_bytes_(std::move(token_bytes)) {}

void Engine::ensure_cache(int64_t slots, int64_t slot_len) {
  // One extra slot at the end is where prompts are prefilled before their prefix is shared.
  if (slots <= slots_ && slot_len <= slot_len_ && !cache_.empty()) return;
  slots = std::max(slots, slots_);
  slot_len = std::max(slot_len, slot_len_);
  const auto& c = model_->config();
  auto p = model_->parameters().front();
  auto opts = torch::TensorOptions().dtype(p.scalar_type()).device(p.device());
  cache_.clear();
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    if (c.mla())
      cache_.push_back({torch::zeros({slots + 1, slot_len, c.kv_lora_rank}, opts), torch::zeros({slots + 1, slot_len, c.qk_rope_head_dim}, opts)});
    else
      cache_.push_back({torch::zeros({slots + 1, slot_len, c.num_key_value_heads, c.gqa_head_dim()}, opts),
                        torch::zeros({slots + 1, slot_len, c.num_key_value_heads, c.gqa_head_dim()}, opts)});
  }
  slots_ = slots;
  slot_len_ = slot_len;
}

void Engine::load_weights(policy::CausalLM& source) {
  torch::NoGradGuard ng;
  if (source.get() != model_.get()) {
    auto dst = model_->state();
    for (auto& [name, t] : source->state()) dst.at(name).copy_(t);
  }
  ++weight_version_;
}

std::vector<Completion> Engine::generate(const std::vector<Request>& requests, const OnToken& on_token) {
  torch::NoGradGuard no_grad;
  const auto& cfg = model_->config();
  auto device = model_->parameters().front().device();
  const int64_t max_context = config_.max_context > 0 ? config_.max_context : cfg.max_position_embeddings;

  // Slot length: what the longest sequence needs, within the context and the token budget.
  int64_t need = 1, total = 0;
  for (const auto& r : requests) {
    need = std::max<int64_t>(need, static_cast<int64_t>(r.prompt.size()) + r.params.max_new_tokens);
    total += r.n;
  }
  int64_t slot_len = std::min(need, max_context);
  int64_t slots = std::max<int64_t>(1, std::min(config_.max_batch_seqs, total));
  if (config_.max_batch_tokens > 0) {
    slot_len = std::min(slot_len, config_.max_batch_tokens);
    slots = std::max<int64_t>(1, std::min(slots, config_.max_batch_tokens / slot_len));
  }
  ensure_cache(slots, slot_len);
  slot_len = slot_len_;
  const int64_t prefill_slot = slots_;  // the reserved extra slot

  std::vector<Completion> results;
  std::vector<size_t> first_of(requests.size());
  for (size_t r = 0; r < requests.size(); ++r) {
    first_of[r] = results.size();
    for (int64_t j = 0; j < requests[r].n; ++j) {
      Completion c;
      c.request = static_cast<int64_t>(r);
      c.sample = j;
      c.prompt_tokens = static_cast<int64_t>(requests[r].prompt.size());
      c.weight_version = weight_version_;
      results.push_back(std::move(c));
    }
  }
  std::deque<std::pair<int64_t, int64_t>> queue;
  for (size_t r = 0; r < requests.size(); ++r)
    for (int64_t j = 0; j < requests[r].n; ++j) queue.emplace_back(static_cast<int64_t>(r), j);

  std::map<int64_t, Prefix> prefixes;
  std::vector<Seq> active;

  auto long_ids = torch::TensorOptions().dtype(torch::kLong).device(device);
  // Runs the prompt into `slot` from position 0; returns the last position's logits [1, V].
  auto prefill = [&](const std::vector<int32_t>& prompt, int64_t slot) {
    double t0 = now_s();
    std::vector<int64_t> ids(prompt.begin(), prompt.end());
    auto x = torch::tensor(ids, torch::kLong).to(device).unsqueeze(0);
    policy::CacheBatch cb;
    cb.layers = &cache_;
    cb.slots = torch::tensor({slot}, long_ids);
    cb.lengths = torch::zeros({1}, long_ids);
    cb.span = static_cast<int64_t>(prompt.size());
    cb.absorb = config_.absorb;
    auto h = model_->hidden(x, {}, &cb);
    auto logits = model_->logits(h.select(1, h.size(1) - 1)).to(torch::kFloat32);
    stats_.prefill_tokens += static_cast<int64_t>(prompt.size());
    ++stats_.prefills;
    stats_.prefill_s += now_s() - t0;
    return logits;
  };
  auto copy_slot = [&](int64_t from, int64_t to, int64_t n) {
    if (from == to || n == 0) return;
    for (auto& l : cache_) {
      l.a[to].narrow(0, 0, n).copy_(l.a[from].narrow(0, 0, n));
      l.b[to].narrow(0, 0, n).copy_(l.b[from].narrow(0, 0, n));
    }
  };
  // Records token t for a sequence and decides whether it is finished.
  auto accept = [&](Seq& s, int32_t t, float slp, float plp) {
    const SamplingParams& p = requests[s.request].params;
    s.out.tokens.push_back(t);
    s.out.sampling_logprobs.push_back(slp);
    s.out.policy_logprobs.push_back(plp);
    s.pending = t;
    if (on_token) on_token(s.request, s.sample, t);
    if (std::find(eos_.begin(), eos_.end(), t) != eos_.end()) {
      s.out.finish = FinishReason::eos;
      s.done = true;
      return;
    }
    const std::string& tb = token_bytes_(t);
    size_t before = s.bytes.size();
    s.bytes += tb;
    if (std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), t) != p.stop_token_ids.end()) {
      s.out.finish = FinishReason::stop;
      s.done = true;
      return;
    }
    for (const auto& stop : p.stop_strings) {
      if (stop.empty()) continue;
      // Only a match that ends inside the new token is new (earlier text was checked before).
      size_t from = before >= stop.size() ? before - stop.size() + 1 : 0;
      size_t at = s.bytes.find(stop, from);
      if (at != std::string::npos) {
        s.text_end = p.include_stop ? at + stop.size() : at;
        s.out.finish = FinishReason::stop;
        s.done = true;
        return;
      }
    }
    // prompt + completion never exceeds the slot (the last token needs no cache entry).
    if (static_cast<int64_t>(s.out.tokens.size()) >= p.max_new_tokens || s.len + 1 >= slot_len) {
      s.out.finish = FinishReason::length;
      s.done = true;
    }
  };
  auto finish = [&](Seq& s) {
    Completion& c = results[first_of[s.request] + s.sample];
    std::string text = s.text_end == std::string::npos ? s.bytes : s.bytes.substr(0, s.text_end);
    s.out.text = policy::utf8_lossy(text);
    s.out.completion_tokens = static_cast<int64_t>(s.out.tokens.size());
    s.out.request = c.request;
    s.out.sample = c.sample;
    s.out.prompt_tokens = c.prompt_tokens;
    s.out.weight_version = c.weight_version;
    c = std::move(s.out);
  };

  while (true) {
    // 1. Admission: fill free slots (static batching waits until the batch has drained).
    if (config_.continuous || active.empty()) {
      while (static_cast<int64_t>(active.size()) < slots_ && !queue.empty()) {
        auto [r, j] = queue.front();
        queue.pop_front();
        const Request& req = requests[r];
        const int64_t P = static_cast<int64_t>(req.prompt.size());
        if (P == 0 || P + 1 > slot_len) {
          results[first_of[r] + j].finish = FinishReason::prompt_too_long;
          continue;
        }
        Seq s;
        s.request = r;
        s.sample = j;
        s.rng.seed(splitmix64(req.params.seed ^ splitmix64(static_cast<uint64_t>(j) + 1)));
        s.out.prompt_tokens = P;
        const int64_t slot = static_cast<int64_t>(active.size());
        torch::Tensor logits;
        if (config_.prefix_sharing) {
          auto it = prefixes.find(r);
          if (it == prefixes.end()) {
            Prefix px;
            px.logits = prefill(req.prompt, prefill_slot);
            for (auto& l : cache_)
              px.kv.push_back({l.a.narrow(0, prefill_slot, 1).narrow(1, 0, P).clone(), l.b.narrow(0, prefill_slot, 1).narrow(1, 0, P).clone()});
            px.remaining = req.n;
            it = prefixes.emplace(r, std::move(px)).first;
          }
          for (size_t l = 0; l < cache_.size(); ++l) {
            cache_[l].a[slot].narrow(0, 0, P).copy_(it->second.kv[l].a[0]);
            cache_[l].b[slot].narrow(0, 0, P).copy_(it->second.kv[l].b[0]);
          }
          logits = it->second.logits;
          if (--it->second.remaining == 0) prefixes.erase(it);
        } else {
          logits = prefill(req.prompt, slot);
        }
        s.len = P;
        SampleResult sr = sample_tokens(logits, {row_params(req.params)}, {s.uniform()});
        accept(s, static_cast<int32_t>(sr.tokens[0].item<int64_t>()), sr.sampling_logprobs[0].item<float>(),
               sr.policy_logprobs[0].item<float>());
        if (s.done) finish(s);
        else active.push_back(std::move(s));
      }
    }
    if (active.empty()) {
      if (queue.empty()) break;
      continue;
    }

    // 2. One decode step for every live sequence (slots 0..B-1).
    double t0 = now_s();
    const int64_t B = static_cast<int64_t>(active.size());
    std::vector<int64_t> ids(B), lens(B);
    std::vector<RowSampling> rows(B);
    std::vector<double> us(B);
    int64_t span = 0;
    for (int64_t b = 0; b < B; ++b) {
      ids[b] = active[b].pending;
      lens[b] = active[b].len;
      span = std::max(span, active[b].len + 1);
      rows[b] = row_params(requests[active[b].request].params);
      us[b] = active[b].uniform();
    }
    policy::CacheBatch cb;
    cb.layers = &cache_;
    cb.slots = torch::arange(B, long_ids);
    cb.lengths = torch::tensor(lens, torch::kLong).to(device);
    cb.span = span;
    cb.contiguous = true;
    cb.absorb = config_.absorb;
    auto x = torch::tensor(ids, torch::kLong).to(device).unsqueeze(1);  // [B, 1]
    auto logits = model_->forward(x, {}, &cb).select(1, 0);             // [B, V]
    SampleResult sr = sample_tokens(logits, rows, us);
    auto tok = sr.tokens.to(torch::kCPU);
    auto slp = sr.sampling_logprobs.to(torch::kCPU);
    auto plp = sr.policy_logprobs.to(torch::kCPU);
    auto tok_a = tok.accessor<int64_t, 1>();
    auto slp_a = slp.accessor<float, 1>();
    auto plp_a = plp.accessor<float, 1>();
    for (int64_t b = 0; b < B; ++b) {
      active[b].len += 1;
      accept(active[b], static_cast<int32_t>(tok_a[b]), slp_a[b], plp_a[b]);
    }
    stats_.decode_tokens += B;
    ++stats_.decode_steps;

    // 3. Finished sequences leave; the last live one moves into the hole (slots stay 0..B-1).
    for (int64_t b = 0; b < static_cast<int64_t>(active.size());) {
      if (!active[b].done) {
        ++b;
        continue;
      }
      finish(active[b]);
      int64_t last = static_cast<int64_t>(active.size()) - 1;
      if (b != last) {
        copy_slot(last, b, active[last].len);
        active[b] = std::move(active[last]);
      }
      active.pop_back();
    }
    stats_.decode_s += now_s() - t0;
  }
  return results;
}

}  // namespace r1::rollout
