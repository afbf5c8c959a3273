// The scheduler of one generate() call: admission (prefill or prefix copy), batched decode steps,
// finishing and slot compaction.
#include "rollout/generation.h"

#include <algorithm>
#include <chrono>

#include "text/unicode_text.h"

namespace r1::rollout {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

RowSampling row_params(const SamplingParams& p) { return {p.temperature, p.top_k, p.top_p, p.min_p}; }

// Routing is recorded for the duration of one generate() call only.
struct RecordGuard {
  policy::CausalLM& m;
  RecordGuard(policy::CausalLM& model, bool on) : m(model) { m->set_record_routing(on); }
  ~RecordGuard() { m->set_record_routing(false); }
};

}  // namespace

Generation::Generation(Engine& engine, const std::vector<Request>& requests, const Engine::OnToken& on_token)
    : e_(engine), requests_(requests), on_token_(on_token) {
  device_ = e_.model_->parameters().front().device();
  record_ = e_.config_.record_routing && !e_.model_->moe_layers().empty();
  size_cache();
  for (size_t r = 0; r < requests_.size(); ++r) {
    first_of_.push_back(results_.size());
    for (int64_t j = 0; j < requests_[r].n; ++j) {
      Completion c;
      c.request = static_cast<int64_t>(r);
      c.sample = j;
      c.prompt_tokens = static_cast<int64_t>(requests_[r].prompt.size());
      c.weight_version = e_.weight_version_;
      results_.push_back(std::move(c));
      queue_.emplace_back(static_cast<int64_t>(r), j);
    }
  }
  // Prefill budget per forward: prompts are batched up to this many (padded) tokens.
  prefill_budget_ = std::max<int64_t>(4096, slot_len_);
}

// Slot length: what the longest sequence needs, within the context and the token budget.
void Generation::size_cache() {
  const auto& cfg = e_.model_->config();
  const int64_t max_context = e_.config_.max_context > 0 ? e_.config_.max_context : cfg.max_position_embeddings;
  int64_t need = 1, total = 0;
  for (const auto& r : requests_) {
    need = std::max<int64_t>(need, static_cast<int64_t>(r.prompt.size()) + r.params.max_new_tokens);
    total += r.n;
  }
  int64_t slot_len = std::min(need, max_context);
  int64_t slots = std::max<int64_t>(1, std::min(e_.config_.max_batch_seqs, total));
  if (e_.config_.max_batch_tokens > 0) {
    slot_len = std::min(slot_len, e_.config_.max_batch_tokens);
    slots = std::max<int64_t>(1, std::min(slots, e_.config_.max_batch_tokens / slot_len));
  }
  e_.ensure_cache(slots, slot_len);
  slot_len_ = e_.slot_len_;
}

std::vector<Completion> Generation::run() {
  torch::NoGradGuard no_grad;
  RecordGuard record_guard(e_.model_, record_);
  while (true) {
    // 1. Admission (static batching waits until the batch has drained).
    if (e_.config_.batching == Batching::continuous || active_.empty()) admit();
    if (active_.empty()) {
      if (queue_.empty()) break;
      continue;
    }
    // 2. One decode step for every live sequence (slots 0..B-1); 3. finished sequences leave.
    if (e_.between_steps_) e_.between_steps_();
    const double t0 = now_s();
    decode_step();
    retire_finished();
    e_.stats_.decode_s += now_s() - t0;
  }
  return std::move(results_);
}

