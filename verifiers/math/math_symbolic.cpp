// Canonical rational functions for symbolic equivalence (see math_symbolic.h).
#include "verifiers/math/math_symbolic.h"

#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace r1::verifiers::math {
namespace {

using K = Expr::Kind;

// A product of atoms with positive integer exponents, times √radical (radical square-free, 1 =
// none), times i when `imag`.
struct Monomial {
  std::vector<std::pair<std::string, int>> atoms;  // sorted by name
  mpz_class radical = 1;
  bool imag = false;
  bool operator<(const Monomial& o) const {
    if (atoms != o.atoms) return atoms < o.atoms;
    if (radical != o.radical) return radical < o.radical;
    return imag < o.imag;
  }
  bool operator==(const Monomial& o) const { return atoms == o.atoms && radical == o.radical && imag == o.imag; }
  bool is_one() const { return atoms.empty() && radical == 1 && !imag; }
};

using Poly = std::map<Monomial, mpq_class>;  // no zero coefficients

struct Frac {
  Poly num, den;  // den is never the zero polynomial
};

constexpr size_t kMaxTerms = 512;
constexpr int kMaxExponent = 64;
constexpr int kMaxDegree = 4096;  // of one atom in one term
constexpr size_t kMaxRadicandBits = 256;
constexpr unsigned long kTrialDivisionBound = 10000;

Poly constant(const mpq_class& q) {
  Poly p;
  if (q != 0) p[Monomial{}] = q;
  return p;
}

std::optional<mpq_class> as_constant(const Poly& p) {
  if (p.empty()) return mpq_class(0);
  if (p.size() == 1 && p.begin()->first.is_one()) return p.begin()->second;
  return std::nullopt;
}

class Canonicalizer {
 public:
  explicit Canonicalizer(const Budget& b) : b_(b) {}
  bool complete() const { return complete_; }

  std::optional<Frac> build(const ExprPtr& e, int depth = 0) {
    if (!e || depth > b_.max_depth || b_.expired()) return std::nullopt;
    switch (e->kind) {
      case K::Number: return Frac{constant(e->value), constant(1)};
      case K::Symbol: return symbol(e->name);
      case K::Neg: {
        auto a = build(e->args[0], depth + 1);
        if (!a) return std::nullopt;
        for (auto& [m, c] : a->num) c = -c;
        return a;
      }
      case K::Add:
      case K::Mul: {
        std::optional<Frac> acc;
        for (const auto& arg : e->args) {
          auto v = build(arg, depth + 1);
          if (!v) return std::nullopt;
          acc = !acc ? std::move(v) : e->kind == K::Add ? add(*acc, *v) : mul(*acc, *v);
          if (!acc) return std::nullopt;
        }
        return acc;
      }
      case K::Div: {
        auto n = build(e->args[0], depth + 1), d = build(e->args[1], depth + 1);
        if (!n || !d || d->num.empty()) return std::nullopt;
        return mul(*n, Frac{d->den, d->num});
      }
      case K::Percent: {
        auto v = build(e->args[0], depth + 1);
        if (!v) return std::nullopt;
        return mul(*v, Frac{constant(1), constant(100)});
      }
      case K::Pow: return power(e, depth);
      case K::Func: return function(e, depth);
      default: return std::nullopt;  // structures are compared element-wise by the caller
    }
  }

  Poly sub(const Poly& a, const Poly& b) {
    Poly out = a;
    for (const auto& [m, c] : b) accumulate(out, m, -c);
    return out;
  }
  std::optional<Poly> mul(const Poly& a, const Poly& b) {
    Poly out;
    for (const auto& [ma, ca] : a)
      for (const auto& [mb, cb] : b) {
        if (b_.expired()) return std::nullopt;
        mpq_class c = ca * cb;
        Monomial m = mul(ma, mb, c);
        for (const auto& [atom, degree] : m.atoms)
          if (degree > kMaxDegree) return std::nullopt;
        accumulate(out, m, c);
        if (out.size() > kMaxTerms || too_big(c)) return std::nullopt;
      }
    return out;
  }

  static std::string text(const Poly& p) {
    if (p.empty()) return "0";
    std::string s;
    for (const auto& [m, c] : p) {
      std::string term = m.is_one() || (c != 1 && c != -1) ? mpq_class(abs(c)).get_str() : "";
      auto factor = [&](const std::string& f) { term += (term.empty() ? "" : "*") + f; };
      for (const auto& [a, k] : m.atoms) factor(k == 1 ? a : a + "^" + std::to_string(k));
      if (m.radical != 1) factor("sqrt(" + m.radical.get_str() + ")");
      if (m.imag) factor("i");
      s += s.empty() ? (c < 0 ? "-" : "") : (c < 0 ? " - " : " + ");
      s += term;
    }
    return s;
  }

 private:
  const Budget& b_;
  bool complete_ = true;
  std::unordered_map<const Expr*, std::string> keys_;

  bool too_big(const mpq_class& q) const {
    return mpz_sizeinbase(q.get_num_mpz_t(), 2) > b_.max_bits || mpz_sizeinbase(q.get_den_mpz_t(), 2) > b_.max_bits;
  }

