#include "rl/grpo_rollout.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "rl/evaluation.h"
#include "rl/grpo.h"

namespace r1::rl {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  return x ^ (x >> 29);
}

double mean_of(const std::vector<double>& v) { return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / v.size(); }
double std_of(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  double m = mean_of(v), s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / (v.size() - 1));
}

// One SamplingParams for every request of the run: the recipe's [rollout] and a per-request seed.
rollout::SamplingParams sampling_params(const rollout::RolloutConfig& r, uint64_t seed) {
  rollout::SamplingParams p;
  p.temperature = r.temperature;
  p.top_p = r.top_p;
  p.top_k = r.top_k;
  p.min_p = r.min_p;
  p.max_new_tokens = r.max_new_tokens;
  p.stop_strings = r.stop;
  p.include_stop = r.include_stop;
  p.seed = seed;
  return p;
}

// ReMax: the greedy completions (request index >= want) leave the batch; each one's reward becomes
// the baseline of its prompt's sampled completions.
void split_greedy(std::vector<Sample>& batch, int64_t want, RolloutBatch& out) {
  std::vector<double> greedy(static_cast<size_t>(want), 0.0);
  std::vector<Sample> sampled;
  for (auto& sm : batch) {
    if (sm.c.request >= want) greedy[static_cast<size_t>(sm.c.request - want)] = sm.reward;
    else sampled.push_back(std::move(sm));
  }
  for (auto& sm : sampled) sm.baseline = greedy[static_cast<size_t>(sm.c.request)];
  out.greedy_rewards.insert(out.greedy_rewards.end(), greedy.begin(), greedy.end());
  batch = std::move(sampled);
}

// One round: `want` prompts x G completions, scored (and for ReMax one greedy completion each).
std::vector<Sample> sample_and_score(RolloutStage& st, int64_t step, int64_t round, int64_t want, RolloutBatch& out) {
  const int64_t G = st.recipe.rollout.group_size;
  std::vector<const datasets::Task*> drawn;
  std::vector<rollout::Request> reqs;
  for (int64_t j = 0; j < want; ++j) {
    const datasets::Task& t = st.cursor.next();
    drawn.push_back(&t);
    rollout::Request r;
    r.prompt = prompt_ids(st.format, t);
    r.n = G;
    r.params = sampling_params(st.recipe.rollout, mix(mix(st.seed, static_cast<uint64_t>(step)), static_cast<uint64_t>(round * 100000 + j)));
    reqs.push_back(std::move(r));
  }
  // ReMax: one greedy completion per prompt, after the sampled ones; its reward is the baseline.
  const bool remax = st.recipe.rl.advantage == AdvantageEstimator::remax;
  if (remax)
    for (int64_t j = 0; j < want; ++j) {
      rollout::Request r = reqs[static_cast<size_t>(j)];
      r.n = 1;
      r.params.temperature = 0;
      reqs.push_back(std::move(r));
    }
  double r0 = now_s();
  auto outs = st.rollouts.generate(reqs);
  out.rollout_s += now_s() - r0;
  std::vector<Sample> batch(outs.size());
  std::vector<rewards::TaskRef> trefs(outs.size());
  std::vector<rewards::CompletionRef> crefs(outs.size());
  std::vector<const rewards::TaskRef*> tp;
  std::vector<const rewards::CompletionRef*> cp;
  for (size_t i = 0; i < outs.size(); ++i) {
    Sample& sm = batch[i];
    const int64_t prompt = outs[i].request % want;  // a greedy request answers prompt request - want
    sm.group = out.groups_total + prompt;
    sm.task = drawn[prompt];
    sm.prompt = reqs[outs[i].request].prompt;
    sm.c = std::move(outs[i]);
    out.generated_tokens += sm.c.completion_tokens;
    trefs[i] = task_ref(*sm.task);
    crefs[i] = {sm.c.text, sm.c.completion_tokens, rollout::to_string(sm.c.finish)};
    tp.push_back(&trefs[i]);
    cp.push_back(&crefs[i]);
  }
  double w0 = now_s();
  auto rr = st.rewards.score(tp, cp);
  out.reward_s += now_s() - w0;
  const auto& names = st.rewards.names();
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].reward = rr.totals[i];
    for (size_t f = 0; f < names.size(); ++f) batch[i].components.push_back(rr.components[f][i]);
    batch[i].breakdown = rr.breakdown_json(i);
    batch[i].errors = rr.errors[i];
    batch[i].drop = rr.drop[i];
  }
  out.reward_errors += std::accumulate(rr.error_counts.begin(), rr.error_counts.end(), 0.0);
  if (remax) split_greedy(batch, want, out);
  return batch;
}

}  // namespace

