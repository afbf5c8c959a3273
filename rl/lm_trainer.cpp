// Pretraining and SFT (see lm_trainer.h).
#include "rl/lm_trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <random>
#include <tuple>

#include "text/chat_template.h"
#include "rl/grpo.h"
#include "rl/master_weights.h"
#include "rl/policy_setup.h"
#include "rl/run_scaffold.h"
#include "rl/train_state.h"


namespace r1::rl {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct Example {
  std::vector<int64_t> tokens;  // seq_len + 1 (inputs and shifted targets)
  std::vector<float> mask;      // seq_len: which targets count
};

// SFT lines: {"messages"} through the tokenizer's chat template when it has one, else
// {"prompt", "completion"} as plain text (TRL's prompt-completion form; what `r1 sample` writes
// beside the messages, the prompt exactly as the model saw it). A record is the messages array,
// or an object holding the prompt and the completion.
text::Value sft_record(const text::Value& v, bool chat_template, const std::string& where) {
  const bool messages = v["messages"].is_array(), pair = v["prompt"].is_string() && v["completion"].is_string();
  if (messages && (chat_template || !pair)) return v["messages"];
  if (pair) return text::Value(text::Value::Object{{"prompt", v["prompt"]}, {"completion", v["completion"]}});
  throw policy::PolicyError(where + ": no \"messages\" array, nor \"prompt\" and \"completion\" strings");
}

std::vector<std::string> read_documents(const std::string& path, const std::string& field, bool messages, bool chat_template,
                                        std::vector<text::Value>* chats) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw policy::PolicyError(path + ": corpus file not found (lm.corpus)");
  std::vector<std::string> docs;
  bool jsonl = path.size() > 6 && path.substr(path.size() - 6) == ".jsonl";
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (!jsonl) {
      docs.push_back(line);
      continue;
    }
    text::Value v = text::parse_json(line, path + ":" + std::to_string(n));
    if (messages) {
      chats->push_back(sft_record(v, chat_template, path + ":" + std::to_string(n)));
    } else {
      if (!v[field].is_string()) throw policy::PolicyError(path + ":" + std::to_string(n) + ": no string field '" + field + "' (lm.field)");
      docs.push_back(v[field].as_string());
    }
  }
  return docs;
}

// Pretraining: documents joined with EOS, cut into seq_len + 1 windows (every target counts).
std::vector<Example> pack(const std::vector<std::string>& docs, const text::Tokenizer& tok, int64_t seq_len) {
  std::vector<int64_t> stream;
  for (const auto& d : docs) {
    auto ids = tok.encode(d, true);
    stream.insert(stream.end(), ids.begin(), ids.end());
    if (tok.eos_id() >= 0) stream.push_back(tok.eos_id());
  }
  std::vector<Example> out;
  for (size_t off = 0; off + seq_len + 1 <= stream.size(); off += static_cast<size_t>(seq_len)) {
    Example e;
    e.tokens.assign(stream.begin() + static_cast<long>(off), stream.begin() + static_cast<long>(off + seq_len + 1));
    e.mask.assign(static_cast<size_t>(seq_len), 1.f);
    out.push_back(std::move(e));
  }
  return out;
}

// An example from token ids and which of them are trained on (targets: every id after the first).
Example example_of(const std::vector<int32_t>& ids, const std::vector<float>& trained, int64_t seq_len) {
  Example e;
  size_t n = std::min<size_t>(ids.size(), static_cast<size_t>(seq_len + 1));
  e.tokens.assign(ids.begin(), ids.begin() + static_cast<long>(n));
  e.mask.assign(n - 1, 0.f);
  for (size_t t = 0; t + 1 < n; ++t) e.mask[t] = trained[t + 1];
  e.tokens.resize(static_cast<size_t>(seq_len + 1), 0);
  e.mask.resize(static_cast<size_t>(seq_len), 0.f);
  return e;
}

// A prompt and its completion as text: loss on the completion's tokens and the end token.
Example prompt_completion_example(const text::Value& record, const text::Tokenizer& tok, int64_t seq_len) {
  std::vector<int32_t> ids = tok.encode(record["prompt"].as_string(), true);
  std::vector<float> trained(ids.size(), 0.f);
  for (int32_t id : tok.encode(record["completion"].as_string(), false)) ids.push_back(id), trained.push_back(1.f);
  if (tok.eos_id() >= 0) ids.push_back(tok.eos_id()), trained.push_back(1.f);
  return example_of(ids, trained, seq_len);
}