// Moves queued samples into free slots. With prefix sharing a prompt is prefilled once, in its
// first sample's slot (its carrier), and copied to the others; a prompt prefilled in an earlier
// round is copied from its stored prefix.
Generation::Admission Generation::take_from_queue() {
  Admission a;
  a.first_new = static_cast<int64_t>(active_.size());
  const bool sharing = e_.config_.prefix_sharing;
  while (static_cast<int64_t>(active_.size()) < e_.slots_ && !queue_.empty()) {
    auto [r, j] = queue_.front();
    const Request& req = requests_[r];
    const int64_t P = static_cast<int64_t>(req.prompt.size());
    if (P == 0 || P + 1 > slot_len_) {
      queue_.pop_front();
      results_[first_of_[r] + j].finish = FinishReason::prompt_too_long;
      continue;
    }
    const bool stored = sharing && prefixes_.count(r);
    const bool joins = sharing && a.carrier_for_request.count(r);
    if (!stored && !joins) {
      int64_t longest = P;
      for (int64_t c : a.carriers) longest = std::max<int64_t>(longest, active_[a.first_new + c].len);
      if (!a.carriers.empty() && longest * static_cast<int64_t>(a.carriers.size() + 1) > prefill_budget_) break;  // next round
    }
    queue_.pop_front();
    Seq s;
    s.request = r;
    s.sample = j;
    s.sampling = row_params(req.params);
    s.rng.seed(splitmix64(req.params.seed ^ splitmix64(static_cast<uint64_t>(j) + 1)));
    s.out.prompt_tokens = P;
    s.len = P;
    const int64_t idx = static_cast<int64_t>(active_.size()) - a.first_new;
    if (stored) {
      Prefix& px = prefixes_[r];
      for (size_t l = 0; l < e_.cache_.size(); ++l) {
        e_.cache_[l].a[a.first_new + idx].narrow(0, 0, P).copy_(px.kv[l].a[0]);
        e_.cache_[l].b[a.first_new + idx].narrow(0, 0, P).copy_(px.kv[l].b[0]);
      }
      a.carrier_of.push_back(-1);
    } else if (joins) {
      a.carrier_of.push_back(a.carrier_for_request[r]);
    } else {
      a.carrier_of.push_back(idx);
      a.carriers.push_back(idx);
      if (sharing) a.carrier_for_request[r] = idx;
    }
    active_.push_back(std::move(s));
  }
  return a;
}

void Generation::admit() {
  Admission a = take_from_queue();
  const int64_t added = static_cast<int64_t>(active_.size()) - a.first_new;
  if (added == 0) return;
  std::map<int64_t, int64_t> row_of_carrier;
  torch::Tensor carrier_logits = prefill_carriers(a, row_of_carrier);
  // Each new sequence samples its first token from its prompt's last logits.
  std::vector<torch::Tensor> rows_logits;
  std::vector<RowSampling> rows;
  std::vector<double> us;
  for (int64_t i = 0; i < added; ++i) {
    Seq& s = active_[a.first_new + i];
    const int64_t c = a.carrier_of[i];
    if (c < 0) {
      rows_logits.push_back(prefixes_[s.request].logits);
      if (--prefixes_[s.request].remaining == 0) prefixes_.erase(s.request);
    } else {
      if (c != i) copy_slot(a.first_new + c, a.first_new + i, s.len);
      rows_logits.push_back(carrier_logits.narrow(0, row_of_carrier[c], 1));
    }
    rows.push_back(s.sampling);
    us.push_back(s.uniform());
  }
  if (e_.config_.prefix_sharing) keep_waiting_prefixes(a, carrier_logits, row_of_carrier);
  SampleResult sr = sample_tokens(torch::cat(rows_logits, 0), rows, us);
  auto tok = sr.tokens.to(torch::kCPU), slp = sr.sampling_logprobs.to(torch::kCPU), plp = sr.policy_logprobs.to(torch::kCPU);
  for (int64_t i = 0; i < added; ++i)
    accept(active_[a.first_new + i], static_cast<int32_t>(tok[i].item<int64_t>()), slp[i].item<float>(), plp[i].item<float>());
  retire_finished();
}

torch::Tensor Generation::prefill_carriers(const Admission& a, std::map<int64_t, int64_t>& row_of_carrier) {
  if (a.carriers.empty()) return {};
  std::vector<const std::vector<int32_t>*> prompts;
  std::vector<int64_t> slot_ids;
  for (size_t c = 0; c < a.carriers.size(); ++c) {
    prompts.push_back(&requests_[active_[a.first_new + a.carriers[c]].request].prompt);
    slot_ids.push_back(a.first_new + a.carriers[c]);
    row_of_carrier[a.carriers[c]] = static_cast<int64_t>(c);
  }
  auto logits = prefill(prompts, slot_ids);
  if (record_) record_prompt_routes(a, prompts);
  return logits;
}

