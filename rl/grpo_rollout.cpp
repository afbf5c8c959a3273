#include "rl/grpo_rollout.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "rl/evaluation.h"
#include "policy/policy_error.h"
#include "rl/grpo.h"
#include "rollout/byte_codec.h"
#include "rollout/remote_messages.h"

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

// This rank's share [lo, hi) of `want` prompts: contiguous, so rank order is batch order.
std::pair<int64_t, int64_t> share_of(const dist::ProcessGroup* group, int64_t want) {
  if (!group || group->size() == 1) return {0, want};
  const int64_t r = group->rank(), n = group->size();
  return {want * r / n, want * (r + 1) / n};
}

// One round: `want` prompts x G completions (this rank's share of them), handed to the backend
// (and for ReMax one greedy completion each).
IssuedRound issue_round(RolloutStage& st, int64_t step, int64_t round, int64_t want, rollout::RolloutBackend::Received done = {}) {
  const int64_t G = st.recipe.rollout.group_size;
  const auto [lo, hi] = share_of(st.group, want);
  IssuedRound ir;
  ir.step = step;
  ir.round = round;
  ir.cursor_before = st.cursor.position();
  for (int64_t j = 0; j < want; ++j) {
    const datasets::Task& t = st.cursor.next();  // every rank advances past the whole batch
    if (j < lo || j >= hi) continue;
    ir.drawn.push_back(&t);
    rollout::Request r;
    r.prompt = prompt_ids(st.format, t);
    r.n = G;
    r.params = sampling_params(st.recipe.rollout, mix(mix(st.seed, static_cast<uint64_t>(step)), static_cast<uint64_t>(round * 100000 + j)));
    ir.reqs.push_back(std::move(r));
  }
  ir.want = hi - lo;
  if (ir.want == 0) return ir;
  // ReMax: one greedy completion per prompt, after the sampled ones; its reward is the baseline.
  if (st.recipe.rl.advantage == AdvantageEstimator::remax)
    for (int64_t j = 0; j < ir.want; ++j) {
      rollout::Request r = ir.reqs[static_cast<size_t>(j)];
      r.n = 1;
      r.params.temperature = 0;
      ir.reqs.push_back(std::move(r));
    }
  for (const auto& [i, completions] : done)  // kept by a checkpoint: they must be these requests' answers
    if (i >= ir.reqs.size() || static_cast<int64_t>(completions.size()) != ir.reqs[i].n)
      throw policy::PolicyError("the checkpoint's in-flight rollouts (inflight_rollouts.bin) do not fit step " + std::to_string(step) +
                                "'s batch under this recipe (request " + std::to_string(i) + " of " + std::to_string(ir.reqs.size()) + ", " +
                                std::to_string(completions.size()) + " completions)");
  // An extra round is waited for now: before batches sampled ahead.
  ir.ticket = done.empty() ? st.rollouts.submit(ir.reqs, round > 0) : st.rollouts.submit_with(ir.reqs, std::move(done));
  return ir;
}

// The round's completions, none older than the bound: a request whose group was sampled with a
// version below current - max_staleness is submitted again (same seed, current weights) until it
// is fresh enough. Ordered by (request, sample), as generate() returns them.
std::vector<rollout::Completion> collect_fresh(RolloutStage& st, const IssuedRound& ir, RolloutBatch& out) {
  std::vector<std::vector<rollout::Completion>> by_request(ir.reqs.size());
  for (auto& c : st.rollouts.collect(ir.ticket)) by_request[static_cast<size_t>(c.request)].push_back(std::move(c));
  const int64_t oldest = st.rollouts.weight_version() - st.recipe.rollout.max_staleness;
  for (;;) {
    std::vector<size_t> stale;  // request indices
    for (size_t r = 0; r < by_request.size(); ++r)
      for (const auto& c : by_request[r])
        if (c.weight_version < oldest) {
          stale.push_back(r);
          break;
        }
    if (stale.empty()) break;
    out.stale_dropped += static_cast<int64_t>(stale.size());
    std::vector<rollout::Request> again;
    for (size_t r : stale) again.push_back(ir.reqs[r]);
    for (size_t r : stale) by_request[r].clear();
    for (auto& c : st.rollouts.collect(st.rollouts.submit(again, true))) {  // c.request indexes `again`
      const size_t r = stale[static_cast<size_t>(c.request)];
      c.request = static_cast<int64_t>(r);
      by_request[r].push_back(std::move(c));
    }
  }
  std::vector<rollout::Completion> outs;
  for (auto& group : by_request)
    for (auto& c : group) outs.push_back(std::move(c));
  return outs;
}

