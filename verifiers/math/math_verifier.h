// Is the model's final answer equivalent to the reference? The accuracy reward of the R1 recipe.
//
//   Verdict v = verify("\\frac{1}{2}", "<think>...</think> The answer is $\\boxed{0.5}$.");
//   v.equal, v.extracted_pred ("0.5"), v.reason
//
// 1. Extraction: an ordered list of extractors runs on the whole response — <answer> tags,
//    the last \boxed{} (adjacent boxed answers joined into a list), "final answer is", GSM8K's
//    "#### N", the last $...$ / \[...\] / \(...\), the last number — and the first candidate that
//    parses wins. Multiple-choice letters when the reference is a letter.
// 2. Parsing into an expression tree (math_parser.h) after LaTeX normalisation.
// 3. Equivalence: exact rational arithmetic (GMP); symbolic simplification of gold - pred
//    (math_symbolic.h: polynomials, rational functions, square roots, i); numeric identity at
//    seeded random points for what that cannot decide (relative tolerance); sets unordered,
//    tuples ordered, intervals with their openness, equations up to a constant factor,
//    inequalities as intervals, percentages, labelled answers ("x = 3" vs "3"), text case- and
//    space-insensitively.
// Thread-safe and bounded: every check has a deadline and size limits; hostile input ends as
// "not equal" with a reason. Options use Math-Verify's vocabulary where they map onto ours.
#pragma once

#include <string>
#include <vector>

namespace r1::verifiers::math {

struct MathOptions {
  double rel_tol = 1e-6;            // numeric comparison, relative (absolute near 0)
  bool symbolic = true;             // decide gold - pred == 0 symbolically before comparing numerically
  int numeric_points = 8;           // random points an identity with free variables is checked at
  unsigned long long numeric_seed = 1;  // of those points: the same check always gives the same verdict
  int float_rounding = -1;          // >= 0: compare decimals after rounding to this many places
  bool percent_equivalence = true;  // gold "50%" matches 50 and 0.5; pred "50%" means 0.5
  bool strict = true;               // variable names matter (f(x) != f(y))
  bool allow_set_relation = false;  // gold interval may match a pred inequality (the reverse always can)
  bool latex_extraction = true;     // boxed, answer tags, "answer is", $...$
  bool expr_extraction = true;      // plain numbers and expressions in text
  bool string_extraction = false;   // multiple choice: one of `choices`
  std::vector<std::string> choices; // for string_extraction; letters A-E by default when the gold is a letter
  bool lowercase_choices = true;
  int boxed_priority = 0;           // 0: \boxed first; 50: "final answer is" first; -1: \boxed ignored
  bool first_match = false;         // use only the first extraction (no fallback to other candidates)
  bool text_fallback = true;        // unparsable answers compare as text
  bool fix_malformed = true;        // accept \frac12 and \sqrt3 (unbraced arguments)
  double timeout_s = 1.0;           // per check
};

struct Verdict {
  bool equal = false;
  std::string extracted_gold, extracted_pred;    // the answer texts chosen
  std::string normalized_gold, normalized_pred;  // their parsed forms
  std::string reason;                            // why (or why not)
  std::vector<std::string> steps;                // the decisions taken, for --explain
};

Verdict verify(const std::string& gold, const std::string& response, const MathOptions& options = {});

// The answer candidates of a text in priority order (first = what verify uses).
std::vector<std::string> extract_answers(const std::string& text, const MathOptions& options);

}  // namespace r1::verifiers::math
