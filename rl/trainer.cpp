// The GRPO loop (see trainer.h): set-up, then per step the named stages of grpo_rollout.h and
// grpo_learn.h — rollout -> score -> advantages -> learn -> sync weights -> record.
#include "rl/trainer.h"

#include <chrono>

#include "datasets/task.h"
#include "text/prompt_format.h"
#include "rewards/reward.h"
#include "rl/evaluation.h"
#include "rl/grpo_learn.h"
#include "rl/grpo_rollout.h"
#include "rl/master_weights.h"
#include "rl/policy_setup.h"
#include "rl/rollout_service.h"
#include "rl/run_scaffold.h"
#include "rl/train_state.h"
#include "rollout/byte_codec.h"
#include "rollout/engine.h"
#include "rollout/rollout_backend.h"

namespace r1::rl {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// The tasks of held-out evaluation: the split's held-out part, or a named data set's test split.
std::vector<datasets::Task> eval_tasks_of(const Recipe& rc, const datasets::Split& split, const std::string& shared_dir, uint64_t seed,
                                          bool always = false) {
  std::vector<datasets::Task> tasks;
  if (rc.run.eval_every <= 0 && !always) return tasks;
  if (rc.eval.dataset.empty()) tasks = split.heldout;
  else {
    datasets::DataConfig ec = rc.data;
    ec.dataset = rc.eval.dataset;
    ec.path = rc.eval.path;
    ec.split = "test";
    tasks = datasets::load_tasks(ec, shared_dir, seed + 1);
  }
  if (rc.eval.limit > 0 && static_cast<int64_t>(tasks.size()) > rc.eval.limit) tasks.resize(rc.eval.limit);
  return tasks;
}

// A frozen copy of the policy (the KL anchor), in the policy's dtype.
policy::CausalLM make_reference(policy::CausalLM& model, torch::Device device) {
  policy::CausalLM reference(model->config());
  reference->to(device, model->parameters().front().scalar_type());
  torch::NoGradGuard ng;
  auto dst = reference->state();
  for (auto& [k, t] : model->state()) dst.at(k).copy_(t);
  for (auto& p : reference->parameters()) p.set_requires_grad(false);
  reference->eval();
  return reference;
}

void copy_into(policy::CausalLM& dst_model, policy::CausalLM& src) {
  torch::NoGradGuard ng;
  auto dst = dst_model->state();
  for (auto& [k, t] : src->state()) dst.at(k).copy_(t);
}

// The teacher of on-policy distillation, frozen, once it is known to read the student's tokens as
// the student does (its log-probs are taken on the student's token ids).
policy::CausalLM load_teacher(const Recipe& rc, const PolicyBundle& student, uint64_t seed, torch::Device device) {
  policy::PolicyConfig tc;
  tc.path = rc.distill.teacher;
  tc.tokenizer = rc.distill.teacher_tokenizer;
  PolicyBundle t = load_policy(tc, seed, device);
  const text::Tokenizer &a = student.tokenizer, &b = t.tokenizer;
  const std::string why = "distill.teacher: on-policy distillation needs the student's tokenizer, and " + rc.distill.teacher + "'s differs: ";
  if (a.vocab_size() != b.vocab_size())
    throw policy::PolicyError(why + "vocabularies of " + std::to_string(a.vocab_size()) + " and " + std::to_string(b.vocab_size()) + " tokens");
  for (int32_t id = 0; id < a.vocab_size(); ++id)
    if (a.token_bytes(id) != b.token_bytes(id))
      throw policy::PolicyError(why + "token " + std::to_string(id) + " is \"" + a.token_bytes(id) + "\" vs \"" + b.token_bytes(id) + "\"");
  if (t.model->config().vocab_size < a.vocab_size())
    throw policy::PolicyError("distill.teacher: its model scores " + std::to_string(t.model->config().vocab_size) + " tokens, fewer than the tokenizer's " +
                              std::to_string(a.vocab_size()));
  t.model->eval();
  for (auto& p : t.model->parameters()) p.set_requires_grad(false);
  return t.model;
}

// Held-out evaluation at `step`: the evals table and eval/* metrics.
EvalResult evaluate_and_record(const Recipe& rc, rollout::Engine& engine, const std::vector<datasets::Task>& tasks,
                         const text::PromptFormat& fmt, experiments::RunStore& store, int64_t run_id, int64_t step, uint64_t seed) {
  EvalOptions eo;
  eo.k = rc.eval.k;
  eo.temperature = rc.eval.temperature;
  eo.top_p = rc.eval.top_p;
  eo.max_new_tokens = rc.eval.max_new_tokens > 0 ? rc.eval.max_new_tokens : rc.rollout.max_new_tokens;
  eo.seed = seed + 7;
  eo.stop = rc.rollout.stop;
  const double t_eval = now_s();
  EvalResult r = evaluate(engine, tasks, fmt, eo);
  store.log_metric(run_id, step, "time/eval_s", now_s() - t_eval);
  std::string ds = rc.eval.dataset.empty() ? rc.data.dataset + "/holdout" : rc.eval.dataset;
  for (const auto& [k, v] : r.metrics()) {
    std::string key = k == "pass@k" ? "pass@" + std::to_string(eo.k) : k == "maj@k" ? "maj@" + std::to_string(eo.k) : k;
    store.add_eval(run_id, {step, ds, key, v, r.problems});
    store.log_metric(run_id, step, "eval/" + key, v);
  }
  store.flush();
  return r;
}

rewards::RewardStage reward_stage_of(const Recipe& rc, const TrainEnv& env, const RunScaffold& run) {
  rewards::StageOptions so;
  so.threads = static_cast<int>(rc.run.threads);
  so.isolate_host = env.reward_isolate_host;
  so.log = [&run](const std::string& s) { run.log(s); };
  return rewards::RewardStage::build(rc.rewards, so);
}

rollout::EngineConfig engine_config(const Recipe& rc) {
  rollout::EngineConfig ec;
  ec.max_batch_seqs = rc.rollout.max_batch_seqs > 0 ? rc.rollout.max_batch_seqs : rc.rl.prompts_per_step * rc.rollout.group_size;
  ec.max_batch_tokens = rc.rollout.max_batch_tokens;
  ec.record_routing = rc.rl.routing_replay;
  return ec;
}

void record_timing(const RolloutBatch& batch, double learner_tokens, double learn_s, double step_s, Metrics& m) {
  m["tokens_per_s/rollout"] = batch.rollout_s > 0 ? batch.generated_tokens / batch.rollout_s : 0;
  m["tokens_per_s/learner"] = learn_s > 0 ? learner_tokens / learn_s : 0;
  m["time/rollout_s"] = batch.rollout_s;
  m["time/reward_s"] = batch.reward_s;
  m["time/learn_s"] = learn_s;
  m["time/step_s"] = step_s;
}

std::vector<experiments::SampleRecord> sample_records(int64_t step, const std::vector<Sample>& all, int64_t limit) {
  std::vector<experiments::SampleRecord> out;
  for (int64_t i = 0; i < std::min<int64_t>(limit, static_cast<int64_t>(all.size())); ++i) {
    const Sample& sm = all[static_cast<size_t>(i)];
    experiments::SampleRecord rec;
    rec.step = step;
    rec.task_id = sm.task->id;
    rec.prompt = sm.task->question;
    rec.completion = sm.c.text;
    rec.reference = sm.task->answer;
    rec.reward = sm.reward;
    rec.reward_breakdown_json = sm.breakdown;
    rec.finish_reason = rollout::to_string(sm.c.finish);
    rec.prompt_tokens = sm.c.prompt_tokens;
    rec.completion_tokens = sm.c.completion_tokens;
    rec.weight_version = sm.c.weight_version;
    out.push_back(std::move(rec));
  }
  return out;
}

// Sample records as bytes between ranks: length-prefixed, so completions go byte for byte (any
// bytes a tokenizer decodes to) and a NaN reward stays NaN.
std::string to_bytes(const std::vector<experiments::SampleRecord>& recs) {
  rollout::ByteWriter b;
  for (const auto& r : recs) {
    b.put<int64_t>(r.step);
    for (const std::string* f : {&r.task_id, &r.prompt, &r.completion, &r.reference, &r.reward_breakdown_json, &r.finish_reason}) b.put_string(*f);
    b.put<double>(r.reward);
    b.put<int64_t>(r.prompt_tokens);
    b.put<int64_t>(r.completion_tokens);
    b.put<int64_t>(r.weight_version);
  }
  return b.take();
}

void append_from_bytes(const std::string& bytes, std::vector<experiments::SampleRecord>& out) {
  rollout::ByteReader in(bytes, "sample records from another rank");
  while (!in.at_end()) {
    experiments::SampleRecord r;
    r.step = in.get<int64_t>("step");
    for (std::string* f : {&r.task_id, &r.prompt, &r.completion, &r.reference, &r.reward_breakdown_json, &r.finish_reason}) *f = in.get_string("text");
    r.reward = in.get<double>("reward");
    r.prompt_tokens = in.get<int64_t>("prompt_tokens");
    r.completion_tokens = in.get<int64_t>("completion_tokens");
    r.weight_version = in.get<int64_t>("weight_version");
    out.push_back(std::move(r));
  }
}

// The samples one process would record: the batch's first `limit`. With several ranks each sends
// its own first `limit` to rank 0 (the ranks' shares are contiguous slices of the batch, in rank
// order), which keeps the first `limit` of them all. Every rank must call it; rank 0 writes.
void record_samples(experiments::RunStore& store, int64_t run_id, int64_t step, const std::vector<Sample>& all, int64_t limit,
                    dist::ProcessGroup* group) {
  std::vector<experiments::SampleRecord> recs = sample_records(step, all, limit);
  if (group && group->size() > 1) {
    const std::vector<std::string> parts = group->gather_bytes(to_bytes(recs), 0);
    if (group->rank() != 0) return;
    recs.clear();
    for (const std::string& p : parts) append_from_bytes(p, recs);
    if (static_cast<int64_t>(recs.size()) > limit) recs.resize(static_cast<size_t>(limit));
  }
  for (const auto& rec : recs) store.log_sample(run_id, rec);
}

// dist/weights_in_sync: every check_weights_every steps, whether every rank holds the same weights
// (a checksum compared by max and min across ranks): silent divergence shows as 0.
void record_dist_metrics(dist::ProcessGroup& g, policy::CausalLM& model, const dist::DistConfig& dc, int64_t step, Metrics& m) {
  m["dist/world_size"] = g.size();
  if (dc.check_weights_every <= 0 || step % dc.check_weights_every != 0) return;
  torch::NoGradGuard ng;
  double sum = 0, abs_sum = 0;
  for (const auto& p : model->parameters()) {
    auto d = p.to(torch::kFloat64);
    sum += d.sum().item<double>();
    abs_sum += d.abs().sum().item<double>();
  }
  auto mx = g.all_reduce({sum, abs_sum}, dist::ReduceOp::max), mn = g.all_reduce({sum, abs_sum}, dist::ReduceOp::min);
  m["dist/weights_in_sync"] = mx[0] == mn[0] && mx[1] == mn[1] ? 1.0 : 0.0;
}


// rollout.backend = "remote": the rollout service, its address tagged on the run
// (rollout_service=HOST:PORT, replacing an earlier one) so `r1 runs show` and SQL can find it.
std::unique_ptr<rollout::RemoteRollout> start_remote_rollout(const Recipe& rc, PolicyBundle& pb, const RunScaffold& run,
                                                             experiments::RunStore& store, int64_t run_id, dist::ProcessGroup* group,
                                                             int64_t version) {
  if (rc.rollout.backend != rollout::BackendKind::remote) return nullptr;
  if (group)
    throw policy::PolicyError("rollout.backend = \"remote\": the rollout service runs beside one learner process, and this job has " +
                              std::to_string(group->size()) + " ranks");
  auto remote = start_rollout_service(rc, pb, version, run.interrupt_flag(), [&run](const std::string& line) { run.log(line); });
  if (rc.rollout.max_staleness > 0 && rc.rl.is_correction == IsCorrection::none)
    run.log("note: rollout.max_staleness = " + std::to_string(rc.rollout.max_staleness) +
            " trains on samples up to that many versions old as if on-policy; rl.is_correction = \"tis\" weights them by pi_old / pi_behaviour");
  if (run.writer()) {
    std::vector<std::string> old;
    for (const auto& t : store.get_run(run_id).tags)
      if (t.rfind("rollout_service=", 0) == 0) old.push_back(t);
    if (!old.empty()) store.remove_tags(run_id, old);
    store.add_tags(run_id, {"rollout_service=" + remote->address()});
  }
  return remote;
}

// How stale the trained samples were: the learner's version minus the one that started each
// (async/staleness_*), and per token the one that produced it (in-flight updates make a
// completion's later tokens newer than its first).
void record_async_metrics(const RolloutBatch& batch, int64_t version, Metrics& m) {
  double sum = 0, mx = 0, token_lag = 0, tokens = 0, updated = 0;
  for (const Sample& sm : batch.kept) {
    const double lag = static_cast<double>(version - sm.c.weight_version);
    sum += lag;
    mx = std::max(mx, lag);
    for (int64_t v : sm.c.token_versions) {
      token_lag += static_cast<double>(version - v);
      updated += v != sm.c.weight_version;
      ++tokens;
    }
  }
  m["async/staleness_mean"] = batch.kept.empty() ? 0 : sum / static_cast<double>(batch.kept.size());
  m["async/staleness_max"] = mx;
  m["async/token_staleness_mean"] = tokens > 0 ? token_lag / tokens : 0;
  m["async/inflight_token_frac"] = tokens > 0 ? updated / tokens : 0;  // tokens sampled after their completion's weights changed
  m["async/dropped"] = static_cast<double>(batch.stale_dropped);
  m["async/learner_wait_s"] = batch.rollout_s;  // waiting for completions, not training
}

// The workers over this step: how many, how idle, and what the weight sync cost.
void record_remote_metrics(const rollout::RemoteRollout& remote, const rollout::RemoteRolloutStats& before, Metrics& m) {
  const rollout::RemoteRolloutStats now = remote.stats();
  const double online = now.worker_online_s - before.worker_online_s, busy = now.worker_busy_s - before.worker_busy_s;
  m["rollout/workers"] = static_cast<double>(remote.workers());
  m["async/worker_idle_frac"] = online > 0 ? std::clamp(1.0 - busy / online, 0.0, 1.0) : 0.0;
  m["rollout/groups_reissued"] = static_cast<double>(now.groups_reissued - before.groups_reissued);
  m["rollout/late_results_ignored"] = static_cast<double>(now.late_results_ignored - before.late_results_ignored);
  m["rollout/weight_sync_s"] = now.last_sync_s;
  m["rollout/weight_sync_mb"] = static_cast<double>(now.weight_bytes_sent - before.weight_bytes_sent) / 1e6;
}

// What stage 6 needs besides the step's own figures.
struct StepContext {
  const Recipe& rc;
  int64_t run_id;
  experiments::RunStore& store;
  rollout::RolloutBackend& rollouts;
  rollout::RemoteRollout* remote;  // remote rollout, or nullptr
  dist::ProcessGroup* group;       // several ranks, or nullptr
  bool writer;
};

// Stage 6 after the timing: the version, the workers' and the ranks' figures, then the step's
// samples and metrics in the store.
void record_step(const StepContext& c, int64_t s, const RolloutBatch& batch, const rollout::RemoteRolloutStats& before, policy::CausalLM& model,
                 torch::optim::AdamW& opt, Metrics& m) {
  if (c.rc.rollout.max_staleness > 0) m.erase("tokens_per_s/rollout");  // the learner sees its waits, not the workers' sampling time
  m["weight_version"] = static_cast<double>(c.rollouts.weight_version());
  if (c.remote) record_remote_metrics(*c.remote, before, m);
  if (c.group) {
    record_dist_metrics(*c.group, model, c.rc.dist, s, m);
    m["dist/optimizer_state_mb"] = OptimizerShards::state_bytes(opt) / 1e6;  // rank 0's
  }
  // Rank 0 records the batch's first samples, whichever rank sampled them, as one process would.
  if (c.rc.run.samples_per_step > 0) record_samples(c.store, c.run_id, s, batch.all, c.rc.run.samples_per_step, c.group);
  if (c.writer) {
    c.store.log_metrics(c.run_id, s, std::vector<std::pair<std::string, double>>(m.begin(), m.end()));
    c.store.flush();
  }
}

// A resumed asynchronous run: the checkpoint's batches sampled ahead, issued again with the
// completions it kept. The next batch is handed out before the first update: with a worker there,
// it is sampled with the restored version, as the uninterrupted run sampled it. False: Ctrl-C
// while waiting for that worker.
bool restore_inflight(RolloutPipeline& pipeline, const TrainState& st, rollout::RemoteRollout* remote, const RunScaffold& run) {
  const auto [batches, groups] = pipeline.restore(st.inflight);
  if (batches == 0) return true;
  run.log("resuming with " + std::to_string(batches) + (batches == 1 ? " batch" : " batches") + " sampled ahead, " + std::to_string(groups) +
          (groups == 1 ? " group" : " groups") + " of completions kept");
  try {
    if (remote) remote->wait_for_worker();
  } catch (const rollout::Interrupted&) {
    return false;
  }
  return true;
}

}  // namespace