void Generation::record_prompt_routes(const Admission& a, const std::vector<const std::vector<int32_t>*>& prompts) {
  int64_t longest = 0;
  for (auto* p : prompts) longest = std::max<int64_t>(longest, static_cast<int64_t>(p->size()));
  auto rt = e_.model_->last_routing().to(torch::kCPU, torch::kShort);
  rt = rt.view({static_cast<int64_t>(prompts.size()), longest, rt.size(1), rt.size(2)});
  for (size_t c = 0; c < a.carriers.size(); ++c) {
    const int64_t r = active_[a.first_new + a.carriers[c]].request;
    if (!prompt_routes_.count(r)) prompt_routes_[r] = rt[static_cast<int64_t>(c)].narrow(0, 0, static_cast<int64_t>(prompts[c]->size())).clone();
  }
}

// Samples of a prefilled prompt that did not get a slot this round keep its prefix.
void Generation::keep_waiting_prefixes(const Admission& a, const torch::Tensor& carrier_logits, const std::map<int64_t, int64_t>& row_of_carrier) {
  const int64_t added = static_cast<int64_t>(active_.size()) - a.first_new;
  for (auto [r, c] : a.carrier_for_request) {
    int64_t admitted = 0;
    for (int64_t i = 0; i < added; ++i) admitted += active_[a.first_new + i].request == r;
    int64_t waiting = requests_[r].n - admitted;
    if (waiting <= 0) continue;
    Prefix px;
    const int64_t P = static_cast<int64_t>(requests_[r].prompt.size());
    for (auto& l : e_.cache_)
      px.kv.push_back({l.a.narrow(0, a.first_new + c, 1).narrow(1, 0, P).clone(), l.b.narrow(0, a.first_new + c, 1).narrow(1, 0, P).clone()});
    px.logits = carrier_logits.narrow(0, row_of_carrier.at(c), 1).clone();
    px.remaining = waiting;
    prefixes_[r] = std::move(px);
  }
}

void Generation::decode_step() {
  const int64_t B = static_cast<int64_t>(active_.size());
  std::vector<int64_t> ids(B), lens(B);
  std::vector<RowSampling> rows(B);
  std::vector<double> us(B);
  int64_t span = 0;
  for (int64_t b = 0; b < B; ++b) {
    ids[b] = active_[b].pending;
    lens[b] = active_[b].len;
    span = std::max(span, active_[b].len + 1);
    rows[b] = active_[b].sampling;
    us[b] = active_[b].uniform();
  }
  policy::CacheBatch cb;
  cb.layers = &e_.cache_;
  cb.slots = torch::arange(B, torch::TensorOptions().dtype(torch::kLong).device(device_));
  cb.lengths = torch::tensor(lens, torch::kLong).to(device_);
  cb.span = span;
  cb.contiguous = true;
  cb.absorb = e_.config_.absorb;
  auto x = torch::tensor(ids, torch::kLong).to(device_).unsqueeze(1);  // [B, 1]
  auto logits = e_.model_->forward(x, {}, &cb).select(1, 0);           // [B, V]
  SampleResult sr = sample_tokens(logits, rows, us);
  auto tok = sr.tokens.to(torch::kCPU);
  auto slp = sr.sampling_logprobs.to(torch::kCPU);
  auto plp = sr.policy_logprobs.to(torch::kCPU);
  auto tok_a = tok.accessor<int64_t, 1>();
  auto slp_a = slp.accessor<float, 1>();
  auto plp_a = plp.accessor<float, 1>();
  torch::Tensor step_routes = record_ ? e_.model_->last_routing().to(torch::kCPU, torch::kShort) : torch::Tensor();  // [B, layers, k]
  int64_t live = 0;
  for (int64_t b = 0; b < B; ++b) {
    Seq& s = active_[b];
    if (s.done) {  // padding of a static batch: its token is dropped, its cache stays inside the slot
      s.len = std::min(s.len + 1, slot_len_ - 1);
      continue;
    }
    s.len += 1;
    if (record_) s.routes.push_back(step_routes[b]);
    ++live;
    accept(s, static_cast<int32_t>(tok_a[b]), slp_a[b], plp_a[b]);
  }
  e_.stats_.decode_tokens += live;
  ++e_.stats_.decode_steps;
}

