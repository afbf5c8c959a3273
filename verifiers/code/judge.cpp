// Output comparison and per-test verdicts.
#include "verifiers/code/judge.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace r1::verifiers::code {

namespace {

std::vector<std::string_view> tokens(const std::string& s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j > i) out.emplace_back(s.data() + i, j - i);
    i = j;
  }
  return out;
}

bool as_number(std::string_view t, double& v) {
  std::string s(t);
  char* end = nullptr;
  v = std::strtod(s.c_str(), &end);
  return end && *end == '\0' && !s.empty() && std::isfinite(v);
}

}  // namespace

bool outputs_match(const std::string& expected, const std::string& actual, double tol) {
  auto e = tokens(expected), a = tokens(actual);
  if (e.size() != a.size()) return false;
  for (size_t i = 0; i < e.size(); ++i) {
    if (e[i] == a[i]) continue;
    double x, y;
    if (tol > 0 && as_number(e[i], x) && as_number(a[i], y) && std::abs(x - y) <= tol * std::max(1.0, std::abs(x))) continue;
    return false;
  }
  return true;
}

std::string function_test_program(const std::string& code, const std::string& test_code, const std::string& entry_point) {
  std::string p = code + "\n\n" + test_code + "\n";
  bool defines_check = test_code.find("def check(") != std::string::npos;
  bool calls_check = test_code.find("check(" + entry_point + ")") != std::string::npos;
  if (!entry_point.empty() && defines_check && !calls_check) p += "\ncheck(" + entry_point + ")\n";
  return p;
}

TestVerdict test_verdict(const RunResult& r, const Limits& limits, const TestCase* expected, double tol) {
  TestVerdict t;
  t.verdict = classify(r, limits);
  t.time_s = r.cpu_s;
  t.memory_bytes = r.memory_bytes;
  t.exit_code = r.exit_code;
  t.signal = r.signal;
  t.stdout_data = r.stdout_data;
  t.stderr_data = r.stderr_data;
  if (t.verdict == Verdict::AC && expected && !outputs_match(expected->expected, r.stdout_data, tol)) t.verdict = Verdict::WA;
  return t;
}

}  // namespace r1::verifiers::code
