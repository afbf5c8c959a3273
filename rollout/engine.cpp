// The scheduler: admission (prefill or prefix copy), batched decode steps, finishing and slot
// compaction.
#include "rollout/engine.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <random>

#include "text/unicode_text.h"
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
  std::vector<torch::Tensor> routes;  // per decode step: [moe layers, k] experts of the input token
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
  if (slots <= slots_ && slot_len <= slot_len_ && !cache_.empty()) return;
  slots = std::max(slots, slots_);
  slot_len = std::max(slot_len, slot_len_);
  const auto& c = model_->config();
  auto p = model_->parameters().front();
  auto opts = torch::TensorOptions().dtype(p.scalar_type()).device(p.device());
  cache_.clear();
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    if (c.mla())
      cache_.push_back({torch::zeros({slots, slot_len, c.kv_lora_rank}, opts), torch::zeros({slots, slot_len, c.qk_rope_head_dim}, opts)});
    else
      cache_.push_back({torch::zeros({slots, slot_len, c.num_key_value_heads, c.gqa_head_dim()}, opts),
                        torch::zeros({slots, slot_len, c.num_key_value_heads, c.gqa_head_dim()}, opts)});
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

  std::map<int64_t, Prefix> prefixes;  // prompts prefilled earlier whose samples still wait for a slot
  std::vector<Seq> active;
  // Routing record: each prompt's positions (from its prefill), per request.
  const bool record = config_.record_routing && !model_->moe_layers().empty();
  std::map<int64_t, torch::Tensor> prompt_routes;
  struct RecordGuard {
    policy::CausalLM& m;
    RecordGuard(policy::CausalLM& model, bool on) : m(model) { m->set_record_routing(on); }
    ~RecordGuard() { m->set_record_routing(false); }
  } record_guard(model_, record);

  auto long_ids = torch::TensorOptions().dtype(torch::kLong).device(device);
  // Prefills several prompts in one forward (right-padded), each into its own slot; returns the
  // logits at each prompt's last position, [k, V].
  auto prefill = [&](const std::vector<const std::vector<int32_t>*>& prompts, const std::vector<int64_t>& slots) {
    double t0 = now_s();
    const int64_t k = static_cast<int64_t>(prompts.size());
    int64_t longest = 0;
    for (auto* p : prompts) longest = std::max<int64_t>(longest, static_cast<int64_t>(p->size()));
    std::vector<int64_t> ids(k * longest, 0), last(k);
    for (int64_t i = 0; i < k; ++i) {
      std::copy(prompts[i]->begin(), prompts[i]->end(), ids.begin() + i * longest);
      last[i] = static_cast<int64_t>(prompts[i]->size()) - 1;
      stats_.prefill_tokens += static_cast<int64_t>(prompts[i]->size());
    }
    auto x = torch::tensor(ids, torch::kLong).view({k, longest}).to(device);
    policy::CacheBatch cb;
    cb.layers = &cache_;
    cb.slots = torch::tensor(slots, torch::kLong).to(device);
    cb.lengths = torch::zeros({k}, long_ids);
    cb.span = longest;
    cb.absorb = config_.absorb;
    // Padding positions write cache entries past each prompt; decoding overwrites them before
    // anything attends to them.
    auto h = model_->hidden(x, {}, &cb);                                       // [k, longest, hidden]
    auto idx = torch::tensor(last, torch::kLong).to(device).view({k, 1, 1}).expand({k, 1, h.size(2)});
    auto logits = model_->logits(h.gather(1, idx).squeeze(1)).to(torch::kFloat32);  // [k, V]
    stats_.prefills += k;
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
    s.out.text = text::utf8_lossy(text);
    s.out.completion_tokens = static_cast<int64_t>(s.out.tokens.size());
    s.out.request = c.request;
    s.out.sample = c.sample;
    s.out.prompt_tokens = c.prompt_tokens;
    s.out.weight_version = c.weight_version;
    if (record) {
      auto& pr = prompt_routes.at(s.request);
      s.out.routing = s.routes.empty() ? pr.clone() : torch::cat({pr, torch::stack(s.routes, 0)}, 0);
    }
    c = std::move(s.out);
  };

  // Finished sequences leave; the last live one moves into the hole (slots stay 0..B-1). Padded
  // static batches keep them until every sequence of the batch is done.
  const bool padded = config_.batching == Batching::static_pad;
  auto remove_finished = [&] {
    if (padded && std::any_of(active.begin(), active.end(), [](const Seq& s) { return !s.done; })) return;
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
  };
  // Prefill budget per forward: prompts are batched up to this many (padded) tokens.
  const int64_t prefill_budget = std::max<int64_t>(4096, slot_len);

  while (true) {
    // 1. Admission: fill free slots (static batching waits until the batch has drained). The
    //    prompts of all new sequences are prefilled together; with prefix sharing a prompt is
    //    prefilled once, in its first sample's slot, and copied to the others.
    if (config_.batching == Batching::continuous || active.empty()) {
      const int64_t first_new = static_cast<int64_t>(active.size());
      std::vector<int64_t> carrier_of;  // per new sequence: index (among new) of the one whose prefill it reuses; -1 = stored prefix
      std::vector<int64_t> carriers;    // new sequences that prefill
      std::map<int64_t, int64_t> carrier_for_request;
      while (static_cast<int64_t>(active.size()) < slots_ && !queue.empty()) {
        auto [r, j] = queue.front();
        const Request& req = requests[r];
        const int64_t P = static_cast<int64_t>(req.prompt.size());
        if (P == 0 || P + 1 > slot_len) {
          queue.pop_front();
          results[first_of[r] + j].finish = FinishReason::prompt_too_long;
          continue;
        }
        const bool stored = config_.prefix_sharing && prefixes.count(r);
        const bool joins = config_.prefix_sharing && carrier_for_request.count(r);
        if (!stored && !joins) {
          int64_t longest = P;
          for (int64_t c : carriers) longest = std::max<int64_t>(longest, active[first_new + c].len);
          if (!carriers.empty() && longest * static_cast<int64_t>(carriers.size() + 1) > prefill_budget) break;  // next round
        }
        queue.pop_front();
        Seq s;
        s.request = r;
        s.sample = j;
        s.rng.seed(splitmix64(req.params.seed ^ splitmix64(static_cast<uint64_t>(j) + 1)));
        s.out.prompt_tokens = P;
        s.len = P;
        const int64_t idx = static_cast<int64_t>(active.size()) - first_new;
        if (stored) {
          Prefix& px = prefixes[r];
          for (size_t l = 0; l < cache_.size(); ++l) {
            cache_[l].a[first_new + idx].narrow(0, 0, P).copy_(px.kv[l].a[0]);
            cache_[l].b[first_new + idx].narrow(0, 0, P).copy_(px.kv[l].b[0]);
          }
          carrier_of.push_back(-1);
        } else if (joins) {
          carrier_of.push_back(carrier_for_request[r]);
        } else {
          carrier_of.push_back(idx);
          carriers.push_back(idx);
          if (config_.prefix_sharing) carrier_for_request[r] = idx;
        }
        active.push_back(std::move(s));
      }
      const int64_t added = static_cast<int64_t>(active.size()) - first_new;
      if (added > 0) {
        torch::Tensor carrier_logits;
        std::map<int64_t, int64_t> row_of_carrier;
        if (!carriers.empty()) {
          std::vector<const std::vector<int32_t>*> prompts;
          std::vector<int64_t> slot_ids;
          for (size_t c = 0; c < carriers.size(); ++c) {
            prompts.push_back(&requests[active[first_new + carriers[c]].request].prompt);
            slot_ids.push_back(first_new + carriers[c]);
            row_of_carrier[carriers[c]] = static_cast<int64_t>(c);
          }
          carrier_logits = prefill(prompts, slot_ids);
          if (record) {
            int64_t longest = 0;
            for (auto* p : prompts) longest = std::max<int64_t>(longest, static_cast<int64_t>(p->size()));
            auto rt = model_->last_routing().to(torch::kCPU, torch::kShort);
            rt = rt.view({static_cast<int64_t>(prompts.size()), longest, rt.size(1), rt.size(2)});
            for (size_t c = 0; c < carriers.size(); ++c) {
              const int64_t r = active[first_new + carriers[c]].request;
              if (!prompt_routes.count(r)) prompt_routes[r] = rt[static_cast<int64_t>(c)].narrow(0, 0, static_cast<int64_t>(prompts[c]->size())).clone();
            }
          }
        }
        std::vector<torch::Tensor> rows_logits;
        std::vector<RowSampling> rows;
        std::vector<double> us;
        for (int64_t i = 0; i < added; ++i) {
          Seq& s = active[first_new + i];
          const int64_t c = carrier_of[i];
          if (c < 0) {
            rows_logits.push_back(prefixes[s.request].logits);
            if (--prefixes[s.request].remaining == 0) prefixes.erase(s.request);
          } else {
            if (c != i) copy_slot(first_new + c, first_new + i, s.len);
            rows_logits.push_back(carrier_logits.narrow(0, row_of_carrier[c], 1));
          }
          rows.push_back(row_params(requests[s.request].params));
          us.push_back(s.uniform());
        }
        // Samples of a prefilled prompt that did not get a slot this round keep its prefix.
        if (config_.prefix_sharing) {
          for (auto [r, c] : carrier_for_request) {
            int64_t admitted = 0;
            for (int64_t i = 0; i < added; ++i) admitted += active[first_new + i].request == r;
            int64_t waiting = requests[r].n - admitted;
            if (waiting <= 0) continue;
            Prefix px;
            const int64_t P = static_cast<int64_t>(requests[r].prompt.size());
            for (auto& l : cache_)
              px.kv.push_back({l.a.narrow(0, first_new + c, 1).narrow(1, 0, P).clone(), l.b.narrow(0, first_new + c, 1).narrow(1, 0, P).clone()});
            px.logits = carrier_logits.narrow(0, row_of_carrier[c], 1).clone();
            px.remaining = waiting;
            prefixes[r] = std::move(px);
          }
        }
        SampleResult sr = sample_tokens(torch::cat(rows_logits, 0), rows, us);
        auto tok = sr.tokens.to(torch::kCPU), slp = sr.sampling_logprobs.to(torch::kCPU), plp = sr.policy_logprobs.to(torch::kCPU);
        for (int64_t i = 0; i < added; ++i)
          accept(active[first_new + i], static_cast<int32_t>(tok[i].item<int64_t>()), slp[i].item<float>(), plp[i].item<float>());
        remove_finished();
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
    torch::Tensor step_routes = record ? model_->last_routing().to(torch::kCPU, torch::kShort) : torch::Tensor();  // [B, layers, k]
    int64_t live = 0;
    for (int64_t b = 0; b < B; ++b) {
      Seq& s = active[b];
      if (s.done) {  // padding of a static batch: its token is dropped, its cache stays inside the slot
        s.len = std::min(s.len + 1, slot_len - 1);
        continue;
      }
      s.len += 1;
      if (record) s.routes.push_back(step_routes[b]);
      ++live;
      accept(s, static_cast<int32_t>(tok_a[b]), slp_a[b], plp_a[b]);
    }
    stats_.decode_tokens += live;
    ++stats_.decode_steps;

    // 3. Finished sequences leave.
    remove_finished();
    stats_.decode_s += now_s() - t0;
  }
  return results;
}

}  // namespace r1::rollout
