// Judging a program against tests, as competitive-programming judges and HumanEval do:
//  (a) stdin/stdout cases compared token by token (optional float tolerance);
//  (b) function tests: the program followed by its assertions or a `check(entry_point)` harness;
//  (c) a custom checker program run with input, expected and actual output files.
// Per-test verdicts and an aggregate (the first failing verdict, else AC).
#pragma once

#include <string>
#include <vector>

#include "verifiers/code/sandbox.h"

namespace r1::verifiers::code {

struct TestCase {
  std::string stdin_data, expected;
};

struct Submission {
  std::string id, lang, code;
  std::vector<TestCase> tests;          // (a), or input for (c)
  std::string test_code, entry_point;   // (b)
  std::string checker_lang, checker_code;  // (c): exit 0 = accepted; args input expected actual
  double float_tolerance = 0;           // (a): numbers within this absolute or relative error match
  Limits limits;
  bool stop_on_failure = false;         // skip the remaining tests after a failure (RL rewards)
  bool check_output = true;             // false: a test passes when the program runs cleanly
};

struct TestVerdict {
  Verdict verdict = Verdict::SE;
  double time_s = 0;
  int64_t memory_bytes = 0;
  int exit_code = -1, signal = 0;
  std::string stdout_data, stderr_data;
};

struct JudgeResult {
  std::string id;
  Verdict verdict = Verdict::SE;
  int passed = 0, total = 0;
  std::string message;                  // compiler output (CE) or the sandbox error (SE)
  std::vector<TestVerdict> tests;
  double pass_fraction() const { return total > 0 ? static_cast<double>(passed) / total : 0.0; }
};

// Token-wise comparison: whitespace-separated tokens equal, or both numbers within `tol`
// (absolute or relative) when tol > 0.
bool outputs_match(const std::string& expected, const std::string& actual, double tol = 0);

// The program a function test runs: the code, then the tests, then `check(entry_point)` when
// the tests define `check` without calling it (HumanEval's convention).
std::string function_test_program(const std::string& code, const std::string& test_code, const std::string& entry_point);

// The test verdict of one run of a test program.
TestVerdict test_verdict(const RunResult& r, const Limits& limits, const TestCase* expected, double tol);

}  // namespace r1::verifiers::code
