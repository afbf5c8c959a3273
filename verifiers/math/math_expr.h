// The expression tree answers are parsed into, and its evaluation: exact rationals (GMP) where
// the value is rational, complex long double otherwise. Every evaluation is bounded (operand
// sizes, exponents, factorials, recursion depth, a deadline), so hostile answers such as
// 10^{10^{10}} or 999! end as "not comparable" instead of hanging or exhausting memory.
#pragma once

#include <gmpxx.h>

#include <chrono>
#include <complex>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace r1::verifiers::math {

struct Expr;
using ExprPtr = std::shared_ptr<const Expr>;

struct Expr {
  enum class Kind {
    Number,    // exact rational `value`; `decimal_places` >= 0 when written as a decimal
    Symbol,    // variable or constant: name ("x", "x_1", "pi", "e", "i", "inf")
    Add, Mul, Pow, Neg, Div,
    Func,      // name(args): sin, cos, ..., sqrt, root (index, radicand), abs, floor, ceil, fact, binom, log (base, x)
    Percent,   // args[0] percent
    PlusMinus, // args[0] ± args[1] (args[0] may be null for a bare ±x)
    Tuple,     // (a, b, ...)
    Set,       // {a, b, ...}
    Interval,  // args[0], args[1]; left_closed / right_closed
    Union,     // of intervals / sets
    Matrix,    // rows x cols in args, row-major; `rows`
    Relation,  // args[0] op args[1] ... (a chain); ops in `rel`
    List,      // top-level "a, b" / "a and b"
    Text,      // a word or phrase (compared as text)
  };
  Kind kind = Kind::Number;
  mpq_class value;
  int decimal_places = -1;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<std::string> rel;  // Relation: "=", "<", "<=", ">", ">=", "!=", "in"
  bool left_closed = false, right_closed = false;
  int rows = 0;

  static ExprPtr number(mpq_class v, int decimals = -1);
  static ExprPtr symbol(std::string n);
  static ExprPtr text(std::string t);
  static ExprPtr make(Kind k, std::vector<ExprPtr> args, std::string name = {});
};

std::string to_string(const ExprPtr& e);  // readable form, for --explain and reasons

// Limits of one check. Exceeding any is "not comparable", never a crash.
struct Budget {
  std::chrono::steady_clock::time_point deadline;
  size_t max_bits = 4096;    // largest numerator/denominator of an exact intermediate
  int max_depth = 200;
  bool expired() const { return std::chrono::steady_clock::now() > deadline; }
};

// Exact value when the expression is a rational number (no symbols, no irrational functions).
std::optional<mpq_class> eval_exact(const ExprPtr& e, const Budget& b);
using Complex = std::complex<long double>;
// Numeric value with symbols bound by `env` (constants pi, e, i are built in). nullopt when
// undefined, non-finite or out of budget.
std::optional<Complex> eval_numeric(const ExprPtr& e, const std::map<std::string, Complex>& env, const Budget& b);

// Free symbols (not pi, e, i, inf).
void free_symbols(const ExprPtr& e, std::vector<std::string>& out);
bool contains_kind(const ExprPtr& e, Expr::Kind k);

}  // namespace r1::verifiers::math