  static void accumulate(Poly& p, const Monomial& m, const mpq_class& c) {
    auto [it, fresh] = p.try_emplace(m, c);
    if (!fresh) it->second += c;
    if (it->second == 0) p.erase(it);
  }

  // √ra·√rb = g·√(ra/g · rb/g) with g = gcd(ra, rb): the product of coprime square-free parts
  // stays square-free. i·i = −1.
  static Monomial mul(const Monomial& a, const Monomial& b, mpq_class& coef) {
    Monomial m;
    size_t i = 0, j = 0;
    while (i < a.atoms.size() || j < b.atoms.size()) {
      if (j == b.atoms.size() || (i < a.atoms.size() && a.atoms[i].first < b.atoms[j].first)) m.atoms.push_back(a.atoms[i++]);
      else if (i == a.atoms.size() || b.atoms[j].first < a.atoms[i].first) m.atoms.push_back(b.atoms[j++]);
      else {
        // Both <= kMaxDegree (the caller rejects more): no overflow in ((x^64)^64)^...
        m.atoms.emplace_back(a.atoms[i].first, a.atoms[i].second + b.atoms[j].second);
        ++i, ++j;
      }
    }
    mpz_class g = gcd(a.radical, b.radical);
    m.radical = (a.radical / g) * (b.radical / g);
    coef *= g;
    m.imag = a.imag != b.imag;
    if (a.imag && b.imag) coef = -coef;
    return m;
  }

  std::optional<Frac> add(const Frac& a, const Frac& b) {
    if (a.den == b.den) {
      Poly n = a.num;
      for (const auto& [m, c] : b.num) accumulate(n, m, c);
      return Frac{std::move(n), a.den};
    }
    auto n1 = mul(a.num, b.den), n2 = mul(b.num, a.den), d = mul(a.den, b.den);
    if (!n1 || !n2 || !d) return std::nullopt;
    for (const auto& [m, c] : *n2) accumulate(*n1, m, c);
    return Frac{std::move(*n1), std::move(*d)};
  }
  std::optional<Frac> mul(const Frac& a, const Frac& b) {
    auto n = mul(a.num, b.num), d = mul(a.den, b.den);
    if (!n || !d) return std::nullopt;
    return Frac{std::move(*n), std::move(*d)};
  }

  Frac atom(const std::string& name) {
    Monomial m;
    m.atoms.emplace_back(name, 1);
    return Frac{Poly{{m, mpq_class(1)}}, constant(1)};
  }

  // An application the canonical form does not look inside: equal keys are equal values, but
  // different keys prove nothing (sin²x + cos²x), so the form is no longer complete.
  Frac opaque(const std::string& key) {
    complete_ = false;
    return atom("{" + key + "}");
  }
  // The canonical text of a subexpression, as the key of an opaque application. Remembered per
  // node, and recorded by the callers that have just built it: building a node twice at every
  // level of sqrt(x + sqrt(x + ...)) would be exponential in the nesting.
  std::string key_of(const ExprPtr& e, int depth) {
    if (auto it = keys_.find(e.get()); it != keys_.end()) return it->second;
    auto f = build(e, depth + 1);
    return keys_[e.get()] = f ? key_from(*f) : to_string(e);
  }
  static std::string key_from(const Frac& f) { return text(f.num) + " / " + text(f.den); }
  const Frac& remember(const ExprPtr& e, const Frac& f) {
    keys_.try_emplace(e.get(), key_from(f));
    return f;
  }

  std::optional<Frac> symbol(const std::string& name) {
    if (name == "inf") return std::nullopt;
    if (name == "i") {
      Monomial m;
      m.imag = true;
      return Frac{Poly{{m, mpq_class(1)}}, constant(1)};
    }
    return atom(name);  // variables, π and e
  }

  std::optional<Frac> power(const ExprPtr& e, int depth) {
    auto ex = eval_exact(e->args[1], b_);
    if (!ex) {
      if (e->args[0]->kind == K::Symbol && e->args[0]->name == "e") return opaque("exp(" + key_of(e->args[1], depth) + ")");
      return opaque("pow(" + key_of(e->args[0], depth) + ", " + key_of(e->args[1], depth) + ")");
    }
    auto base = build(e->args[0], depth + 1);
    if (!base) return std::nullopt;
    remember(e->args[0], *base);
    if (ex->get_den() == 1) return integer_power(*base, ex->get_num());
    if (ex->get_den() == 2) {
      auto root = square_root(*base);
      if (!root) return opaque("pow(" + key_of(e->args[0], depth) + ", " + ex->get_str() + ")");
      return integer_power(*root, ex->get_num());
    }
    auto v = eval_exact(e, b_);  // 8^(2/3) = 4
    if (v) return Frac{constant(*v), constant(1)};
    return opaque("pow(" + key_of(e->args[0], depth) + ", " + ex->get_str() + ")");
  }

