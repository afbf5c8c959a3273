// Countdown (TinyZero): is an expression a valid solution — each given number used exactly once,
// only + - * / and parentheses, evaluating to the target? A tiny recursive-descent evaluator over
// exact fractions: safe, no code executed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace r1::verifiers {

enum class CountdownResult { correct, wrong_value, wrong_numbers, invalid };
CountdownResult check_countdown(const std::string& expression, const std::vector<int64_t>& numbers, int64_t target);
const char* to_string(CountdownResult r);  // "correct", "wrong value", ...

}  // namespace r1::verifiers
