// Equivalence of two parsed answers (internal to verifiers/math). Asymmetric where Math-Verify
// is: `gold` is the reference, `pred` the model's answer.
#pragma once

#include <string>

#include "verifiers/math/math_expr.h"
#include "verifiers/math/math_verifier.h"

namespace r1::verifiers::math {

struct CompareContext {
  const MathOptions& options;
  Budget budget;
  std::string reason;
};

bool equivalent(const ExprPtr& gold, const ExprPtr& pred, CompareContext& ctx);

}  // namespace r1::verifiers::math
