// The GRPO training loop (see trainer.h).
#include "rl/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include "datasets/task.h"
#include "experiments/config_binder.h"
#include "experiments/sha256.h"
#include "policy/device.h"
#include "policy/prompt_format.h"
#include "rewards/reward.h"
#include "rl/evaluation.h"
#include "rl/grpo.h"
#include "rl/policy_setup.h"
#include "rl/train_state.h"
#include "rollout/engine.h"
#include "rollout/rollout_backend.h"

namespace fs = std::filesystem;

namespace r1::rl {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  return x ^ (x >> 29);
}

struct Sample {
  int64_t group = 0;
  const datasets::Task* task = nullptr;
  std::vector<int32_t> prompt;
  rollout::Completion c;
  double reward = 0;
  std::vector<double> components;
  std::string breakdown, errors;
  bool drop = false;
};

double mean_of(const std::vector<double>& v) { return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / v.size(); }
double std_of(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  double m = mean_of(v), s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / (v.size() - 1));
}

// One training sequence: prompt + completion, with per-token old/ref log-probs of the completion.
struct Seq {
  std::vector<int64_t> tokens;  // prompt + completion
  int64_t prompt_len = 0, completion_len = 0;
  bool masked = false;          // no loss (truncated under mask_truncated, or empty)
  float advantage = 0;
  torch::Tensor old_logp, ref_logp;  // [completion_len]
};

struct MicroBatch {
  torch::Tensor input, target, mask;  // [b, L-1]
  std::vector<size_t> rows;
};

MicroBatch make_batch(const std::vector<Seq>& seqs, const std::vector<size_t>& rows, torch::Device dev) {
  int64_t L = 2;
  for (size_t r : rows) L = std::max<int64_t>(L, static_cast<int64_t>(seqs[r].tokens.size()));
  const int64_t b = static_cast<int64_t>(rows.size());
  std::vector<int64_t> in(b * (L - 1), 0), tg(b * (L - 1), 0);
  std::vector<float> m(b * (L - 1), 0.f);
  for (int64_t i = 0; i < b; ++i) {
    const Seq& s = seqs[rows[i]];
    const int64_t n = static_cast<int64_t>(s.tokens.size());
    for (int64_t t = 0; t + 1 < n; ++t) {
      in[i * (L - 1) + t] = s.tokens[t];
      tg[i * (L - 1) + t] = s.tokens[t + 1];
    }
    if (!s.masked)
      for (int64_t j = 0; j < s.completion_len; ++j) m[i * (L - 1) + s.prompt_len - 1 + j] = 1.f;
  }
  MicroBatch mb;
  mb.input = torch::tensor(in, torch::kLong).view({b, L - 1}).to(dev);
  mb.target = torch::tensor(tg, torch::kLong).view({b, L - 1}).to(dev);
  mb.mask = torch::tensor(m, torch::kFloat32).view({b, L - 1}).to(dev);
  mb.rows = rows;
  return mb;
}

// Per-sequence completion log-probs [completion_len] under `model` (no grad).
void completion_logprobs(policy::CausalLM& model, std::vector<Seq>& seqs, int64_t micro, torch::Device dev, bool ref) {
  torch::NoGradGuard ng;
  std::vector<size_t> all(seqs.size());
  std::iota(all.begin(), all.end(), size_t{0});
  for (size_t off = 0; off < all.size(); off += static_cast<size_t>(micro)) {
    std::vector<size_t> rows(all.begin() + static_cast<long>(off), all.begin() + static_cast<long>(std::min(all.size(), off + static_cast<size_t>(micro))));
    MicroBatch mb = make_batch(seqs, rows, dev);
    auto lp = token_logprobs(model->forward(mb.input), mb.target).to(torch::kCPU);
    for (size_t i = 0; i < rows.size(); ++i) {
      Seq& s = seqs[rows[i]];
      auto v = s.completion_len > 0 ? lp[static_cast<int64_t>(i)].narrow(0, s.prompt_len - 1, s.completion_len).clone() : torch::zeros({0});
      (ref ? s.ref_logp : s.old_logp) = v;
    }
  }
}

}  // namespace

