// The Countdown checker (see countdown.h).
#include "verifiers/countdown.h"

#include <algorithm>
#include <cctype>
#include <numeric>
#include <optional>

namespace r1::verifiers {

namespace {

struct Frac {
  int64_t n = 0, d = 1;
};

std::optional<Frac> make(__int128 n, __int128 d) {
  if (d == 0) return std::nullopt;
  if (d < 0) n = -n, d = -d;
  __int128 g = std::gcd(static_cast<long long>(n < 0 ? -n : n), static_cast<long long>(d));
  if (g == 0) g = 1;
  n /= g;
  d /= g;
  if (n > INT64_MAX || n < INT64_MIN || d > INT64_MAX) return std::nullopt;
  return Frac{static_cast<int64_t>(n), static_cast<int64_t>(d)};
}

// expr := term (('+'|'-') term)*; term := factor (('*'|'/') factor)*; factor := int | '(' expr ')'
class Evaluator {
 public:
  explicit Evaluator(const std::string& s) : s_(s) {}
  std::optional<Frac> run(std::vector<int64_t>& used) {
    used_ = &used;
    auto v = expr(0);
    skip();
    if (!v || p_ != s_.size()) return std::nullopt;
    return v;
  }

 private:
  void skip() {
    while (p_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[p_]))) ++p_;
  }
  std::optional<Frac> expr(int depth) {
    if (depth > 50) return std::nullopt;
    auto a = term(depth);
    while (a) {
      skip();
      if (p_ >= s_.size() || (s_[p_] != '+' && s_[p_] != '-')) break;
      char op = s_[p_++];
      auto b = term(depth);
      if (!b) return std::nullopt;
      a = make(static_cast<__int128>(a->n) * b->d + (op == '+' ? 1 : -1) * static_cast<__int128>(b->n) * a->d,
               static_cast<__int128>(a->d) * b->d);
    }
    return a;
  }
  std::optional<Frac> term(int depth) {
    auto a = factor(depth);
    while (a) {
      skip();
      if (p_ >= s_.size() || (s_[p_] != '*' && s_[p_] != '/' && s_[p_] != 'x' && s_[p_] != '\xc3')) break;
      char op = s_[p_];
      if (op == '\xc3') {  // UTF-8 × (C3 97) or ÷ (C3 B7)
        if (p_ + 1 >= s_.size()) return std::nullopt;
        op = s_[p_ + 1] == '\x97' ? '*' : s_[p_ + 1] == '\xb7' ? '/' : '?';
        p_ += 2;
      } else {
        ++p_;
        if (op == 'x') op = '*';
      }
      if (op == '?') return std::nullopt;
      auto b = factor(depth);
      if (!b) return std::nullopt;
      if (op == '*') a = make(static_cast<__int128>(a->n) * b->n, static_cast<__int128>(a->d) * b->d);
      else a = make(static_cast<__int128>(a->n) * b->d, static_cast<__int128>(a->d) * b->n);
    }
    return a;
  }
  std::optional<Frac> factor(int depth) {
    skip();
    if (p_ >= s_.size()) return std::nullopt;
    if (s_[p_] == '(') {
      ++p_;
      auto v = expr(depth + 1);
      skip();
      if (!v || p_ >= s_.size() || s_[p_] != ')') return std::nullopt;
      ++p_;
      return v;
    }
    if (!std::isdigit(static_cast<unsigned char>(s_[p_]))) return std::nullopt;
    int64_t v = 0;
    while (p_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[p_]))) {
      if (v > 1'000'000'000) return std::nullopt;
      v = v * 10 + (s_[p_++] - '0');
    }
    used_->push_back(v);
    return Frac{v, 1};
  }
  const std::string& s_;
  size_t p_ = 0;
  std::vector<int64_t>* used_ = nullptr;
};

}  // namespace

CountdownResult check_countdown(const std::string& expression, const std::vector<int64_t>& numbers, int64_t target) {
  if (expression.size() > 400) return CountdownResult::invalid;
  std::string e = expression;
  // "= 23" at the end is a restatement of the target, not part of the expression.
  size_t eq = e.find('=');
  if (eq != std::string::npos) e = e.substr(0, eq);
  std::vector<int64_t> used;
  auto v = Evaluator(e).run(used);
  if (!v) return CountdownResult::invalid;
  auto a = used, b = numbers;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  if (a != b) return CountdownResult::wrong_numbers;
  return (v->d == 1 && v->n == target) ? CountdownResult::correct : CountdownResult::wrong_value;
}

const char* to_string(CountdownResult r) {
  switch (r) {
    case CountdownResult::correct: return "correct";
    case CountdownResult::wrong_value: return "wrong value";
    case CountdownResult::wrong_numbers: return "numbers not used exactly once";
    case CountdownResult::invalid: return "not an arithmetic expression";
  }
  return "?";
}

}  // namespace r1::verifiers
