// bench_rewards: scoring 10,000 realistic math completions (MATH-500 answers inside R1-format
// responses, a third of them wrong) with math_accuracy + format, on 1 and 2 threads; and the
// per-call cost of an exec plugin (a warm Python process speaking JSON Lines) against an
// in-process function, measured in the same run.
#include <fstream>
#include <random>

#include "bench/bench_util.h"
#include "rewards/reward.h"

using namespace r1::rewards;

namespace {

std::string field(const std::string& line, const std::string& key) {
  std::string pat = "\"" + key + "\": \"";
  size_t at = line.find(pat);
  if (at == std::string::npos) return "";
  std::string out;
  for (size_t i = at + pat.size(); i < line.size() && line[i] != '"'; ++i) {
    if (line[i] == '\\' && i + 1 < line.size()) {
      char n = line[++i];
      out += n == 'n' ? '\n' : n;
    } else {
      out += line[i];
    }
  }
  return out;
}

RewardSpec builtin(const std::string& name) {
  RewardSpec s;
  s.name = name;
  return s;
}

double per_second(RewardStage& stage, const std::vector<TaskRef>& tasks, const std::vector<CompletionRef>& comps) {
  std::vector<const TaskRef*> tp;
  std::vector<const CompletionRef*> cp;
  for (size_t i = 0; i < tasks.size(); ++i) tp.push_back(&tasks[i]), cp.push_back(&comps[i]);
  stage.score(tp, cp);  // warm
  double t0 = r1::bench::now_s();
  stage.score(tp, cp);
  return tasks.size() / (r1::bench::now_s() - t0);
}

}  // namespace

int main() {
  std::ifstream in(r1::bench::shared_dir() + "/datasets/math500/test.jsonl");
  if (!in) {
    std::fprintf(stderr, "bench_rewards: needs ../shared/datasets/math500 (set R1_SHARED)\n");
    return 2;
  }
  std::vector<std::string> answers;
  for (std::string line; std::getline(in, line);)
    if (auto a = field(line, "answer"); !a.empty()) answers.push_back(a);
  std::vector<TaskRef> tasks;
  std::vector<CompletionRef> comps;
  std::mt19937 rng(3);
  for (int i = 0; i < 10000; ++i) {
    const std::string& a = answers[i % answers.size()];
    TaskRef t;
    t.id = "math500/" + std::to_string(i % answers.size());
    t.answer = a;
    std::string said = (i % 3 == 2) ? a + "+1" : a;
    std::string reasoning;
    for (int k = 0; k < 12; ++k) reasoning += "We consider the expression and simplify step " + std::to_string(k) + ". ";
    comps.push_back({"<think>\n" + reasoning + "\n</think>\n<answer>\\boxed{" + said + "}</answer>", 220, "eos"});
    tasks.push_back(std::move(t));
  }
  StageOptions one, two;
  one.threads = 1;
  two.threads = 2;
  one.log = two.log = [](const std::string&) {};
  auto s1 = RewardStage::build({builtin("math_accuracy"), builtin("format")}, one);
  auto s2 = RewardStage::build({builtin("math_accuracy"), builtin("format")}, two);
  double r1t = per_second(s1, tasks, comps), r2t = per_second(s2, tasks, comps);

  // Exec plugin vs in-process: the same trivial reward, 2,000 calls on one thread.
  std::string script = "/tmp/bench_rewards_plugin.py";
  std::ofstream(script) << "import json, sys\nfor line in sys.stdin:\n    json.loads(line)\n    print('{\"reward\": 1.0}', flush=True)\n";
  RewardSpec exec;
  exec.exec = {"python3", script};
  auto se = RewardStage::build({exec}, one);
  auto sf = RewardStage::build({builtin("tag_count")}, one);
  std::vector<TaskRef> t2(tasks.begin(), tasks.begin() + 2000);
  std::vector<CompletionRef> c2(comps.begin(), comps.begin() + 2000);
  double exec_rate = per_second(se, t2, c2), fn_rate = per_second(sf, t2, c2);
  double exec_us = 1e6 / exec_rate - 1e6 / fn_rate;

  std::printf("%-52s %12s\n", "measurement", "value");
  std::printf("%-52s %12.0f\n", "math_accuracy + format, 1 thread (completions/s)", r1t);
  std::printf("%-52s %12.0f\n", "math_accuracy + format, 2 threads (completions/s)", r2t);
  std::printf("%-52s %12.1f\n", "exec plugin call, warm Python process (us)", 1e6 / exec_rate);
  std::printf("%-52s %12.1f\n", "in-process function call (us)", 1e6 / fn_rate);
  std::printf("%-52s %12.1f\n", "exec overhead per call (us)", exec_us);
  std::printf("RESULT per_s_1t=%.0f per_s_2t=%.0f exec_us=%.1f\n", r1t, r2t, exec_us);
  return 0;
}