TrainResult train_grpo(const Recipe& rc, int64_t run_id, experiments::RunStore& store, const TrainEnv& env, bool resume) {
  const RlConfig& rl = rc.rl;
  RunScaffold run(rc, run_id, store, env);
  const uint64_t seed = run.seed();
  const torch::Device device = run.device();

  // ---- set-up: policy, data, rewards, rollout, optimizer over fp32 masters, reference
  PolicyBundle pb = load_policy(rc.model, seed, device);
  policy::CausalLM& model = pb.model;
  text::PromptFormat fmt(rc.data.template_name, pb.tokenizer);
  datasets::Split split = datasets::split_tasks(datasets::load_tasks(rc.data, env.shared_dir, seed), rc.data, seed);
  const std::vector<datasets::Task> eval_tasks = eval_tasks_of(rc, split, env.shared_dir, seed);
  rewards::RewardStage reward_stage = reward_stage_of(rc, env, run);
  rollout::Engine engine(model, engine_config(rc), eos_ids(pb.tokenizer, model->config()), token_text(pb.tokenizer));
  dist::ProcessGroup* group = env.group && env.group->size() > 1 ? env.group : nullptr;
  // The loop samples and pushes weights only through the backend; evaluation stays in process.
  rollout::InProcessRollout in_process(engine);

  MasterWeights masters(model);
  torch::optim::AdamW opt(masters.params(),
                          torch::optim::AdamWOptions(rl.lr).betas({rl.adam_beta1, rl.adam_beta2}).eps(rl.adam_eps).weight_decay(rl.weight_decay));
  // The KL anchor: a frozen copy of the initial policy, or the teacher of on-policy distillation.
  const bool teacher = rc.distill.mode == DistillMode::on_policy && !rc.distill.teacher.empty();
  policy::CausalLM reference{nullptr};
  if (teacher) reference = load_teacher(rc, pb, seed, device);
  else if (rl.beta > 0) reference = make_reference(model, device);
  // PPO's value model (advantage = gae).
  std::unique_ptr<Critic> critic = rl.critic != CriticKind::none ? std::make_unique<Critic>(rl, model, device) : nullptr;
  datasets::TaskCursor cursor(&split.train, seed, rc.data.shuffle);
  // A teacher is reloaded from its own folder on resume, not copied into every checkpoint.
  const CheckpointParts parts{&model, &opt, rl.beta > 0 && !teacher ? &reference : nullptr, &masters, pb.tokenizer_dir, critic.get()};

  OptimizerShards shards(masters.params(), group, rl.shard_optimizer);

  // ---- resume
  TrainState st;
  if (resume) {
    if (auto restored = run.resume(parts)) {
      st = *restored;
      cursor.seek(st.data_position);
      in_process.set_weight_version(st.weight_version);
    }
    shards.drop_others_state(opt);  // every rank read the whole state; each keeps its share
  }
  // Remote workers join once the weights are the ones to sample with (a resumed run's restored ones).
  std::unique_ptr<rollout::RemoteRollout> remote = start_remote_rollout(rc, pb, run, store, run_id, group, st.weight_version);
  rollout::RolloutBackend& rollouts = remote ? static_cast<rollout::RolloutBackend&>(*remote) : in_process;
  // A checkpoint holds the whole optimizer state whatever the world size: rank 0 gathers the
  // shards first (every rank takes part), and drops them again after.
  auto with_whole_state = [&](auto&& write) {
    shards.gather_state(opt);
    std::string dir = write();
    shards.drop_others_state(opt);
    return dir;
  };
  RolloutStage rollout_stage{rc, rollouts, reward_stage, cursor, fmt, seed, group};
  RolloutPipeline rollout_pipeline(rollout_stage, rc.rollout.max_staleness, rc.run.steps);
  if (!restore_inflight(rollout_pipeline, st, remote.get(), run)) return TrainResult{experiments::RunStatus::interrupted, st.step, ""};
  // A checkpoint waits for the batches sampled ahead to arrive whole (they are waited for at the
  // next steps anyway), so that a resume repeats none of their sampling; Ctrl-C takes what is there.
  auto inflight_now = [&](bool wait) {
    try {
      return rollout_pipeline.inflight_state(wait);
    } catch (const rollout::Interrupted&) {
      return rollout_pipeline.inflight_state(false);
    }
  };
  auto save = [&](int64_t step) {
    st.data_position = rollout_pipeline.data_position();
    st.inflight = inflight_now(true);
    st.weight_version = rollouts.weight_version();
    return with_whole_state([&] { return run.save(step, st, parts); });
  };
  auto run_eval = [&](int64_t step) {
    if (eval_tasks.empty()) return;
    model->eval();
    EvalResult r = evaluate_and_record(rc, engine, eval_tasks, fmt, store, run_id, step, seed);
    run.log("eval at step " + std::to_string(step) + ": pass@1 " + std::to_string(r.pass1) + " over " + std::to_string(r.problems) + " problems");
  };

  Learner learner{model, rl.beta > 0 ? &reference : nullptr, masters, opt, rl, rc.rollout.temperature, rc.rollout.max_new_tokens,
                  rc.run.steps * rl.mu * rl.n_minibatches, device, seed, critic.get(), group, shards.active() ? &shards : nullptr};
  const bool writer = run.writer();

  TrainResult result;
  // Ctrl-C: a checkpoint at `step` (unless there is one), the run interrupted.
  auto stop_at = [&](int64_t step) {
    st.data_position = rollout_pipeline.data_position();
    st.inflight = inflight_now(false);
    st.weight_version = rollouts.weight_version();
    if (auto dir = with_whole_state([&] { return run.save_if_new(step, st, parts); }); !dir.empty()) result.last_checkpoint = dir;
    if (writer) store.flush();
    result.status = experiments::RunStatus::interrupted;
    result.steps_done = step;
    return result;
  };
  const int64_t first_step = st.step;
  run.start_steps();
  for (int64_t step = st.step; step < rc.run.steps; ++step) {
    const int64_t s = step + 1;  // logged step: optimizer steps done after this one
    // Ranks stop together: a Ctrl-C seen by any of them (torchrun forwards it to all) stops all.
    bool stop = run.interrupted();
    if (group) stop = group->all_reduce({stop ? 1.0 : 0.0}, dist::ReduceOp::max)[0] > 0;
    if (stop) return stop_at(step);
    const double t0 = now_s();
    Metrics m;

    // ---- 1-2. rollout and rewards
    model->eval();
    const rollout::RemoteRolloutStats before = remote ? remote->stats() : rollout::RemoteRolloutStats{};
    RolloutBatch batch;
    try {
      batch = rollout_pipeline.next(s);
    } catch (const rollout::Interrupted&) {  // Ctrl-C while waiting for remote workers
      return stop_at(step);
    }
    record_rollout_metrics(batch, reward_stage.names(), m, group);
    if (remote) record_async_metrics(batch, rollouts.weight_version(), m);
    // ---- 3. advantages
    const double l0 = now_s();
    std::vector<Seq> seqs = build_sequences(batch.kept, rl, m, group);
    // ---- 4. learn
    const double learner_tokens = learn(learner, seqs, s, st, m);
    // ---- 5. sync weights (and refresh the reference)
    try {
      rollouts.sync_weights(model);
    } catch (const rollout::Interrupted&) {  // Ctrl-C while waiting for the c10d weight group's workers
      // This step's update is made but not published or recorded: the run resumes from its last
      // checkpoint, which this half-done step does not overwrite.
      if (writer) store.flush();
      return TrainResult{experiments::RunStatus::interrupted, step, result.last_checkpoint};
    }
    if (rl.beta > 0 && !teacher && rl.ref_sync_every > 0 && s % rl.ref_sync_every == 0) copy_into(reference, model);
    const double learn_s = now_s() - l0;

    // ---- 6. record
    record_timing(batch, learner_tokens, learn_s, now_s() - t0, m);
    record_step(StepContext{rc, run_id, store, rollouts, remote.get(), group, writer}, s, batch, before, model, opt, m);
    result.steps_done = s;
    st.step = s;
    // Evaluate before checkpointing: a resume starts after the checkpoint's step, so whatever that
    // step records must already be in the store when the checkpoint is registered.
    if (writer && rc.run.eval_every > 0 && (s % rc.run.eval_every == 0 || s == rc.run.steps)) run_eval(s);
    if (rc.run.checkpoint_every > 0 && s % rc.run.checkpoint_every == 0 && s < rc.run.steps) result.last_checkpoint = save(s);
    run.report(s, m, first_step);
  }
  if (rc.run.steps > 0) result.last_checkpoint = save(rc.run.steps);
  if (writer) store.flush();
  result.status = experiments::RunStatus::finished;
  return result;
}

EvalResult evaluate_recipe(const Recipe& rc, int64_t run_id, experiments::RunStore& store, const TrainEnv& env) {
  RunScaffold run(rc, run_id, store, env);
  const uint64_t seed = run.seed();
  datasets::Split split = datasets::split_tasks(datasets::load_tasks(rc.data, env.shared_dir, seed), rc.data, seed);
  const std::vector<datasets::Task> tasks = eval_tasks_of(rc, split, env.shared_dir, seed, true);
  if (tasks.empty()) throw policy::PolicyError("eval: no held-out problems (set data.holdout, or eval.dataset)");
  store.truncate_after(run_id, -1);
  SamplingModel sm(rc.model, rc.data.template_name, seed, run.device(), std::max<int64_t>(256, engine_config(rc).max_batch_seqs));
  return evaluate_and_record(rc, sm.engine, tasks, sm.format, store, run_id, 0, seed);
}

}  // namespace r1::rl