// Collects an issued round and scores it.
std::vector<Sample> score_round(RolloutStage& st, const IssuedRound& ir, RolloutBatch& out) {
  if (ir.want == 0) return {};
  const int64_t want = ir.want;
  const std::vector<const datasets::Task*>& drawn = ir.drawn;
  const std::vector<rollout::Request>& reqs = ir.reqs;
  const bool remax = st.recipe.rl.advantage == AdvantageEstimator::remax;
  double r0 = now_s();
  auto outs = collect_fresh(st, ir, out);
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

// Groups kept this round by the lower ranks, and by all ranks (one all-gather of counts).
std::pair<int64_t, int64_t> groups_before_me(dist::ProcessGroup* group, int64_t mine) {
  if (!group || group->size() == 1) return {0, mine};
  std::vector<double> counts(static_cast<size_t>(group->size()), 0.0);
  counts[static_cast<size_t>(group->rank())] = static_cast<double>(mine);
  counts = group->all_reduce(counts, dist::ReduceOp::sum);
  int64_t before = 0, all = 0;
  for (int r = 0; r < group->size(); ++r) {
    if (r < group->rank()) before += static_cast<int64_t>(counts[static_cast<size_t>(r)]);
    all += static_cast<int64_t>(counts[static_cast<size_t>(r)]);
  }
  return {before, all};
}

}  // namespace

IssuedRound issue_rollouts(RolloutStage& st, int64_t step, rollout::RolloutBackend::Received done) {
  return issue_round(st, step, 0, st.recipe.rl.prompts_per_step, std::move(done));
}

namespace {
constexpr uint8_t kInflightFormat = 1;
}

std::string RolloutPipeline::inflight_state(bool wait) {
  if (ahead_.empty()) return "";
  rollout::ByteWriter b;
  b.put<uint8_t>(kInflightFormat);
  b.put<uint64_t>(ahead_.size());
  for (const IssuedRound& ir : ahead_) {
    b.put<int64_t>(ir.step);
    b.put<int64_t>(ir.cursor_before);
    const rollout::RolloutBackend::Received got = stage_.rollouts.received(ir.ticket, wait);
    b.put<uint64_t>(got.size());
    for (const auto& [request, completions] : got) b.put_string(rollout::encode_result({static_cast<int64_t>(request), completions}));
  }
  return b.take();
}

std::pair<int64_t, int64_t> RolloutPipeline::restore(const std::string& bytes) {
  if (bytes.empty() || k_ == 0) return {0, 0};  // resumed synchronous: the cursor draws those prompts again
  int64_t kept = 0;
  const std::string what = "the checkpoint's in-flight rollouts (inflight_rollouts.bin)";
  try {
    rollout::ByteReader in(bytes, "inflight_rollouts.bin");
    if (in.get<uint8_t>("format") != kInflightFormat) throw rollout::wire::WireError("format");
    const uint64_t rounds = in.get<uint64_t>("rounds");
    for (uint64_t r = 0; r < rounds; ++r) {
      const int64_t step = in.get<int64_t>("step"), cursor_before = in.get<int64_t>("cursor_before");
      if (cursor_before != stage_.cursor.position())
        throw rollout::wire::WireError("step " + std::to_string(step) + "'s batch was drawn at " + std::to_string(cursor_before) + ", the cursor is at " +
                                       std::to_string(stage_.cursor.position()));
      rollout::RolloutBackend::Received done;
      const uint64_t groups = in.get<uint64_t>("groups");
      for (uint64_t g = 0; g < groups; ++g) {
        rollout::GroupResult gr = rollout::decode_result(in.get_string("group"));
        done[static_cast<size_t>(gr.group)] = std::move(gr.completions);
        ++kept;
      }
      ahead_.push_back(issue_rollouts(stage_, step, std::move(done)));
    }
    in.done();
    return {static_cast<int64_t>(rounds), kept};
  } catch (const rollout::wire::WireError& e) {
    throw policy::PolicyError(what + ": " + e.what());
  }
}

void RolloutPipeline::issue_through(int64_t step) {
  if (next_issue_ == 0) next_issue_ = ahead_.empty() ? step : ahead_.back().step + 1;
  for (; next_issue_ <= std::min(step, last_step_); ++next_issue_) ahead_.push_back(issue_rollouts(stage_, next_issue_));
}

