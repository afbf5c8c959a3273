// Finding the final answer inside a whole model response (internal to verifiers/math).
#pragma once

#include <string>
#include <vector>

#include "verifiers/math/math_verifier.h"

namespace r1::verifiers::math {

struct Candidate {
  std::string text;
  bool plain = false;  // plain text (numbers in prose), not LaTeX
  std::string source;  // "answer-tag", "boxed", "final-answer", "gsm8k", "latex", "number", "whole", "choice"
  int priority = 0;    // lower first: "final answer is" 0, \boxed (boxed_priority), "answer is" 50, $...$ 100, numbers 200
  size_t pos = 0;      // where it ends in the text: the right-most wins among equal priorities
};

// `reference`: the text is a reference answer, so a short single line is itself a candidate even
// in plain text ("6 - 5i", "3, 5, 7").
std::vector<Candidate> extract_candidates(const std::string& text, const MathOptions& o, bool reference = false);
// The content of the last \boxed{...}/\fbox{...} group (adjacent boxed answers joined by ", ").
std::string last_boxed(const std::string& text);

}  // namespace r1::verifiers::math