// Finished sequences leave; the last live one moves into the hole (slots stay 0..B-1). Padded
// static batches keep them until every sequence of the batch is done.
void Generation::retire_finished() {
  if (e_.config_.batching == Batching::static_pad && std::any_of(active_.begin(), active_.end(), [](const Seq& s) { return !s.done; })) return;
  for (int64_t b = 0; b < static_cast<int64_t>(active_.size());) {
    if (!active_[b].done) {
      ++b;
      continue;
    }
    finish(active_[b]);
    int64_t last = static_cast<int64_t>(active_.size()) - 1;
    if (b != last) {
      copy_slot(last, b, active_[last].len);
      active_[b] = std::move(active_[last]);
    }
    active_.pop_back();
  }
}

torch::Tensor Generation::prefill(const std::vector<const std::vector<int32_t>*>& prompts, const std::vector<int64_t>& slots) {
  const double t0 = now_s();
  const int64_t k = static_cast<int64_t>(prompts.size());
  int64_t longest = 0;
  for (auto* p : prompts) longest = std::max<int64_t>(longest, static_cast<int64_t>(p->size()));
  std::vector<int64_t> ids(k * longest, 0), last(k);
  for (int64_t i = 0; i < k; ++i) {
    std::copy(prompts[i]->begin(), prompts[i]->end(), ids.begin() + i * longest);
    last[i] = static_cast<int64_t>(prompts[i]->size()) - 1;
    e_.stats_.prefill_tokens += static_cast<int64_t>(prompts[i]->size());
  }
  auto x = torch::tensor(ids, torch::kLong).view({k, longest}).to(device_);
  policy::CacheBatch cb;
  cb.layers = &e_.cache_;
  cb.slots = torch::tensor(slots, torch::kLong).to(device_);
  cb.lengths = torch::zeros({k}, torch::TensorOptions().dtype(torch::kLong).device(device_));
  cb.span = longest;
  cb.absorb = e_.config_.absorb;
  // Padding positions write cache entries past each prompt; decoding overwrites them before
  // anything attends to them.
  auto h = e_.model_->hidden(x, {}, &cb);                                       // [k, longest, hidden]
  auto idx = torch::tensor(last, torch::kLong).to(device_).view({k, 1, 1}).expand({k, 1, h.size(2)});
  auto logits = e_.model_->logits(h.gather(1, idx).squeeze(1)).to(torch::kFloat32);  // [k, V]
  e_.stats_.prefills += k;
  e_.stats_.prefill_s += now_s() - t0;
  return logits;
}

void Generation::copy_slot(int64_t from, int64_t to, int64_t n) {
  if (from == to || n == 0) return;
  for (auto& l : e_.cache_) {
    l.a[to].narrow(0, 0, n).copy_(l.a[from].narrow(0, 0, n));
    l.b[to].narrow(0, 0, n).copy_(l.b[from].narrow(0, 0, n));
  }
}

void Generation::accept(Seq& s, int32_t t, float slp, float plp) {
  const SamplingParams& p = requests_[s.request].params;
  s.out.tokens.push_back(t);
  s.out.sampling_logprobs.push_back(slp);
  s.out.policy_logprobs.push_back(plp);
  s.out.token_versions.push_back(e_.weight_version_);
  s.pending = t;
  if (on_token_) on_token_(s.request, s.sample, t);
  if (std::find(e_.eos_.begin(), e_.eos_.end(), t) != e_.eos_.end()) {
    s.out.finish = FinishReason::eos;
    s.done = true;
    return;
  }
  const std::string& tb = e_.token_bytes_(t);
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
  if (static_cast<int64_t>(s.out.tokens.size()) >= p.max_new_tokens || s.len + 1 >= slot_len_) {
    s.out.finish = FinishReason::length;
    s.done = true;
  }
}

void Generation::finish(Seq& s) {
  Completion& c = results_[first_of_[s.request] + s.sample];
  std::string text = s.text_end == std::string::npos ? s.bytes : s.bytes.substr(0, s.text_end);
  s.out.text = text::utf8_lossy(text);
  s.out.completion_tokens = static_cast<int64_t>(s.out.tokens.size());
  s.out.request = c.request;
  s.out.sample = c.sample;
  s.out.prompt_tokens = c.prompt_tokens;
  s.out.weight_version = c.weight_version;
  if (record_) {
    auto& pr = prompt_routes_.at(s.request);
    s.out.routing = s.routes.empty() ? pr.clone() : torch::cat({pr, torch::stack(s.routes, 0)}, 0);
  }
  c = std::move(s.out);
}

}  // namespace r1::rollout