TrainResult train_grpo(const Recipe& rc, int64_t run_id, experiments::RunStore& store, const TrainEnv& env, bool resume) {
  auto log = [&](const std::string& s) {
    if (env.log) env.log(s);
  };
  const RlConfig& rl = rc.rl;
  const uint64_t seed = static_cast<uint64_t>(rc.run.seed);
  torch::manual_seed(seed);
  policy::set_threads(rc.run.threads);
  torch::Device device = policy::pick_device(std::string(experiments::enum_to_name(rc.run.device)));
  // CPU: every kernel we use has a deterministic form. CUDA's index_add_ and friends do not, and
  // forcing them would stop the run, so there the flag is left to the kernels' defaults.
  policy::set_deterministic(rc.run.deterministic && device.is_cpu());

  PolicyBundle pb = load_policy(rc.model, seed, device);
  policy::CausalLM& model = pb.model;
  policy::PromptFormat fmt(rc.data.template_name, pb.tokenizer);
  auto all_tasks = datasets::load_tasks(rc.data, env.shared_dir, seed);
  datasets::Split split = datasets::split_tasks(std::move(all_tasks), rc.data, seed);
  std::vector<datasets::Task> eval_tasks;
  if (rc.run.eval_every > 0) {
    if (rc.eval.dataset.empty()) eval_tasks = split.heldout;
    else {
      datasets::DataConfig ec = rc.data;
      ec.dataset = rc.eval.dataset;
      ec.path = rc.eval.path;
      ec.split = "test";
      eval_tasks = datasets::load_tasks(ec, env.shared_dir, seed + 1);
    }
    if (rc.eval.limit > 0 && static_cast<int64_t>(eval_tasks.size()) > rc.eval.limit) eval_tasks.resize(rc.eval.limit);
  }
  rewards::StageOptions so;
  so.threads = static_cast<int>(rc.run.threads);
  so.isolate_host = env.reward_isolate_host;
  so.log = [&](const std::string& s) { log(s); };
  rewards::RewardStage stage = rewards::RewardStage::build(rc.rewards, so);
  const auto& names = stage.names();
  int accuracy_fn = -1;
  for (size_t f = 0; f < names.size() && accuracy_fn < 0; ++f)
    if (names[f] == "math_accuracy" || names[f] == "countdown" || names[f] == "code_tests") accuracy_fn = static_cast<int>(f);

  const int64_t B = rl.prompts_per_step, G = rc.rollout.group_size;
  rollout::EngineConfig ec;
  ec.max_batch_seqs = rc.rollout.max_batch_seqs > 0 ? rc.rollout.max_batch_seqs : B * G;
  ec.max_batch_tokens = rc.rollout.max_batch_tokens;
  rollout::Engine engine(model, ec, eos_ids(pb.tokenizer, model->config()), token_text(pb.tokenizer));
  // The loop samples and pushes weights only through the backend; evaluation stays in process.
  rollout::InProcessRollout in_process(engine);
  rollout::RolloutBackend& rollouts = in_process;

  auto params = model->parameters();
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(rl.lr).betas({rl.adam_beta1, rl.adam_beta2}).eps(rl.adam_eps).weight_decay(rl.weight_decay));
  policy::CausalLM reference{nullptr};
  if (rl.beta > 0) {
    reference = policy::CausalLM(model->config());
    reference->to(device, model->parameters().front().scalar_type());
    torch::NoGradGuard ng;
    auto dst = reference->state();
    for (auto& [k, t] : model->state()) dst.at(k).copy_(t);
    for (auto& p : reference->parameters()) p.set_requires_grad(false);
    reference->eval();
  }
  datasets::TaskCursor cursor(&split.train, seed, rc.data.shuffle);

  const std::string run_name = store.get_run(run_id).name;
  const fs::path ckpt_root = fs::path(rc.run.out_dir) / (run_name + "-" + std::to_string(run_id));
  TrainState st;
  if (resume) {
    auto ckpts = store.checkpoints(run_id);
    if (!ckpts.empty()) {
      const auto& last = ckpts.back();
      st = load_checkpoint(last.path, model, &opt, rl.beta > 0 ? &reference : nullptr);
      cursor.seek(st.data_position);
      rollouts.set_weight_version(st.weight_version);
      store.truncate_after(run_id, st.step);
      log("resumed run " + std::to_string(run_id) + " from step " + std::to_string(st.step) + " (" + last.path + ")");
    } else {
      store.truncate_after(run_id, 0);
      log("run " + std::to_string(run_id) + " has no checkpoint: starting from step 0");
    }
    store.set_status(run_id, experiments::RunStatus::running);
  }
  const int64_t total_opt_steps = rc.run.steps * rl.mu * rl.n_minibatches;

  auto save = [&](int64_t step) -> std::string {
    char name[32];
    std::snprintf(name, sizeof name, "step-%06lld", static_cast<long long>(step));
    std::string dir = (ckpt_root / name).string();
    st.step = step;
    st.data_position = cursor.position();
    st.weight_version = rollouts.weight_version();
    int64_t bytes = save_checkpoint(dir, model, &opt, rl.beta > 0 ? &reference : nullptr, st, pb.tokenizer_dir);
    store.add_checkpoint(run_id, {step, dir, experiments::sha256_file(dir + "/model.safetensors"), bytes});
    if (rc.run.keep_checkpoints > 0) {
      auto all = store.checkpoints(run_id);
      for (size_t i = 0; i + static_cast<size_t>(rc.run.keep_checkpoints) < all.size(); ++i) {
        std::error_code e;
        fs::remove_all(all[i].path, e);
        store.remove_checkpoint(run_id, all[i].step);
      }
    }
    log("checkpoint " + dir);
    return dir;
  };
  auto run_eval = [&](int64_t step) {
    if (eval_tasks.empty()) return;
    EvalOptions eo;
    eo.k = rc.eval.k;
    eo.temperature = rc.eval.temperature;
    eo.top_p = rc.eval.top_p;
    eo.max_new_tokens = rc.eval.max_new_tokens > 0 ? rc.eval.max_new_tokens : rc.rollout.max_new_tokens;
    eo.seed = seed + 7;
    eo.stop = rc.rollout.stop;
    model->eval();
    const double t_eval = now_s();
    EvalResult r = evaluate(engine, eval_tasks, fmt, eo);
    store.log_metric(run_id, step, "time/eval_s", now_s() - t_eval);
    std::string ds = rc.eval.dataset.empty() ? rc.data.dataset + "/holdout" : rc.eval.dataset;
    for (const auto& [k, v] : r.metrics()) {
      std::string key = k == "pass@k" ? "pass@" + std::to_string(eo.k) : k == "maj@k" ? "maj@" + std::to_string(eo.k) : k;
      store.add_eval(run_id, {step, ds, key, v, r.problems});
      store.log_metric(run_id, step, "eval/" + key, v);
    }
    store.flush();
    log("eval at step " + std::to_string(step) + ": pass@1 " + std::to_string(r.pass1) + " over " + std::to_string(r.problems) + " problems");
  };

  TrainResult result;
  double t_start = now_s();
  int64_t first_step = st.step;
  for (int64_t step = st.step; step < rc.run.steps; ++step) {
    const int64_t s = step + 1;  // logged step: optimizer steps done after this one
    if (env.interrupted && env.interrupted->load()) {
      if (step > 0 && (store.checkpoints(run_id).empty() || store.checkpoints(run_id).back().step != step)) result.last_checkpoint = save(step);
      store.flush();
      result.status = experiments::RunStatus::interrupted;
      result.steps_done = step;
      return result;
    }
    double t0 = now_s(), rollout_s = 0, reward_s = 0, learn_s = 0;
    std::map<std::string, double> m;

    // ---- 1-2. rollout and rewards (DAPO dynamic sampling: more prompts until the batch is full)
    std::vector<Sample> all, kept;
    int64_t groups_total = 0, groups_zero_std = 0, rounds = 0, gen_tokens = 0;
    model->eval();
    for (;;) {
      int64_t want = B - static_cast<int64_t>(kept.size()) / G;
      if (rounds == 0) want = B;
      std::vector<const datasets::Task*> drawn;
      std::vector<rollout::Request> reqs;
      for (int64_t j = 0; j < want; ++j) {
        const datasets::Task& t = cursor.next();
        drawn.push_back(&t);
        rollout::Request r;
        r.prompt = prompt_ids(fmt, t);
        r.n = G;
        r.params.temperature = rc.rollout.temperature;
        r.params.top_p = rc.rollout.top_p;
        r.params.top_k = rc.rollout.top_k;
        r.params.min_p = rc.rollout.min_p;
        r.params.max_new_tokens = rc.rollout.max_new_tokens;
        r.params.stop_strings = rc.rollout.stop;
        r.params.include_stop = rc.rollout.include_stop;
        r.params.seed = mix(mix(seed, static_cast<uint64_t>(s)), static_cast<uint64_t>(rounds * 100000 + j));
        reqs.push_back(std::move(r));
      }
      double r0 = now_s();
      auto outs = rollouts.generate(reqs);
      rollout_s += now_s() - r0;
      std::vector<Sample> batch(outs.size());
      std::vector<rewards::TaskRef> trefs(outs.size());
      std::vector<rewards::CompletionRef> crefs(outs.size());
      std::vector<const rewards::TaskRef*> tp;
      std::vector<const rewards::CompletionRef*> cp;
      for (size_t i = 0; i < outs.size(); ++i) {
        Sample& sm = batch[i];
        sm.group = groups_total + outs[i].request;
        sm.task = drawn[outs[i].request];
        sm.prompt = reqs[outs[i].request].prompt;
        sm.c = std::move(outs[i]);
        gen_tokens += sm.c.completion_tokens;
        trefs[i] = task_ref(*sm.task);
        crefs[i] = {sm.c.text, sm.c.completion_tokens, rollout::to_string(sm.c.finish)};
        tp.push_back(&trefs[i]);
        cp.push_back(&crefs[i]);
      }
      double w0 = now_s();
      auto rr = stage.score(tp, cp);
      reward_s += now_s() - w0;
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i].reward = rr.totals[i];
        for (size_t f = 0; f < names.size(); ++f) batch[i].components.push_back(rr.components[f][i]);
        batch[i].breakdown = rr.breakdown_json(i);
        batch[i].errors = rr.errors[i];
        batch[i].drop = rr.drop[i];
      }
      m["reward_errors"] += std::accumulate(rr.error_counts.begin(), rr.error_counts.end(), 0.0);
      // Groups: zero reward spread teaches nothing; a "drop" failure removes the group.
      for (int64_t g = 0; g < want; ++g) {
        std::vector<double> r;
        bool dropped = false;
        for (int64_t k = 0; k < G; ++k) {
          const Sample& sm = batch[g * G + k];
          r.push_back(sm.reward);
          dropped = dropped || sm.drop;
        }
        bool zero = std_of(r) == 0.0;
        groups_zero_std += zero;
        bool keep = !dropped && !(rl.dynamic_sampling && zero);
        for (int64_t k = 0; k < G; ++k) {
          if (keep) kept.push_back(batch[g * G + k]);
          all.push_back(batch[g * G + k]);
        }
      }
      groups_total += want;
      if (!rl.dynamic_sampling || static_cast<int64_t>(kept.size()) >= B * G || rounds >= rl.max_extra_rounds) break;
      ++rounds;
    }
    if (static_cast<int64_t>(kept.size()) > B * G) kept.resize(static_cast<size_t>(B * G));

    // ---- metrics of what was sampled
    {
      std::vector<double> rw, lens;
      int64_t clipped = 0, correct = 0;
      std::vector<std::vector<double>> comp(names.size());
      for (const auto& sm : all) {
        rw.push_back(sm.reward);
        lens.push_back(static_cast<double>(sm.c.completion_tokens));
        clipped += sm.c.finish == rollout::FinishReason::length;
        for (size_t f = 0; f < names.size(); ++f) comp[f].push_back(sm.components[f]);
        if (accuracy_fn >= 0) correct += sm.components[accuracy_fn] >= 0.999;
      }
      m["reward"] = mean_of(rw);
      m["reward_std"] = std_of(rw);
      for (size_t f = 0; f < names.size(); ++f) {
        m["rewards/" + names[f] + "/mean"] = mean_of(comp[f]);
        m["rewards/" + names[f] + "/std"] = std_of(comp[f]);
      }
      if (accuracy_fn >= 0) m["accuracy"] = static_cast<double>(correct) / std::max<size_t>(1, all.size());
      m["frac_reward_zero_std"] = static_cast<double>(groups_zero_std) / std::max<int64_t>(1, groups_total);
      m["completions/mean_length"] = mean_of(lens);
      m["completions/min_length"] = lens.empty() ? 0 : *std::min_element(lens.begin(), lens.end());
      m["completions/max_length"] = lens.empty() ? 0 : *std::max_element(lens.begin(), lens.end());
      m["completions/clipped_ratio"] = static_cast<double>(clipped) / std::max<size_t>(1, all.size());
      m["dynamic/extra_rounds"] = static_cast<double>(rounds);
      m["dynamic/kept_groups"] = static_cast<double>(kept.size() / std::max<int64_t>(1, G));
    }

    // ---- 3. advantages over the kept groups
    double l0 = now_s();
    std::vector<Seq> seqs(kept.size());
    if (!kept.empty()) {
      std::vector<double> rw;
      std::vector<int64_t> gid;
      for (const auto& sm : kept) rw.push_back(sm.reward), gid.push_back(sm.group);
      auto adv = compute_advantages(torch::tensor(rw, torch::kFloat64), gid, rl.scale, rl.adv_eps);
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
        av.push_back(q.advantage);
      }
      m["advantages/mean"] = mean_of(av);
      m["advantages/std"] = std_of(av);
    }

    // ---- 4. learn: mu epochs over n_minibatches, micro-batches with global normalisation
    model->train();
    const int64_t N = static_cast<int64_t>(seqs.size());
    const int64_t micro = rl.micro_batch_size > 0 ? rl.micro_batch_size : std::max<int64_t>(1, N);
    const bool need_old = !(rl.mu == 1 && rl.n_minibatches == 1);
    if (N > 0 && need_old) completion_logprobs(model, seqs, micro, device, false);
    if (N > 0 && rl.beta > 0) completion_logprobs(reference, seqs, micro, device, true);
    LossStats stats;
    double loss_sum = 0, grad_norm_sum = 0, entropy_sum = 0, entropy_tokens = 0, learner_tokens = 0, max_load_ratio = 0;
    int64_t updates = 0;
    for (auto& moe : model->moe_layers()) moe->reset_load();
    if (N > 0) {
      for (int64_t epoch = 0; epoch < rl.mu; ++epoch) {
        std::vector<size_t> order(N);
        std::iota(order.begin(), order.end(), size_t{0});
        std::mt19937_64 rng(mix(mix(seed, static_cast<uint64_t>(s)), static_cast<uint64_t>(epoch) + 17));
        for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
        const int64_t per_mb = (N + rl.n_minibatches - 1) / rl.n_minibatches;
        for (int64_t mbi = 0; mbi < rl.n_minibatches; ++mbi) {
          int64_t from = mbi * per_mb, to = std::min<int64_t>(N, from + per_mb);
          if (from >= to) break;
          LossNorm norm;
          norm.max_len = static_cast<double>(rc.rollout.max_new_tokens);
          norm.sequences = static_cast<double>(to - from);
          for (int64_t i = from; i < to; ++i)
            if (!seqs[order[i]].masked) norm.tokens += static_cast<double>(seqs[order[i]].completion_len);
          opt.zero_grad();
          double mb_loss = 0;
          for (int64_t off = from; off < to; off += micro) {
            std::vector<size_t> rows(order.begin() + off, order.begin() + std::min<int64_t>(to, off + micro));
            MicroBatch mb = make_batch(seqs, rows, device);
            auto logits = model->forward(mb.input);                       // [b, L-1, V]
            auto logp = token_logprobs(logits, mb.target);                // [b, L-1]
            learner_tokens += static_cast<double>(mb.input.numel());
            if (epoch == 0) {
              torch::NoGradGuard ng;
              entropy_sum += (token_entropy(logits.detach()) * mb.mask).sum().item<double>();
              entropy_tokens += mb.mask.sum().item<double>();
            }
            auto old = torch::zeros_like(logp), ref = torch::Tensor(), adv = torch::empty({static_cast<int64_t>(rows.size())});
            if (rl.beta > 0) ref = torch::zeros_like(logp);
            for (size_t i = 0; i < rows.size(); ++i) {
              const Seq& q = seqs[rows[i]];
              adv[static_cast<int64_t>(i)] = q.advantage;
              if (q.completion_len == 0) continue;
              auto row_old = need_old ? q.old_logp.to(device) : logp[static_cast<int64_t>(i)].narrow(0, q.prompt_len - 1, q.completion_len).detach();
              old[static_cast<int64_t>(i)].narrow(0, q.prompt_len - 1, q.completion_len).copy_(row_old);
              if (rl.beta > 0) ref[static_cast<int64_t>(i)].narrow(0, q.prompt_len - 1, q.completion_len).copy_(q.ref_logp.to(device));
            }
            LossInputs li{logp, old, ref, adv.to(device), mb.mask};
            auto loss = grpo_loss(li, rl, norm, &stats);
            loss.backward();
            mb_loss += loss.item<double>();
          }
          double gn = torch::nn::utils::clip_grad_norm_(params, rl.max_grad_norm > 0 ? rl.max_grad_norm : 1e30);
          double lr = rl.lr * lr_factor(rl, st.opt_steps, total_opt_steps);
          for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
          opt.step();
          ++st.opt_steps;
          ++updates;
          // MoE aux-loss-free balancing after every optimizer step, from the loads of its forwards.
          for (auto& moe : model->moe_layers()) {
            auto load = moe->load();
            if (load.sum().item<double>() > 0) max_load_ratio = std::max(max_load_ratio, (load.max() / load.mean()).item<double>());
            moe->update_bias(rl.bias_update_speed);
            moe->reset_load();
          }
          loss_sum += mb_loss;
          grad_norm_sum += gn;
          m["lr"] = lr;
        }
      }
    }
    // MoE balance metrics: the worst load ratio over this step's updates, the bias size.
    {
      double bias_abs = 0;
      int64_t layers = 0;
      for (auto& moe : model->moe_layers()) {
        if (moe->gate->e_score_correction_bias.defined()) bias_abs += moe->gate->e_score_correction_bias.abs().mean().item<double>();
        ++layers;
      }
      if (layers > 0) {
        m["moe/max_load_ratio"] = max_load_ratio;
        m["moe/bias_abs_mean"] = bias_abs / layers;
      }
    }
    rollouts.sync_weights(model);
    if (rl.beta > 0 && rl.ref_sync_every > 0 && s % rl.ref_sync_every == 0) {
      torch::NoGradGuard ng;
      auto dst = reference->state();
      for (auto& [k, t] : model->state()) dst.at(k).copy_(t);
    }
    learn_s = now_s() - l0;
    m["policy_loss"] = updates ? loss_sum / updates : 0;
    m["grad_norm"] = updates ? grad_norm_sum / updates : 0;
    m["entropy"] = entropy_tokens > 0 ? entropy_sum / entropy_tokens : 0;
    if (rl.beta > 0) m["kl"] = stats.tokens > 0 ? stats.kl_sum / stats.tokens : 0;
    m["clip_ratio/low_mean"] = stats.tokens > 0 ? stats.clip_low / stats.tokens : 0;
    m["clip_ratio/high_mean"] = stats.tokens > 0 ? stats.clip_high / stats.tokens : 0;
    m["clip_ratio/region_mean"] = stats.tokens > 0 ? (stats.clip_low + stats.clip_high) / stats.tokens : 0;
    m["ratio/min"] = stats.ratio_min;  // exactly 1 when every update is on-policy (mu = 1, one minibatch)
    m["ratio/max"] = stats.ratio_max;
    m["tokens_per_s/rollout"] = rollout_s > 0 ? gen_tokens / rollout_s : 0;
    m["tokens_per_s/learner"] = learn_s > 0 ? learner_tokens / learn_s : 0;
    m["time/rollout_s"] = rollout_s;
    m["time/reward_s"] = reward_s;
    m["time/learn_s"] = learn_s;
    m["time/step_s"] = now_s() - t0;
    m["weight_version"] = static_cast<double>(rollouts.weight_version());

    // ---- 6. record
    std::vector<std::pair<std::string, double>> kv(m.begin(), m.end());
    store.log_metrics(run_id, s, kv);
    for (int64_t i = 0; i < std::min<int64_t>(rc.run.samples_per_step, static_cast<int64_t>(all.size())); ++i) {
      const Sample& sm = all[static_cast<size_t>(i)];
      experiments::SampleRecord rec;
      rec.step = s;
      rec.task_id = sm.task->id;
      rec.prompt = sm.task->question;
      rec.completion = sm.c.text;
      rec.reward = sm.reward;
      rec.reward_breakdown_json = sm.breakdown;
      rec.finish_reason = rollout::to_string(sm.c.finish);
      rec.prompt_tokens = sm.c.prompt_tokens;
      rec.completion_tokens = sm.c.completion_tokens;
      rec.weight_version = sm.c.weight_version;
      store.log_sample(run_id, rec);
    }
    store.flush();
    result.steps_done = s;
    st.step = s;
    // Evaluate before checkpointing: a resume starts after the checkpoint's step, so whatever that
    // step records must already be in the store when the checkpoint is registered.
    if (rc.run.eval_every > 0 && (s % rc.run.eval_every == 0 || s == rc.run.steps)) run_eval(s);
    if (rc.run.checkpoint_every > 0 && s % rc.run.checkpoint_every == 0 && s < rc.run.steps) result.last_checkpoint = save(s);
    if (env.on_step) {
      StepReport rep;
      rep.step = s;
      rep.total = rc.run.steps;
      rep.metrics = m;
      rep.elapsed_s = now_s() - t_start;
      rep.eta_s = rep.elapsed_s / std::max<int64_t>(1, s - first_step) * (rc.run.steps - s);
      env.on_step(rep);
    }
  }
  if (rc.run.steps > 0) result.last_checkpoint = save(rc.run.steps);
  store.flush();
  result.status = experiments::RunStatus::finished;
  return result;
}

}  // namespace r1::rl