RolloutBatch RolloutPipeline::next(int64_t step) {
  step_start_position_ = ahead_.empty() ? stage_.cursor.position() : ahead_.front().cursor_before;
  RolloutBatch batch;
  if (k_ == 0) {
    batch = collect_rollouts(stage_, step);
  } else {
    issue_through(step);
    // Stays first in line until it is collected: an interrupted collect leaves it to the checkpoint.
    batch = collect_rollouts(stage_, step, ahead_.front());
    ahead_.pop_front();
    issue_through(step + k_);  // sampled while the learner trains on `batch`
  }
  step_start_position_.reset();
  return batch;
}

int64_t RolloutPipeline::data_position() const {
  if (step_start_position_) return *step_start_position_;
  return ahead_.empty() ? stage_.cursor.position() : ahead_.front().cursor_before;
}

RolloutBatch collect_rollouts(RolloutStage& st, int64_t step, std::optional<IssuedRound> first) {
  const RlConfig& rl = st.recipe.rl;
  const int64_t B = rl.prompts_per_step, G = st.recipe.rollout.group_size;
  RolloutBatch out;
  int64_t kept_groups = 0;  // over every rank
  for (int64_t round = 0;; ++round) {
    const int64_t want = round == 0 ? B : B - kept_groups;
    const IssuedRound ir = round == 0 && first ? std::move(*first) : issue_round(st, step, round, want);
    std::vector<Sample> batch = score_round(st, ir, out);
    const int64_t mine = static_cast<int64_t>(batch.size()) / G;
    const size_t kept_before = out.kept.size();
    // Groups: zero reward spread teaches nothing; a "drop" failure removes the group.
    for (int64_t g = 0; g < mine; ++g) {
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
    out.groups_total += mine;
    out.extra_rounds = round;
    // The batch keeps the first B groups in batch order (rank order within a round): a rank keeps
    // those of its groups that the lower ranks' groups of this round leave room for.
    const int64_t kept_now = static_cast<int64_t>(out.kept.size() - kept_before) / G;
    const auto [before_me, this_round] = groups_before_me(st.group, kept_now);
    const int64_t room = std::max<int64_t>(0, B - kept_groups - before_me);
    if (kept_now > room) out.kept.resize(kept_before + static_cast<size_t>(room * G));
    kept_groups = std::min<int64_t>(B, kept_groups + this_round);
    if (!rl.dynamic_sampling || kept_groups >= B || round >= rl.max_extra_rounds) break;
  }
  out.kept_groups = kept_groups;
  return out;
}

namespace {

// Every rank's rows of `cols` numbers, in rank order, on every rank: an all-reduce of a zero-padded
// buffer (each rank fills its own rows; adding zeros changes no value).
std::vector<double> gather_rows(dist::ProcessGroup* group, const std::vector<double>& mine, size_t cols) {
  if (!group || group->size() == 1) return mine;
  std::vector<double> counts(static_cast<size_t>(group->size()), 0.0);
  counts[static_cast<size_t>(group->rank())] = static_cast<double>(mine.size() / std::max<size_t>(1, cols));
  counts = group->all_reduce(counts, dist::ReduceOp::sum);
  size_t total = 0, offset = 0;
  for (int r = 0; r < group->size(); ++r) {
    if (r == group->rank()) offset = total;
    total += static_cast<size_t>(counts[static_cast<size_t>(r)]);
  }
  std::vector<double> all(total * cols, 0.0);
  std::copy(mine.begin(), mine.end(), all.begin() + static_cast<std::ptrdiff_t>(offset * cols));
  return group->all_reduce(all, dist::ReduceOp::sum);
}

}  // namespace

void record_rollout_metrics(const RolloutBatch& b, const std::vector<std::string>& names, Metrics& m, dist::ProcessGroup* group) {
  int accuracy_fn = -1;
  for (size_t f = 0; f < names.size() && accuracy_fn < 0; ++f)
    if (names[f] == "math_accuracy" || names[f] == "countdown" || names[f] == "code_tests" || names[f] == "exact_match") accuracy_fn = static_cast<int>(f);
  // One row per completion: reward, length, clipped, correct, then each reward component.
  const size_t cols = 4 + names.size();
  std::vector<double> rows;
  for (const auto& sm : b.all) {
    rows.push_back(sm.reward);
    rows.push_back(static_cast<double>(sm.c.completion_tokens));
    rows.push_back(sm.c.finish == rollout::FinishReason::length ? 1.0 : 0.0);
    rows.push_back(accuracy_fn >= 0 && sm.components[static_cast<size_t>(accuracy_fn)] >= 0.999 ? 1.0 : 0.0);
    for (size_t f = 0; f < names.size(); ++f) rows.push_back(sm.components[f]);
  }
  rows = gather_rows(group, rows, cols);
  const std::vector<double> greedy = gather_rows(group, b.greedy_rewards, 1);
  std::vector<double> counts = {static_cast<double>(b.groups_zero_spread), static_cast<double>(b.groups_total), b.reward_errors};
  if (group) counts = group->all_reduce(counts, dist::ReduceOp::sum);
  const size_t n = rows.size() / cols;
  std::vector<double> rw, lens;
  int64_t clipped = 0, correct = 0;
  std::vector<std::vector<double>> comp(names.size());
  for (size_t i = 0; i < n; ++i) {
    const double* row = rows.data() + i * cols;
    rw.push_back(row[0]);
    lens.push_back(row[1]);
    clipped += row[2] > 0.5;
    correct += row[3] > 0.5;
    for (size_t f = 0; f < names.size(); ++f) comp[f].push_back(row[4 + f]);
  }
  m["reward"] = mean_of(rw);
  m["reward_std"] = std_of(rw);
  m["reward_errors"] = counts[2];
  for (size_t f = 0; f < names.size(); ++f) {
    m["rewards/" + names[f] + "/mean"] = mean_of(comp[f]);
    m["rewards/" + names[f] + "/std"] = std_of(comp[f]);
  }
  if (accuracy_fn >= 0) m["accuracy"] = static_cast<double>(correct) / std::max<size_t>(1, n);
  m["frac_reward_zero_std"] = counts[0] / std::max(1.0, counts[1]);
  m["completions/count"] = static_cast<double>(n);  // sampled this step (extra rounds included)
  m["completions/mean_length"] = mean_of(lens);
  m["completions/min_length"] = lens.empty() ? 0 : *std::min_element(lens.begin(), lens.end());
  m["completions/max_length"] = lens.empty() ? 0 : *std::max_element(lens.begin(), lens.end());
  m["completions/clipped_ratio"] = static_cast<double>(clipped) / std::max<size_t>(1, n);
  m["dynamic/extra_rounds"] = static_cast<double>(b.extra_rounds);
  m["dynamic/kept_groups"] = static_cast<double>(b.kept_groups);
  if (!greedy.empty()) m["remax/greedy_reward"] = mean_of(greedy);
}

namespace {

// The advantages one process would compute over the batch's kept samples. With several ranks the
// rows of every rank are gathered first (so a batch std, or any baseline, sees the whole batch, in
// the batch's order), and this rank keeps its own.
torch::Tensor batch_advantages(const std::vector<Sample>& kept, const RlConfig& rl, dist::ProcessGroup* group) {
  const double me = group ? static_cast<double>(group->rank()) : 0.0;
  std::vector<double> rows;  // per sample: reward, rank, group, zero spread, greedy baseline
  for (const auto& sm : kept) rows.insert(rows.end(), {sm.reward, me, static_cast<double>(sm.group), sm.zero_spread ? 1.0 : 0.0, sm.baseline});
  rows = gather_rows(group, rows, 5);
  const size_t n = rows.size() / 5;
  if (n == 0) return torch::zeros({0});
  std::vector<double> rw(n), baselines(n);
  std::vector<int64_t> gid(n);
  std::vector<bool> zero(n);
  int64_t first_mine = -1;
  for (size_t i = 0; i < n; ++i) {
    const double* row = rows.data() + i * 5;
    rw[i] = row[0];
    gid[i] = (static_cast<int64_t>(row[1]) << 32) + static_cast<int64_t>(row[2]);  // group ids are per rank
    zero[i] = row[3] > 0.5;
    baselines[i] = row[4];
    if (first_mine < 0 && row[1] == me) first_mine = static_cast<int64_t>(i);
  }
  auto adv = compute_advantages(torch::tensor(rw, torch::kFloat64), gid, rl.advantage, rl.scale, rl.adv_eps, &zero, &baselines);
  return kept.empty() ? torch::zeros({0}) : adv.narrow(0, first_mine, static_cast<int64_t>(kept.size())).contiguous();
}

}  // namespace

std::vector<Seq> build_sequences(const std::vector<Sample>& kept, const RlConfig& rl, Metrics& m, dist::ProcessGroup* group) {
  std::vector<Seq> seqs(kept.size());
  if (kept.empty() && !group) return seqs;
  std::vector<double> av;
  const torch::Tensor adv = batch_advantages(kept, rl, group);
  if (!kept.empty()) {
    auto adv_a = adv.accessor<float, 1>();
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
  }
  av = gather_rows(group, av, 1);
  m["advantages/mean"] = mean_of(av);
  m["advantages/std"] = std_of(av);
  return seqs;
}

}  // namespace r1::rl
