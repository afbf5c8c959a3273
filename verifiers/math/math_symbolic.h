// Symbolic equivalence: is gold - pred identically zero? Both sides are brought to a canonical
// rational function over exact rationals whose "atoms" are the free variables, π, e, i, square
// roots of square-free integers and (opaque) function applications, e.g.
//
//   \frac{\sqrt{2}}{2}  vs  \frac{1}{\sqrt{2}}:   (1/2)·√2·√2 − 1·1 = 0            -> zero
//   (x+1)^2  vs  x^2+2x+1:                          expanded, term by term           -> zero
//   \pi  vs  \frac{355}{113}:                       π − 355/113 ≠ 0 (numerically 3e-7) -> nonzero
//
// `nonzero` is only claimed when the canonical form is complete, i.e. made of variables, π, e, i
// and fully factored square roots: distinct square-free radicals are linearly independent over
// the rationals, so a non-zero canonical difference is a different value (π and e are taken as
// algebraically independent). Anything the canonical form cannot decide — sin²x + cos²x, log₂8,
// a radical of a number too large to factor, a term explosion — is `unknown`, and the caller
// falls back to numeric comparison. Bounded by the Budget (deadline, coefficient size) and a
// term limit, like every other check.
#pragma once

#include <string>

#include "verifiers/math/math_expr.h"

namespace r1::verifiers::math {

enum class SymbolicVerdict { zero, nonzero, unknown };

struct SymbolicDifference {
  SymbolicVerdict verdict = SymbolicVerdict::unknown;
  std::string difference;  // gold - pred in canonical form (numerator / denominator), for reasons
};

SymbolicDifference symbolic_difference(const ExprPtr& gold, const ExprPtr& pred, const Budget& budget);

}  // namespace r1::verifiers::math