RolloutBatch collect_rollouts(RolloutStage& st, int64_t step) {
  const RlConfig& rl = st.recipe.rl;
  const int64_t B = rl.prompts_per_step, G = st.recipe.rollout.group_size;
  RolloutBatch out;
  for (int64_t round = 0;; ++round) {
    const int64_t want = round == 0 ? B : B - static_cast<int64_t>(out.kept.size()) / G;
    std::vector<Sample> batch = sample_and_score(st, step, round, want, out);
    // Groups: zero reward spread teaches nothing; a "drop" failure removes the group.
    for (int64_t g = 0; g < want; ++g) {
      std::vector<double> r;
      bool dropped = false;
      for (int64_t k = 0; k < G; ++k) {
        const Sample& sm = batch[g * G + k];
        r.push_back(sm.reward);
        dropped = dropped || sm.drop;
      }
      const bool zero = zero_spread(r);
      out.groups_zero_spread += zero;
      const bool keep = !dropped && !(rl.dynamic_sampling && zero);
      for (int64_t k = 0; k < G; ++k) {
        Sample& sm = batch[g * G + k];
        sm.zero_spread = zero;
        if (keep) out.kept.push_back(sm);
        out.all.push_back(std::move(sm));
      }
    }
    out.groups_total += want;
    out.extra_rounds = round;
    if (!rl.dynamic_sampling || static_cast<int64_t>(out.kept.size()) >= B * G || round >= rl.max_extra_rounds) break;
  }
  if (static_cast<int64_t>(out.kept.size()) > B * G) out.kept.resize(static_cast<size_t>(B * G));
  out.kept_groups = static_cast<int64_t>(out.kept.size()) / G;
  return out;
}

void record_rollout_metrics(const RolloutBatch& b, const std::vector<std::string>& names, Metrics& m) {
  int accuracy_fn = -1;
  for (size_t f = 0; f < names.size() && accuracy_fn < 0; ++f)
    if (names[f] == "math_accuracy" || names[f] == "countdown" || names[f] == "code_tests" || names[f] == "exact_match") accuracy_fn = static_cast<int>(f);
  std::vector<double> rw, lens;
  int64_t clipped = 0, correct = 0;
  std::vector<std::vector<double>> comp(names.size());
  for (const auto& sm : b.all) {
    rw.push_back(sm.reward);
    lens.push_back(static_cast<double>(sm.c.completion_tokens));
    clipped += sm.c.finish == rollout::FinishReason::length;
    for (size_t f = 0; f < names.size(); ++f) comp[f].push_back(sm.components[f]);
    if (accuracy_fn >= 0) correct += sm.components[accuracy_fn] >= 0.999;
  }
  m["reward"] = mean_of(rw);
  m["reward_std"] = std_of(rw);
  m["reward_errors"] = b.reward_errors;
  for (size_t f = 0; f < names.size(); ++f) {
    m["rewards/" + names[f] + "/mean"] = mean_of(comp[f]);
    m["rewards/" + names[f] + "/std"] = std_of(comp[f]);
  }
  if (accuracy_fn >= 0) m["accuracy"] = static_cast<double>(correct) / std::max<size_t>(1, b.all.size());
  m["frac_reward_zero_std"] = static_cast<double>(b.groups_zero_spread) / std::max<int64_t>(1, b.groups_total);
  m["completions/count"] = static_cast<double>(b.all.size());  // sampled this step (extra rounds included)
  m["completions/mean_length"] = mean_of(lens);
  m["completions/min_length"] = lens.empty() ? 0 : *std::min_element(lens.begin(), lens.end());
  m["completions/max_length"] = lens.empty() ? 0 : *std::max_element(lens.begin(), lens.end());
  m["completions/clipped_ratio"] = static_cast<double>(clipped) / std::max<size_t>(1, b.all.size());
  m["dynamic/extra_rounds"] = static_cast<double>(b.extra_rounds);
  m["dynamic/kept_groups"] = static_cast<double>(b.kept_groups);
  if (!b.greedy_rewards.empty()) m["remax/greedy_reward"] = mean_of(b.greedy_rewards);
}

std::vector<Seq> build_sequences(const std::vector<Sample>& kept, const RlConfig& rl, Metrics& m) {
  std::vector<Seq> seqs(kept.size());
  if (kept.empty()) return seqs;
  std::vector<double> rw;
  std::vector<int64_t> gid;
  std::vector<bool> zero;
  std::vector<double> baselines;
  for (const auto& sm : kept)
    rw.push_back(sm.reward), gid.push_back(sm.group), zero.push_back(sm.zero_spread), baselines.push_back(sm.baseline);
  auto adv = compute_advantages(torch::tensor(rw, torch::kFloat64), gid, rl.advantage, rl.scale, rl.adv_eps, &zero, &baselines);
  auto adv_a = adv.accessor<float, 1>();
  std::vector<double> av;
  for (size_t i = 0; i < kept.size(); ++i) {
    Seq& q = seqs[i];
    const Sample& sm = kept[i];
    q.tokens.assign(sm.prompt.begin(), sm.prompt.end());
    q.tokens.insert(q.tokens.end(), sm.c.tokens.begin(), sm.c.tokens.end());
    q.prompt_len = static_cast<int64_t>(sm.prompt.size());
    q.completion_len = static_cast<int64_t>(sm.c.tokens.size());
    q.masked = q.completion_len == 0 || (rl.mask_truncated && sm.c.finish == rollout::FinishReason::length);
    q.advantage = adv_a[static_cast<int64_t>(i)];
    q.rollout_logp = torch::tensor(sm.c.sampling_logprobs, torch::kFloat32);
    if (rl.routing_replay) q.routing = sm.c.routing;
    av.push_back(q.advantage);
  }
  m["advantages/mean"] = mean_of(av);
  m["advantages/std"] = std_of(av);
  return seqs;
}

}  // namespace r1::rl
