// Evaluation over a task list with the rollout engine.
#include "rl/evaluation.h"

#include <cmath>
#include <map>

#include "rewards/reward.h"
#include "verifiers/math/math_verifier.h"

namespace r1::rl {

double pass_at_k(int64_t n, int64_t c, int64_t k) {
  if (n - c < k) return 1.0;
  // prod_{i = n-c+1}^{n} (1 - k / i), numerically stable.
  double p = 1.0;
  for (int64_t i = n - c + 1; i <= n; ++i) p *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
  return 1.0 - p;
}

namespace {

// The accuracy reward that decides a task of each verifier kind, exactly as training scores it.
rewards::RewardSpec accuracy_reward(datasets::VerifierKind kind) {
  rewards::RewardSpec spec;
  switch (kind) {
    case datasets::VerifierKind::math: spec.name = "math_accuracy"; break;
    case datasets::VerifierKind::code: spec.name = "code_tests"; break;
    case datasets::VerifierKind::countdown:
      spec.name = "countdown";
      spec.options_json = "{\"format_score\": 0}";  // a formatted wrong answer is wrong
      break;
    case datasets::VerifierKind::exact: spec.name = "exact_match"; break;
  }
  return spec;
}

}  // namespace

std::vector<Judgement> judge(const std::vector<const datasets::Task*>& tasks, const std::vector<const rollout::Completion*>& completions) {
  std::vector<Judgement> out(completions.size());
  std::map<datasets::VerifierKind, std::vector<size_t>> by_kind;
  for (size_t j = 0; j < tasks.size(); ++j) by_kind[tasks[j]->verifier].push_back(j);
  for (const auto& [kind, idx] : by_kind) {
    // One stage per kind: its accuracy reward, then R1's format reward (the training defaults).
    rewards::RewardSpec fmt;
    fmt.name = "format";
    std::vector<const datasets::Task*> kind_tasks;
    std::vector<const rollout::Completion*> kind_completions;
    for (size_t j : idx) kind_tasks.push_back(tasks[j]), kind_completions.push_back(completions[j]);
    auto scored = score_with_rewards({accuracy_reward(kind), fmt}, kind_tasks, kind_completions);
    for (size_t j = 0; j < idx.size(); ++j) {
      out[idx[j]].correct = scored.components[0][j] >= 1.0;
      out[idx[j]].formatted = scored.components[1][j] >= 1.0;
    }
  }
  return out;
}

rewards::StageResult score_with_rewards(const std::vector<rewards::RewardSpec>& specs, const std::vector<const datasets::Task*>& tasks,
                                        const std::vector<const rollout::Completion*>& completions) {
  rewards::StageOptions so;
  so.log = [](const std::string&) {};
  auto stage = rewards::RewardStage::build(specs, so);
  std::vector<rewards::TaskRef> trefs;
  std::vector<rewards::CompletionRef> crefs;
  for (size_t i = 0; i < completions.size(); ++i) {
    trefs.push_back(task_ref(*tasks[i]));
    crefs.push_back({completions[i]->text, completions[i]->completion_tokens, rollout::to_string(completions[i]->finish)});
  }
  std::vector<const rewards::TaskRef*> tp;
  std::vector<const rewards::CompletionRef*> cp;
  for (size_t i = 0; i < completions.size(); ++i) tp.push_back(&trefs[i]), cp.push_back(&crefs[i]);
  return stage.score(tp, cp);
}

rewards::TaskRef task_ref(const datasets::Task& t) {
  rewards::TaskRef r;
  r.id = t.id;
  r.prompt = t.question;
  r.answer = t.answer;
  r.tests_json = t.tests_json;
  r.metadata_json = t.metadata_json;
  r.verifier = datasets::to_string(t.verifier);
  return r;
}

std::vector<int32_t> prompt_ids(const text::PromptFormat& format, const datasets::Task& t) {
  if (t.messages.empty()) return format.encode(t.question);
  text::Value::Array msgs;
  for (const auto& m : t.messages)
    msgs.push_back(text::Value(text::Value::Object{{"role", text::Value(m.role)}, {"content", text::Value(m.content)}}));
  return format.encode_messages(text::Value(msgs));
}

std::map<std::string, double> EvalResult::metrics() const {
  return {{"pass@1", pass1}, {"pass@k", pass_k}, {"maj@k", maj_k}, {"format", format_rate}, {"length", mean_length}, {"language", language}};
}

std::vector<rollout::Request> sampling_requests(const text::PromptFormat& format, const std::vector<datasets::Task>& tasks,
                                                const EvalOptions& o) {
  std::vector<rollout::Request> reqs;
  for (size_t i = 0; i < tasks.size(); ++i) {
    rollout::Request r;
    r.prompt = prompt_ids(format, tasks[i]);
    r.n = o.k;
    r.params.temperature = o.temperature;
    r.params.top_p = o.top_p;
    r.params.max_new_tokens = o.max_new_tokens;
    r.params.stop_strings = o.stop;
    r.params.seed = o.seed * 1000003ull + i;
    reqs.push_back(std::move(r));
  }
  return reqs;
}

namespace {
PolicyBundle policy_for_sampling(const policy::PolicyConfig& config, uint64_t seed, torch::Device device) {
  PolicyBundle pb = load_policy(config, seed, device);
  pb.model->eval();
  return pb;
}
}  // namespace

SamplingModel::SamplingModel(const policy::PolicyConfig& config, const std::string& template_name, uint64_t seed, torch::Device device,
                             int64_t batch)
    : policy(policy_for_sampling(config, seed, device)),
      format(template_name, policy.tokenizer),
      engine(policy.model, {.max_batch_seqs = batch}, eos_ids(policy.tokenizer, policy.model->config()), token_text(policy.tokenizer)) {}

EvalResult evaluate(rollout::Engine& engine, const std::vector<datasets::Task>& tasks, const text::PromptFormat& format,
                    const EvalOptions& o) {
  std::vector<rollout::Request> reqs = sampling_requests(format, tasks, o);
  auto out = engine.generate(reqs);
  EvalResult res;
  res.problems = static_cast<int64_t>(tasks.size());
  double len = 0;
  int64_t formatted = 0;
  std::vector<const datasets::Task*> tp;
  std::vector<const rollout::Completion*> cp;
  for (size_t j = 0; j < out.size(); ++j) tp.push_back(&tasks[j / static_cast<size_t>(o.k)]), cp.push_back(&out[j]);
  const std::vector<Judgement> verdicts = judge(tp, cp);
  for (size_t i = 0; i < tasks.size(); ++i) {
    int64_t correct = 0;
    std::vector<std::string> answers;
    std::vector<bool> right;
    const bool math = tasks[i].verifier == datasets::VerifierKind::math;
    for (int64_t s = 0; s < o.k; ++s) {
      const auto& c = out[i * o.k + s];
      const Judgement& v = verdicts[i * o.k + s];
      correct += v.correct;
      right.push_back(v.correct);
      formatted += v.formatted;
      len += static_cast<double>(c.completion_tokens);
      if (math) {
        auto ex = verifiers::math::extract_answers(c.text, {});
        answers.push_back(ex.empty() ? "" : ex.front());
      } else {
        answers.push_back(c.text);  // code, Countdown: identical answers vote together
      }
    }
    res.pass1 += static_cast<double>(correct) / static_cast<double>(o.k);
    res.pass_k += pass_at_k(o.k, correct, o.k);
    // Majority vote: answers grouped by equivalence; the largest group (first on ties) decides.
    std::vector<int> votes(answers.size(), 0);
    for (size_t a = 0; a < answers.size(); ++a) {
      if (answers[a].empty()) continue;
      for (size_t b = 0; b < answers.size(); ++b)
        if (!answers[b].empty() && (answers[a] == answers[b] || (math && verifiers::math::verify(answers[a], answers[b]).equal)))
          ++votes[a];
    }
    size_t best = std::max_element(votes.begin(), votes.end()) - votes.begin();
    res.maj_k += (votes[best] > 0 && right[best]) ? 1.0 : 0.0;
  }
  res.samples = static_cast<int64_t>(out.size());
  double n = std::max<double>(1.0, static_cast<double>(tasks.size()));
  res.pass1 /= n;
  res.pass_k /= n;
  res.maj_k /= n;
  res.format_rate = static_cast<double>(formatted) / std::max<double>(1.0, static_cast<double>(out.size()));
  res.mean_length = len / std::max<double>(1.0, static_cast<double>(out.size()));
  // Language consistency, measured by the reward R1 trains it with.
  rewards::RewardSpec lang;
  lang.name = "language_consistency";
  lang.options_json = "{\"language\": \"" + o.language + "\"}";
  const auto shares = score_with_rewards({lang}, tp, cp).totals;
  for (double v : shares) res.language += v;
  res.language /= std::max<double>(1.0, static_cast<double>(shares.size()));
  return res;
}

}  // namespace r1::rl
