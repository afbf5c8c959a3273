// `code_tests`: R1's code reward — the program in the completion's last fenced code block, run in
// the sandbox against the task's tests (stdin/stdout cases, or HumanEval/MBPP function tests).
#include <nlohmann/json.hpp>

#include <mutex>
#include <thread>

#include "rewards/reward.h"
#include "verifiers/code/sandbox_pool.h"

namespace r1::rewards {

namespace {

using Json = nlohmann::json;
namespace sb = verifiers::code;

// One pool per process, started on first use: every code reward shares its sandboxes.
sb::SandboxPool& shared_pool() {
  static std::once_flag once;
  static std::unique_ptr<sb::SandboxPool> pool;
  std::call_once(once, [] { pool = std::make_unique<sb::SandboxPool>(); });
  return *pool;
}

// The last ```lang ... ``` block (lang may be empty); "" when there is none.
std::string last_code_block(const std::string& text, std::string& lang) {
  size_t end = text.rfind("```");
  if (end == std::string::npos || end == 0) return "";
  size_t start = text.rfind("```", end - 1);
  if (start == std::string::npos) return "";
  size_t nl = text.find('\n', start + 3);
  if (nl == std::string::npos || nl > end) return "";
  lang = text.substr(start + 3, nl - start - 3);
  while (!lang.empty() && (lang.back() == ' ' || lang.back() == '\r')) lang.pop_back();
  return text.substr(nl + 1, end - nl - 1);
}

class CodeTests : public RewardFunction {
 public:
  explicit CodeTests(const RewardOptions& o)
      : lang_(o.string("lang")), partial_(o.boolean("partial")), no_code_(o.number("no_code")) {
    limits_.cpu_s = o.number("time_limit_s");
    limits_.memory_bytes = o.integer("memory_mb") << 20;
    if (!sb::find_language(lang_)) throw RewardError(o.where() + ": code_tests lang '" + lang_ + "' is not python or cpp");
  }

  RewardValue score(const TaskRef& t, const CompletionRef& c) override {
    std::string fence;
    std::string code = last_code_block(c.text, fence);
    if (code.empty()) return {no_code_, "{\"verdict\": \"no code block\"}", ""};
    Json tests = Json::parse(t.tests_json.empty() ? "{}" : t.tests_json, nullptr, false);
    if (!tests.is_object()) return {0, "{}", "task tests_json is not a JSON object"};
    sb::Submission s;
    s.id = t.id;
    s.lang = fence.empty() || !sb::find_language(fence) ? lang_ : fence;
    s.code = code;
    s.limits = limits_;
    s.stop_on_failure = !partial_;
    if (tests.contains("stdin_tests")) {
      for (const auto& tc : tests["stdin_tests"]) s.tests.push_back({tc.value("input", std::string()), tc.value("output", std::string())});
    } else if (tests.contains("test_code")) {
      s.test_code = tests["test_code"].get<std::string>();
      s.entry_point = tests.value("entry_point", std::string());
      // HumanEval: a completion that gives only the body still needs the signature.
      if (!s.entry_point.empty() && code.find("def " + s.entry_point) == std::string::npos)
        s.code = tests.value("prompt", std::string()) + code;
    } else {
      return {0, "{}", "task has no tests (stdin_tests or test_code)"};
    }
    sb::JudgeResult r = shared_pool().judge(std::move(s)).get();
    if (r.verdict == sb::Verdict::SE) return {0, "{}", "sandbox: " + r.message};
    double v = partial_ ? r.pass_fraction() : (r.verdict == sb::Verdict::AC ? 1.0 : 0.0);
    Json info{{"verdict", sb::to_string(r.verdict)}, {"passed", r.passed}, {"total", r.total}};
    return {v, info.dump(), ""};
  }

 private:
  std::string lang_;
  bool partial_;
  double no_code_;
  sb::Limits limits_;
};

}  // namespace

std::unique_ptr<RewardFunction> make_code_tests_reward(const RewardOptions& o) { return std::make_unique<CodeTests>(o); }

}  // namespace r1::rewards
