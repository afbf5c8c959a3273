// LaTeX / plain-text answers -> Expr. Normalises as it tokenises (\dfrac, \left, spacing
// commands, \text{...}, units, degrees, thousands separators, unicode operators) and parses
// numbers, fractions, mixed numbers, roots, powers, constants, functions, implicit
// multiplication, sets, tuples, intervals and unions, matrices, relations and chains, ±, lists.
#pragma once

#include <string>

#include "verifiers/math/math_expr.h"

namespace r1::verifiers::math {

struct ParseOptions {
  bool plain_text = false;     // expression written outside LaTeX: "2,74" is 2.74, "4 4/9" is 40/9
  bool no_comma_decimals = false;  // set when the text has brackets: "[1,2)" lists two numbers
  bool strip_units = true;     // "5 cm" -> 5
  bool strip_degrees = true;   // "90^\circ" -> 90
  bool fix_malformed = true;   // \frac12, \sqrt3: unbraced single-character arguments
  size_t max_length = 4000;    // longer answers are not parsed
  int max_depth = 100;         // nesting limit
};

// nullptr when the text is not a math answer we can parse. Never throws.
ExprPtr parse_answer(const std::string& text, const ParseOptions& options, std::string* error = nullptr);

}  // namespace r1::verifiers::math
