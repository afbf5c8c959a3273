// Evaluation over a task list with the rollout engine.
#include "rl/evaluation.h"

#include <cmath>

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

bool r1_format(const std::string& c) {
  size_t a = c.find("<think>"), b = c.find("</think>"), d = c.find("<answer>"), e = c.find("</answer>");
  if (a == std::string::npos || b == std::string::npos || d == std::string::npos || e == std::string::npos) return false;
  if (!(a < b && b < d && d < e)) return false;
  auto blank = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i)
      if (!std::isspace(static_cast<unsigned char>(c[i]))) return false;
    return true;
  };
  // Nothing but whitespace before <think>, between </think> and <answer>, and after </answer>;
  // each tag once.
  return blank(0, a) && blank(b + 8, d) && blank(e + 9, c.size()) && c.find("<think>", a + 1) == std::string::npos &&
         c.find("<answer>", d + 1) == std::string::npos;
}

bool is_correct(const datasets::Task& task, const std::string& completion) {
  switch (task.verifier) {
    case datasets::VerifierKind::countdown: {
      size_t a = completion.rfind("<answer>");
      if (a == std::string::npos) return false;
      size_t b = completion.find("</answer>", a);
      std::string ans = completion.substr(a + 8, b == std::string::npos ? std::string::npos : b - a - 8);
      std::vector<int64_t> nums;
      size_t at = task.metadata_json.find("\"numbers\": [");
      if (at != std::string::npos) {
        std::string rest = task.metadata_json.substr(at + 12);
        std::string cur;
        for (char ch : rest) {
          if (ch == ']') break;
          if (ch == ',') {
            if (!cur.empty()) nums.push_back(std::stoll(cur));
            cur.clear();
          } else if (std::isdigit(static_cast<unsigned char>(ch))) {
            cur += ch;
          }
        }
        if (!cur.empty()) nums.push_back(std::stoll(cur));
      }
      return datasets::check_countdown(ans, nums, std::stoll(task.answer)) == datasets::CountdownResult::correct;
    }
    case datasets::VerifierKind::exact: return completion.find(task.answer) != std::string::npos;
    default: return verifiers::math::verify(task.answer, completion).equal;
  }
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

std::vector<int32_t> prompt_ids(const policy::PromptFormat& format, const datasets::Task& t) {
  if (t.messages.empty()) return format.encode(t.question);
  policy::Value::Array msgs;
  for (const auto& m : t.messages)
    msgs.push_back(policy::Value(policy::Value::Object{{"role", policy::Value(m.role)}, {"content", policy::Value(m.content)}}));
  return format.encode_messages(policy::Value(msgs));
}

std::map<std::string, double> EvalResult::metrics() const {
  return {{"pass@1", pass1}, {"pass@k", pass_k}, {"maj@k", maj_k}, {"format", format_rate}, {"length", mean_length}};
}

EvalResult evaluate(rollout::Engine& engine, const std::vector<datasets::Task>& tasks, const policy::PromptFormat& format,
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
  auto out = engine.generate(reqs);
  EvalResult res;
  res.problems = static_cast<int64_t>(tasks.size());
  double len = 0;
  int64_t formatted = 0;
  // Code tasks are judged in the sandbox, all of them in one parallel batch (the `code_tests`
  // reward, all-or-nothing); the others by their verifier, one by one.
  std::vector<char> verdicts(out.size(), 0);
  std::vector<size_t> code_samples;
  for (size_t j = 0; j < out.size(); ++j) {
    const auto& t = tasks[j / static_cast<size_t>(o.k)];
    if (t.verifier == datasets::VerifierKind::code) code_samples.push_back(j);
    else verdicts[j] = is_correct(t, out[j].text);
  }
  if (!code_samples.empty()) {
    rewards::RewardSpec spec;
    spec.name = "code_tests";
    rewards::StageOptions so;
    so.log = [](const std::string&) {};
    auto stage = rewards::RewardStage::build({spec}, so);
    std::vector<rewards::TaskRef> trefs;
    std::vector<rewards::CompletionRef> crefs;
    for (size_t j : code_samples) {
      trefs.push_back(task_ref(tasks[j / static_cast<size_t>(o.k)]));
      crefs.push_back({out[j].text, out[j].completion_tokens, rollout::to_string(out[j].finish)});
    }
    std::vector<const rewards::TaskRef*> tp;
    std::vector<const rewards::CompletionRef*> cp;
    for (size_t j = 0; j < code_samples.size(); ++j) tp.push_back(&trefs[j]), cp.push_back(&crefs[j]);
    auto scored = stage.score(tp, cp);
    for (size_t j = 0; j < code_samples.size(); ++j) verdicts[code_samples[j]] = scored.totals[j] >= 1.0;
  }
  for (size_t i = 0; i < tasks.size(); ++i) {
    int64_t correct = 0;
    std::vector<std::string> answers;
    std::vector<bool> right;
    const bool math = tasks[i].verifier == datasets::VerifierKind::math;
    for (int64_t s = 0; s < o.k; ++s) {
      const auto& c = out[i * o.k + s];
      bool ok = verdicts[i * o.k + s];
      correct += ok;
      right.push_back(ok);
      formatted += r1_format(c.text);
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
  return res;
}

}  // namespace r1::rl