// SFT: each conversation, loss on the tokens of assistant messages only (or on a completion).
std::vector<Example> chat_examples(const std::vector<text::Value>& chats, const text::Tokenizer& tok, int64_t seq_len) {
  std::optional<text::ChatTemplate> compiled;
  std::vector<Example> out;
  for (const auto& msgs : chats) {
    if (msgs.is_object()) {
      if (auto e = prompt_completion_example(msgs, tok, seq_len); e.tokens.size() > 1) out.push_back(std::move(e));
      continue;
    }
    if (tok.chat_template().empty()) throw policy::PolicyError(tok.source() + ": sft on {\"messages\"} needs a tokenizer with a chat_template");
    if (!compiled) compiled = text::ChatTemplate::compile(tok.chat_template());
    const auto& tmpl = *compiled;
    const auto& arr = msgs.as_array();
    std::vector<int32_t> ids;
    std::vector<float> is_assistant;
    for (size_t i = 0; i < arr.size(); ++i) {
      if (!(arr[i]["role"].is_string() && arr[i]["role"].as_string() == "assistant")) continue;
      text::Value prefix(text::Value::Array(arr.begin(), arr.begin() + static_cast<long>(i)));
      text::Value upto(text::Value::Array(arr.begin(), arr.begin() + static_cast<long>(i + 1)));
      auto p_ids = tok.encode(text::apply_chat_template(tok, tmpl, prefix, true), false);
      auto f_ids = tok.encode(text::apply_chat_template(tok, tmpl, upto, false), false);
      // Everything before this assistant turn is context; its own tokens (and what closes it) count.
      if (ids.empty()) {
        ids.assign(p_ids.begin(), p_ids.end());
        is_assistant.assign(p_ids.size(), 0.f);
      } else if (p_ids.size() > ids.size()) {
        ids.insert(ids.end(), p_ids.begin() + static_cast<long>(ids.size()), p_ids.end());
        is_assistant.resize(ids.size(), 0.f);
      }
      if (f_ids.size() > ids.size()) {
        size_t from = ids.size();
        ids.insert(ids.end(), f_ids.begin() + static_cast<long>(from), f_ids.end());
        is_assistant.resize(ids.size(), 1.f);
      }
    }
    if (ids.size() < 2) continue;
    out.push_back(example_of(ids, is_assistant, seq_len));
  }
  return out;
}

std::vector<Example> load_examples(const std::vector<std::string>& files, const char* key, const LmConfig& lm, LmMode mode,
                                   const text::Tokenizer& tok) {
  std::vector<Example> out;
  for (const auto& f : files) {
    std::vector<text::Value> chats;
    auto docs = read_documents(f, lm.field, mode == LmMode::sft, !tok.chat_template().empty(), &chats);
    auto part = mode == LmMode::sft ? chat_examples(chats, tok, lm.seq_len) : pack(docs, tok, lm.seq_len);
    out.insert(out.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
  }
  if (out.empty() && !files.empty()) throw policy::PolicyError(std::string(key) + ": no training sequences in " + files.front());
  return out;
}

// Adds sequences from `pool` until they are `share` of the whole: a seeded draw without
// replacement, cycling through the pool again when it is smaller than what is needed.
void mix_in(std::vector<Example>& examples, std::vector<Example> pool, double share, uint64_t seed) {
  const auto want = static_cast<size_t>(std::llround(static_cast<double>(examples.size()) * share / (1.0 - share)));
  std::mt19937_64 rng(seed * 104729 + 17);
  for (size_t i = pool.size(); i > 1; --i) std::swap(pool[i - 1], pool[rng() % i]);
  for (size_t i = 0; i < want; ++i) examples.push_back(pool[i % pool.size()]);
}

// Inputs, targets and loss mask [b, L] of a batch of examples.
std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> batch_tensors(const std::vector<const Example*>& batch, int64_t L,
                                                                     torch::Device device) {
  const int64_t b = static_cast<int64_t>(batch.size());
  std::vector<int64_t> in(b * L), tg(b * L);
  std::vector<float> mk(b * L);
  for (int64_t i = 0; i < b; ++i)
    for (int64_t t = 0; t < L; ++t) {
      in[i * L + t] = batch[i]->tokens[t];
      tg[i * L + t] = batch[i]->tokens[t + 1];
      mk[i * L + t] = batch[i]->mask[t];
    }
  return {torch::tensor(in, torch::kLong).view({b, L}).to(device), torch::tensor(tg, torch::kLong).view({b, L}).to(device),
          torch::tensor(mk, torch::kFloat32).view({b, L}).to(device)};
}

}  // namespace

