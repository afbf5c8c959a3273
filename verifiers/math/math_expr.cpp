// Expr construction, printing and bounded evaluation.
#include "verifiers/math/math_expr.h"

#include <algorithm>
#include <cmath>

namespace r1::verifiers::math {

ExprPtr Expr::number(mpq_class v, int decimals) {
  auto e = std::make_shared<Expr>();
  e->kind = Kind::Number;
  v.canonicalize();
  e->value = v;
  e->decimal_places = decimals;
  return e;
}
ExprPtr Expr::symbol(std::string n) {
  auto e = std::make_shared<Expr>();
  e->kind = Kind::Symbol;
  e->name = std::move(n);
  return e;
}
ExprPtr Expr::text(std::string t) {
  auto e = std::make_shared<Expr>();
  e->kind = Kind::Text;
  e->name = std::move(t);
  return e;
}
ExprPtr Expr::make(Kind k, std::vector<ExprPtr> args, std::string name) {
  auto e = std::make_shared<Expr>();
  e->kind = k;
  e->args = std::move(args);
  e->name = std::move(name);
  return e;
}

std::string to_string(const ExprPtr& e) {
  if (!e) return "?";
  // The arguments joined by `sep` between `open` and `close` (appended piece by piece: GCC 12
  // warns with -Wrestrict, a known false positive, on "(" + std::string).
  auto wrap = [&](const std::string& open, const std::string& sep, const std::string& close) {
    std::string s = open;
    for (size_t i = 0; i < e->args.size(); ++i) {
      if (i) s += sep;
      s += to_string(e->args[i]);
    }
    s += close;
    return s;
  };
  auto join = [&](const std::string& sep) { return wrap("", sep, ""); };
  switch (e->kind) {
    case Expr::Kind::Number: return e->value.get_str();
    case Expr::Kind::Symbol: return e->name;
    case Expr::Kind::Text: return "\"" + e->name + "\"";
    case Expr::Kind::Add: return wrap("(", " + ", ")");
    case Expr::Kind::Mul: return wrap("(", "*", ")");
    case Expr::Kind::Div: return wrap("(", "/", ")");
    case Expr::Kind::Pow: return wrap("(", "^", ")");
    case Expr::Kind::Neg: return std::string("-").append(to_string(e->args[0]));
    case Expr::Kind::Func: return wrap(e->name + "(", ", ", ")");
    case Expr::Kind::Percent: return to_string(e->args[0]) + "%";
    case Expr::Kind::PlusMinus: return (e->args[0] ? to_string(e->args[0]) : "") + " ± " + to_string(e->args[1]);
    case Expr::Kind::Tuple: return wrap("(", ", ", ")");
    case Expr::Kind::Set: return wrap("{", ", ", "}");
    case Expr::Kind::Interval:
      return wrap(e->left_closed ? "[" : "(", ", ", e->right_closed ? "]" : ")");
    case Expr::Kind::Union: return join(" ∪ ");
    case Expr::Kind::Matrix: return wrap("matrix" + std::to_string(e->rows) + "[", ", ", "]");
    case Expr::Kind::Relation: {
      std::string s = to_string(e->args[0]);
      for (size_t i = 0; i < e->rel.size(); ++i) s += " " + e->rel[i] + " " + to_string(e->args[i + 1]);
      return s;
    }
    case Expr::Kind::List: return join("; ");
  }
  return "?";
}

namespace {

bool too_big(const mpq_class& q, const Budget& b) {
  return mpz_sizeinbase(q.get_num_mpz_t(), 2) > b.max_bits || mpz_sizeinbase(q.get_den_mpz_t(), 2) > b.max_bits;
}

std::optional<mpq_class> exact(const ExprPtr& e, const Budget& b, int depth) {
  if (!e || depth > b.max_depth || b.expired()) return std::nullopt;
  using K = Expr::Kind;
  switch (e->kind) {
    case K::Number: return e->value;
    case K::Neg: {
      auto v = exact(e->args[0], b, depth + 1);
      if (!v) return std::nullopt;
      return mpq_class(-*v);
    }
    case K::Add:
    case K::Mul: {
      mpq_class acc = e->kind == K::Add ? 0 : 1;
      for (const auto& a : e->args) {
        auto v = exact(a, b, depth + 1);
        if (!v) return std::nullopt;
        acc = e->kind == K::Add ? mpq_class(acc + *v) : mpq_class(acc * *v);
        if (too_big(acc, b)) return std::nullopt;
      }
      return acc;
    }
    case K::Div: {
      auto n = exact(e->args[0], b, depth + 1), d = exact(e->args[1], b, depth + 1);
      if (!n || !d || *d == 0) return std::nullopt;
      mpq_class r = *n / *d;
      if (too_big(r, b)) return std::nullopt;
      return r;
    }
    case K::Percent: {
      auto v = exact(e->args[0], b, depth + 1);
      if (!v) return std::nullopt;
      return mpq_class(*v / 100);
    }
    case K::Pow: {
      auto base = exact(e->args[0], b, depth + 1), ex = exact(e->args[1], b, depth + 1);
      if (!base || !ex) return std::nullopt;
      if (ex->get_den() != 1) {
        // A rational root of a perfect power stays exact: (p/q)^(a/c).
        if (*base < 0) return std::nullopt;
        mpz_class c = ex->get_den();
        if (c > 64) return std::nullopt;
        unsigned long ci = c.get_ui();
        mpz_class rn, rd;
        if (!mpz_root(rn.get_mpz_t(), base->get_num_mpz_t(), ci) || !mpz_root(rd.get_mpz_t(), base->get_den_mpz_t(), ci))
          return std::nullopt;
        mpq_class root(rn, rd);
        root.canonicalize();
        auto p = Expr::make(K::Pow, {Expr::number(root), Expr::number(mpq_class(ex->get_num()))});
        return exact(p, b, depth + 1);
      }
      mpz_class n = ex->get_num();
      if (*base == 0) {
        if (n < 0) return std::nullopt;
        return mpq_class(n == 0 ? 1 : 0);
      }
      if (*base == 1) return mpq_class(1);
      if (*base == -1) return mpq_class(mpz_odd_p(n.get_mpz_t()) ? -1 : 1);
      // |result bits| ~ |n| * bits(base): refuse what the budget cannot hold (10^{10^{10}}).
      size_t base_bits = std::max(mpz_sizeinbase(base->get_num_mpz_t(), 2), mpz_sizeinbase(base->get_den_mpz_t(), 2));
      mpz_class absn = abs(n);
      if (absn > static_cast<long>(b.max_bits) || base_bits * absn.get_ui() > b.max_bits) return std::nullopt;
      unsigned long k = absn.get_ui();
      mpz_class num, den;
      mpz_pow_ui(num.get_mpz_t(), base->get_num_mpz_t(), k);
      mpz_pow_ui(den.get_mpz_t(), base->get_den_mpz_t(), k);
      mpq_class r = n < 0 ? mpq_class(den, num) : mpq_class(num, den);
      r.canonicalize();
      return r;
    }
    case K::Func: {
      const std::string& f = e->name;
      if (f == "abs" || f == "floor" || f == "ceil" || f == "fact") {
        auto v = exact(e->args[0], b, depth + 1);
        if (!v) return std::nullopt;
        if (f == "abs") return mpq_class(abs(*v));
        mpz_class fl;
        mpz_fdiv_q(fl.get_mpz_t(), v->get_num_mpz_t(), v->get_den_mpz_t());
        if (f == "floor") return mpq_class(fl);
        if (f == "ceil") return mpq_class(v->get_den() == 1 ? fl : mpz_class(fl + 1));
        if (v->get_den() != 1 || *v < 0 || *v > 400) return std::nullopt;  // 400! has ~2900 bits
        mpz_class r;
        mpz_fac_ui(r.get_mpz_t(), v->get_num().get_ui());
        return mpq_class(r);
      }
      if (f == "binom") {
        auto n = exact(e->args[0], b, depth + 1), k = exact(e->args[1], b, depth + 1);
        if (!n || !k || n->get_den() != 1 || k->get_den() != 1 || *k < 0 || *n < 0 || *n > 4000) return std::nullopt;
        mpz_class r;
        mpz_bin_uiui(r.get_mpz_t(), n->get_num().get_ui(), k->get_num().get_ui());
        return mpq_class(r);
      }
      if (f == "sqrt") {
        auto v = exact(e->args[0], b, depth + 1);
        if (!v) return std::nullopt;
        return exact(Expr::make(K::Pow, {Expr::number(*v), Expr::number(mpq_class(1, 2))}), b, depth + 1);
      }
      if (f == "root") {
        auto idx = exact(e->args[0], b, depth + 1), v = exact(e->args[1], b, depth + 1);
        if (!idx || !v || *idx == 0) return std::nullopt;
        return exact(Expr::make(K::Pow, {Expr::number(*v), Expr::number(mpq_class(1 / *idx))}), b, depth + 1);
      }
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

Complex lgamma_complex_fact(long double x) { return std::tgamma(x + 1); }

std::optional<Complex> numeric(const ExprPtr& e, const std::map<std::string, Complex>& env, const Budget& b, int depth) {
  if (!e || depth > b.max_depth || b.expired()) return std::nullopt;
  using K = Expr::Kind;
  auto ok = [](Complex c) -> std::optional<Complex> {
    if (!std::isfinite(c.real()) || !std::isfinite(c.imag())) return std::nullopt;
    return c;
  };
  switch (e->kind) {
    case K::Number: return Complex(static_cast<long double>(e->value.get_d()));
    case K::Symbol: {
      if (e->name == "pi") return Complex(3.14159265358979323846264338327950288L);
      if (e->name == "e") return Complex(2.71828182845904523536028747135266250L);
      if (e->name == "i") return Complex(0, 1);
      auto it = env.find(e->name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    }
    case K::Neg: {
      auto v = numeric(e->args[0], env, b, depth + 1);
      if (!v) return std::nullopt;
      return -*v;
    }
    case K::Add:
    case K::Mul: {
      Complex acc = e->kind == K::Add ? Complex(0) : Complex(1);
      for (const auto& a : e->args) {
        auto v = numeric(a, env, b, depth + 1);
        if (!v) return std::nullopt;
        acc = e->kind == K::Add ? acc + *v : acc * *v;
      }
      return ok(acc);
    }
    case K::Div: {
      auto n = numeric(e->args[0], env, b, depth + 1), d = numeric(e->args[1], env, b, depth + 1);
      if (!n || !d || std::abs(*d) == 0) return std::nullopt;
      return ok(*n / *d);
    }
    case K::Percent: {
      auto v = numeric(e->args[0], env, b, depth + 1);
      if (!v) return std::nullopt;
      return *v / 100.0L;
    }
    case K::Pow: {
      auto base = numeric(e->args[0], env, b, depth + 1), ex = numeric(e->args[1], env, b, depth + 1);
      if (!base || !ex) return std::nullopt;
      if (std::abs(*ex) > 1e6) return std::nullopt;
      // Real odd roots of negative numbers stay real (cbrt(-8) = -2, as readers mean it).
      if (ex->imag() == 0 && base->imag() == 0 && base->real() < 0) {
        long double p = ex->real();
        if (p == std::floor(p)) return ok(Complex(std::pow(base->real(), p)));
        auto exq = exact(e->args[1], b, depth + 1);
        if (exq && mpz_odd_p(exq->get_den_mpz_t())) return ok(Complex(-std::pow(-base->real(), p) * (mpz_odd_p(exq->get_num_mpz_t()) ? 1 : -1)));
      }
      if (base->imag() == 0 && ex->imag() == 0 && base->real() >= 0) return ok(Complex(std::pow(base->real(), ex->real())));
      return ok(std::pow(*base, *ex));
    }
    case K::Func: {
      std::vector<Complex> a;
      for (const auto& x : e->args) {
        auto v = numeric(x, env, b, depth + 1);
        if (!v) return std::nullopt;
        a.push_back(*v);
      }
      const std::string& f = e->name;
      auto real = [&](size_t i) { return a[i].real(); };
      if (a.empty()) return std::nullopt;
      if (f == "sin") return ok(std::sin(a[0]));
      if (f == "cos") return ok(std::cos(a[0]));
      if (f == "tan") return ok(std::tan(a[0]));
      if (f == "sec") return ok(1.0L / std::cos(a[0]));
      if (f == "csc") return ok(1.0L / std::sin(a[0]));
      if (f == "cot") return ok(1.0L / std::tan(a[0]));
      if (f == "arcsin") return ok(std::asin(a[0]));
      if (f == "arccos") return ok(std::acos(a[0]));
      if (f == "arctan") return ok(std::atan(a[0]));
      if (f == "sinh") return ok(std::sinh(a[0]));
      if (f == "cosh") return ok(std::cosh(a[0]));
      if (f == "tanh") return ok(std::tanh(a[0]));
      if (f == "exp") return ok(std::exp(a[0]));
      if (f == "ln") return std::abs(a[0]) == 0 ? std::nullopt : ok(std::log(a[0]));
      if (f == "log") {
        if (a.size() == 2) return (std::abs(a[0]) == 0 || std::abs(a[1]) == 0) ? std::nullopt : ok(std::log(a[1]) / std::log(a[0]));
        return std::abs(a[0]) == 0 ? std::nullopt : ok(std::log(a[0]));
      }
      if (f == "sqrt") return ok(a[0].imag() == 0 && a[0].real() >= 0 ? Complex(std::sqrt(a[0].real())) : std::sqrt(a[0]));
      if (f == "root" && a.size() == 2) {
        if (a[1].imag() == 0 && a[1].real() < 0 && a[0].imag() == 0 && std::fmod(a[0].real(), 2) == 1)
          return ok(Complex(-std::pow(-a[1].real(), 1.0L / a[0].real())));
        return ok(std::pow(a[1], 1.0L / a[0]));
      }
      if (f == "abs") return Complex(std::abs(a[0]));
      if (f == "floor") return Complex(std::floor(real(0)));
      if (f == "ceil") return Complex(std::ceil(real(0)));
      if (f == "fact") {
        if (real(0) < 0 || real(0) > 170) return std::nullopt;
        return ok(lgamma_complex_fact(real(0)));
      }
      if (f == "binom" && a.size() == 2)
        return ok(Complex(std::tgamma(real(0) + 1) / (std::tgamma(real(1) + 1) * std::tgamma(real(0) - real(1) + 1))));
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

}  // namespace

std::optional<mpq_class> eval_exact(const ExprPtr& e, const Budget& b) { return exact(e, b, 0); }

std::optional<Complex> eval_numeric(const ExprPtr& e, const std::map<std::string, Complex>& env, const Budget& b) {
  return numeric(e, env, b, 0);
}

void free_symbols(const ExprPtr& e, std::vector<std::string>& out) {
  if (!e) return;
  if (e->kind == Expr::Kind::Symbol) {
    if (e->name != "pi" && e->name != "e" && e->name != "i" && e->name != "inf" &&
        std::find(out.begin(), out.end(), e->name) == out.end())
      out.push_back(e->name);
    return;
  }
  for (const auto& a : e->args) free_symbols(a, out);
}

bool contains_kind(const ExprPtr& e, Expr::Kind k) {
  if (!e) return false;
  if (e->kind == k) return true;
  for (const auto& a : e->args)
    if (contains_kind(a, k)) return true;
  return false;
}

}  // namespace r1::verifiers::math