  std::optional<Frac> integer_power(Frac base, const mpz_class& n) {
    if (abs(n) > kMaxExponent) return std::nullopt;
    long k = n.get_si();
    if (k < 0) {
      if (base.num.empty()) return std::nullopt;
      std::swap(base.num, base.den);
      k = -k;
    }
    Frac out{constant(1), constant(1)};
    while (k > 0) {
      if (k & 1) {
        auto m = mul(out, base);
        if (!m) return std::nullopt;
        out = std::move(*m);
      }
      k >>= 1;
      if (k > 0) {
        auto sq = mul(base, base);
        if (!sq) return std::nullopt;
        base = std::move(*sq);
      }
    }
    return out;
  }

  // √(p/q) = √(p·q)/q for a rational; nullopt for anything else (√x is not |x| or x).
  std::optional<Frac> square_root(const Frac& f) {
    auto n = as_constant(f.num), d = as_constant(f.den);
    if (!n || !d) return std::nullopt;
    mpq_class q = *n / *d;
    if (q == 0) return Frac{Poly{}, constant(1)};
    bool negative = q < 0;
    if (negative) q = -q;
    mpz_class radicand = q.get_num() * q.get_den();
    if (mpz_sizeinbase(radicand.get_mpz_t(), 2) > kMaxRadicandBits) return std::nullopt;
    auto [outside, square_free] = split_square(radicand);
    Monomial m;
    m.radical = square_free;
    m.imag = negative;  // the principal root of a negative number: i·√|q|
    mpq_class coef(outside, q.get_den());
    coef.canonicalize();
    return Frac{Poly{{m, coef}}, constant(1)};
  }

  // n = outside² · square_free. Trial division up to B; a cofactor above B² that is neither a
  // perfect square nor below B³ (then a product of two distinct primes) may still hide a square:
  // the form is then incomplete.
  std::pair<mpz_class, mpz_class> split_square(mpz_class n) {
    mpz_class outside = 1, square_free = 1;
    if (n == 0) return {0, 1};
    for (unsigned long p = 2; p <= kTrialDivisionBound; p += (p == 2 ? 1 : 2)) {
      if (mpz_class(p) * p > n) break;
      int e = 0;
      while (mpz_divisible_ui_p(n.get_mpz_t(), p)) {
        mpz_divexact_ui(n.get_mpz_t(), n.get_mpz_t(), p);
        ++e;
      }
      for (int k = 0; k < e / 2; ++k) outside *= p;
      if (e % 2) square_free *= p;
    }
    if (n > 1) {
      mpz_class bound = mpz_class(kTrialDivisionBound) * kTrialDivisionBound;
      if (mpz_perfect_square_p(n.get_mpz_t())) {
        mpz_class r;
        mpz_sqrt(r.get_mpz_t(), n.get_mpz_t());
        outside *= r;
      } else {
        if (n > bound * kTrialDivisionBound) complete_ = false;
        square_free *= n;
      }
    }
    return {outside, square_free};
  }

  std::optional<Frac> function(const ExprPtr& e, int depth) {
    const std::string& f = e->name;
    if (f == "sqrt" && e->args.size() == 1) {
      auto a = build(e->args[0], depth + 1);
      if (!a) return std::nullopt;
      if (auto r = square_root(remember(e->args[0], *a))) return r;
    }
    if (f == "root" && e->args.size() == 2) {
      auto k = eval_exact(e->args[0], b_);
      if (k && *k == 2) {
        auto a = build(e->args[1], depth + 1);
        if (!a) return std::nullopt;
        if (auto r = square_root(remember(e->args[1], *a))) return r;
      }
    }
    // abs, floor, ceil, factorials, binomials and perfect roots of rationals are rationals.
    if (auto v = eval_exact(e, b_)) return Frac{constant(*v), constant(1)};
    std::string key = f + "(";
    for (size_t i = 0; i < e->args.size(); ++i) key += (i ? ", " : "") + key_of(e->args[i], depth);
    return opaque(key + ")");
  }
};

}  // namespace

SymbolicDifference symbolic_difference(const ExprPtr& gold, const ExprPtr& pred, const Budget& budget) {
  SymbolicDifference out;
  Canonicalizer c(budget);
  auto g = c.build(gold), p = c.build(pred);
  if (!g || !p) return out;
  // g.num/g.den − p.num/p.den = (g.num·p.den − p.num·g.den) / (g.den·p.den)
  auto a = c.mul(g->num, p->den), b = c.mul(p->num, g->den);
  if (!a || !b) return out;
  Poly diff = c.sub(*a, *b);
  if (diff.empty()) {
    out.verdict = SymbolicVerdict::zero;
    out.difference = "0";
    return out;
  }
  if (!c.complete()) return out;
  out.verdict = SymbolicVerdict::nonzero;
  auto den = c.mul(g->den, p->den);
  out.difference = Canonicalizer::text(diff);
  if (den && !(den->size() == 1 && den->begin()->first.is_one() && den->begin()->second == 1))
    out.difference = "(" + out.difference + ") / (" + Canonicalizer::text(*den) + ")";
  if (out.difference.size() > 200) out.difference = out.difference.substr(0, 197) + "...";
  return out;
}

}  // namespace r1::verifiers::math