TrainResult train_lm(const Recipe& rc, LmMode mode, int64_t run_id, experiments::RunStore& store, const TrainEnv& env, bool resume) {
  const LmConfig& lm = rc.lm;
  RunScaffold run(rc, run_id, store, env);
  const uint64_t seed = run.seed();
  const torch::Device device = run.device();
  PolicyBundle pb = load_policy(rc.model, seed, device);
  policy::CausalLM& model = pb.model;
  if (lm.corpus.empty()) throw policy::PolicyError("lm.corpus: list the training files");
  std::vector<Example> examples = load_examples(lm.corpus, "lm.corpus", lm, mode, pb.tokenizer);
  if (examples.empty()) throw policy::PolicyError("lm.corpus: no training sequences (corpus shorter than lm.seq_len?)");
  const size_t from_corpus = examples.size();
  if (!lm.mix.empty()) mix_in(examples, load_examples(lm.mix, "lm.mix", lm, mode, pb.tokenizer), lm.mix_share, seed);
  run.log(std::to_string(examples.size()) + " training sequences of " + std::to_string(lm.seq_len) + " tokens" +
          (lm.mix.empty() ? "" : " (" + std::to_string(from_corpus) + " from lm.corpus, " + std::to_string(examples.size() - from_corpus) +
                                     " from lm.mix)"));

  MasterWeights masters(model);  // fp32 masters when the model computes in bf16/fp16
  torch::optim::AdamW opt(masters.params(), torch::optim::AdamWOptions(lm.lr).betas({lm.adam_beta1, lm.adam_beta2}).weight_decay(lm.weight_decay));
  RlConfig sched;  // the schedule fields, shared with GRPO's lr_factor
  sched.warmup_steps = lm.warmup_steps;
  sched.lr_schedule = lm.lr_schedule;
  sched.min_lr_ratio = lm.min_lr_ratio;

  const CheckpointParts parts{&model, &opt, nullptr, &masters, pb.tokenizer_dir};
  TrainState st;
  if (resume)
    if (auto restored = run.resume(parts)) st = *restored;
  // Example order: a seeded permutation per epoch; the position is the number of examples used.
  std::vector<size_t> order;
  int64_t epoch = -1;
  auto example_at = [&](int64_t pos) -> const Example& {
    const int64_t n = static_cast<int64_t>(examples.size());
    int64_t e = pos / n;
    if (e != epoch || order.size() != examples.size()) {
      order.resize(examples.size());
      std::iota(order.begin(), order.end(), size_t{0});
      std::mt19937_64 rng(seed * 7919 + static_cast<uint64_t>(e));
      for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
      epoch = e;
    }
    return examples[order[static_cast<size_t>(pos % n)]];
  };
  TrainResult result;
  const int64_t first = st.step;
  run.start_steps();
  model->train();
  for (int64_t step = st.step; step < rc.run.steps; ++step) {
    const int64_t s = step + 1;
    if (run.interrupted()) {
      if (auto dir = run.save_if_new(step, st, parts); !dir.empty()) result.last_checkpoint = dir;
      store.flush();
      result.status = experiments::RunStatus::interrupted;
      result.steps_done = step;
      return result;
    }
    double t0 = now_s();
    const int64_t b = lm.batch_size, L = lm.seq_len;
    std::vector<const Example*> batch;
    for (int64_t i = 0; i < b; ++i) batch.push_back(&example_at(st.data_position++));
    auto [x, y, mask] = batch_tensors(batch, L, device);
    for (auto& moe : model->moe_layers()) moe->reset_load();
    masters.zero_grad();
    auto logp = token_logprobs(model->forward(x), y);  // [b, L]
    auto count = mask.sum().clamp_min(1);
    auto loss = -(logp * mask).sum() / count;
    loss.backward();
    double gn = masters.gather_grads_and_clip(lm.max_grad_norm);
    double lr = lm.lr * lr_factor(sched, step, rc.run.steps);
    for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    opt.step();
    masters.copy_down();
    ++st.opt_steps;
    double max_ratio = 0;
    std::map<std::string, double> shares;
    auto layers = model->moe_layers();
    for (size_t i = 0; i < layers.size(); ++i) {
      auto load = layers[i]->load();
      if (load.sum().item<double>() > 0) max_ratio = std::max(max_ratio, (load.max() / load.mean()).item<double>());
      policy::MoeImpl::add_load_shares(static_cast<int64_t>(i), load, shares);
      layers[i]->update_bias(rc.rl.bias_update_speed);
    }
    double dt = now_s() - t0, l = loss.item<double>();
    std::map<std::string, double> m = {{"loss", l},
                                       {"ppl", std::exp(std::min(l, 50.0))},
                                       {"lr", lr},
                                       {"grad_norm", gn},
                                       {"tokens_per_s/learner", static_cast<double>(b * L) / dt},
                                       {"time/step_s", dt}};
    if (!model->moe_layers().empty()) m["moe/max_load_ratio"] = max_ratio;
    m.insert(shares.begin(), shares.end());
    store.log_metrics(run_id, s, std::vector<std::pair<std::string, double>>(m.begin(), m.end()));
    store.flush();
    st.step = s;
    result.steps_done = s;
    if (rc.run.checkpoint_every > 0 && s % rc.run.checkpoint_every == 0 && s < rc.run.steps) result.last_checkpoint = run.save(s, st, parts);
    run.report(s, m, first);
  }
  if (rc.run.steps > 0) result.last_checkpoint = run.save(rc.run.steps, st, parts);
  result.status = experiments::RunStatus::finished;
  return result;
}

}  // namespace r1::rl
