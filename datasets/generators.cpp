// Synthetic verifiable tasks: multi-digit addition, Countdown (only solvable instances; the
// checker is verifiers/countdown.h) and short Python functions judged by tests in the sandbox.
#include <algorithm>
#include <cctype>
#include <functional>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <unordered_set>

#include "datasets/task.h"

namespace r1::datasets {

namespace {

int64_t pow10(int64_t d) {
  int64_t p = 1;
  for (int64_t i = 0; i < d; ++i) p *= 10;
  return p;
}

}  // namespace

std::vector<Task> generate_arithmetic(const GeneratorOptions& o) {
  // Sums of two numbers of `difficulty` digits. Distinct problems, in a seeded order.
  std::mt19937_64 rng(o.seed * 0x9E3779B97F4A7C15ull + 11);
  const int64_t lo = o.difficulty <= 1 ? 0 : pow10(o.difficulty - 1), hi = pow10(o.difficulty) - 1;
  std::uniform_int_distribution<int64_t> d(lo, hi);
  std::vector<Task> out;
  // Duplicates would let a held-out problem leak into training: each (a, b) at most once, and
  // never more problems than the digits allow.
  std::unordered_set<int64_t> seen;
  int64_t space = (hi - lo + 1) * (hi - lo + 1);
  int64_t target = std::min<int64_t>(o.count, space);
  int64_t attempts = 0;
  while (static_cast<int64_t>(out.size()) < target && attempts++ < target * 50) {
    int64_t a = d(rng), b = d(rng);
    if (!seen.insert(a * (hi + 1) + b).second) continue;
    Task t;
    t.id = "arith/d" + std::to_string(o.difficulty) + "/" + std::to_string(a) + "+" + std::to_string(b);
    t.question = "What is " + std::to_string(a) + " + " + std::to_string(b) + "?";
    t.answer = std::to_string(a + b);
    t.metadata_json = "{\"a\": " + std::to_string(a) + ", \"b\": " + std::to_string(b) + ", \"op\": \"+\"}";
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<Task> generate_countdown(const GeneratorOptions& o) {
  // Random expression trees over `difficulty` numbers in [1, 99] whose value is a positive
  // integer <= 999 with exact intermediate divisions: every instance has a solution.
  std::mt19937_64 rng(o.seed * 0xD1B54A32D192ED03ull + 5);
  const int k = static_cast<int>(std::clamp<int64_t>(o.difficulty, 2, 6));
  std::uniform_int_distribution<int64_t> num(1, 99);
  std::vector<Task> out;
  std::set<std::vector<int64_t>> seen;
  int64_t attempts = 0;
  while (static_cast<int64_t>(out.size()) < o.count && attempts++ < o.count * 200) {
    std::vector<int64_t> nums(k);
    for (auto& n : nums) n = num(rng);
    // Combine a shuffled copy pairwise with random operations.
    std::vector<std::pair<int64_t, std::string>> pool;
    for (auto n : nums) pool.emplace_back(n, std::to_string(n));
    bool ok = true;
    while (pool.size() > 1 && ok) {
      std::shuffle(pool.begin(), pool.end(), rng);
      auto [a, ea] = pool.back();
      pool.pop_back();
      auto [b, eb] = pool.back();
      pool.pop_back();
      int op = static_cast<int>(rng() % 4);
      int64_t v = 0;
      std::string e;
      if (op == 0) v = a + b, e = "(" + ea + " + " + eb + ")";
      else if (op == 1) {
        if (a < b) std::swap(a, b), std::swap(ea, eb);
        v = a - b, e = "(" + ea + " - " + eb + ")";
      } else if (op == 2) v = a * b, e = "(" + ea + " * " + eb + ")";
      else {
        if (b == 0 || a % b != 0) {
          if (a != 0 && b % a == 0) std::swap(a, b), std::swap(ea, eb);
          else ok = false;
        }
        if (ok) v = a / b, e = "(" + ea + " / " + eb + ")";
      }
      if (v <= 0 || v > 999) ok = false;
      pool.emplace_back(v, e);
    }
    if (!ok) continue;
    int64_t target = pool[0].first;
    std::vector<int64_t> key = nums;
    std::sort(key.begin(), key.end());
    key.push_back(target);
    if (!seen.insert(key).second) continue;  // the same instance twice could leak across a split
    Task t;
    std::string list;
    for (auto n : nums) list += (list.empty() ? "" : ", ") + std::to_string(n);
    t.id = "countdown/" + std::to_string(k) + "/" + std::to_string(out.size());
    t.verifier = VerifierKind::countdown;
    t.answer = std::to_string(target);
    t.question = "Using the numbers [" + list + "], create an equation that equals " + t.answer +
                 ". You can use basic arithmetic operations (+, -, *, /) and each number can only be used once.";
    t.metadata_json = "{\"numbers\": [" + list + "], \"target\": " + t.answer + ", \"solution\": \"" + pool[0].second + "\"}";
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<Task> generate_code(const GeneratorOptions& o) {
  // f(x) = x op c op c ... with `difficulty` operations (+, -, *) on constants 1..9, applied left
  // to right (parenthesised where Python's precedence would differ), asked in words; judged by
  // asserts on five inputs.
  std::mt19937_64 rng(o.seed * 0xC2B2AE3D27D4EB4Full + 13);
  const int64_t ops = std::clamp<int64_t>(o.difficulty, 1, 4);
  std::uniform_int_distribution<int64_t> constant(1, 9);
  std::vector<Task> out;
  std::set<std::string> seen;
  int64_t attempts = 0;
  while (static_cast<int64_t>(out.size()) < o.count && attempts++ < o.count * 50) {
    std::string expr = "x";
    std::vector<std::pair<char, int64_t>> steps;
    for (int64_t i = 0; i < ops; ++i) {
      const char op = "+-*"[rng() % 3];
      const int64_t c = constant(rng);
      if (op == '*' && expr.find_first_of("+-") != std::string::npos) expr = "(" + expr + ")";
      expr += std::string(" ") + op + " " + std::to_string(c);
      steps.emplace_back(op, c);
    }
    if (!seen.insert(expr).second) continue;  // the same function twice could leak across a split
    auto f = [&](int64_t x) {
      for (const auto& [op, c] : steps) x = op == '+' ? x + c : op == '-' ? x - c : x * c;
      return x;
    };
    std::string tests;
    for (int64_t x : {0, 1, 2, 5, -3}) tests += "assert f(" + std::to_string(x) + ") == " + std::to_string(f(x)) + "\n";
    Task t;
    t.id = "code/d" + std::to_string(ops) + "/" + expr;
    t.verifier = VerifierKind::code;
    // The steps in words: the model has to write the expression, not copy it.
    std::string words, codes;
    for (size_t i = 0; i < steps.size(); ++i) {
      const auto [op, c] = steps[i];
      const std::string n = std::to_string(c);
      words += std::string(i == 0 ? "" : i + 1 == steps.size() ? ", then " : ", ") +
               (op == '+' ? "add " + n : op == '-' ? "subtract " + n : "multiply by " + n);
      codes += std::string(i ? " " : "") + op + n;
    }
    t.question = "Write a Python function f(x): start from x, " + words + ", and return the result.";
    t.answer = "def f(x):\n    return " + expr + "\n";
    std::string quoted;  // the tests as a JSON string
    for (char ch : tests) quoted += ch == '\n' ? std::string("\\n") : std::string(1, ch);
    t.tests_json = "{\"test_code\": \"" + quoted + "\"}";
    t.metadata_json = "{\"expr\": \"" + expr + "\", \"steps\": \"" + codes + "\"}";
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace r1::datasets
