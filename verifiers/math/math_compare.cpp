// Structural, symbolic and numeric equivalence.
#include "verifiers/math/math_compare.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

#include "verifiers/math/math_symbolic.h"

namespace r1::verifiers::math {
namespace {

using K = Expr::Kind;

bool is_inf(const ExprPtr& e, int sign) {
  if (!e) return false;
  if (e->kind == K::Symbol && e->name == "inf") return sign >= 0;
  if (e->kind == K::Neg && e->args[0]->kind == K::Symbol && e->args[0]->name == "inf") return sign <= 0;
  return false;
}

std::string lower_nospace(const std::string& s) {
  std::string out;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c)) && c != '\\' && c != '{' && c != '}') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// An answer label: no numbers and no sums ("x", "a_3", "f(x)", "|AB|", "A:B", "NO/BO").
bool label_like(const ExprPtr& e) {
  if (!e) return false;
  switch (e->kind) {
    case K::Symbol: return e->name != "pi" && e->name != "inf";
    case K::Mul:
    case K::Div:
      return std::all_of(e->args.begin(), e->args.end(), [](const ExprPtr& a) { return label_like(a); });
    case K::Func: return e->name == "abs" ? label_like(e->args[0]) : (e->args.size() == 1 && (label_like(e->args[0]) || e->args[0]->kind == K::Number));
    case K::Tuple: return std::all_of(e->args.begin(), e->args.end(), [](const ExprPtr& a) { return label_like(a); });
    case K::Text: return e->name.find(' ') == std::string::npos && !e->name.empty();
    default: return false;
  }
}

// Variable renaming for non-strict comparison: free symbols in order of appearance -> v0, v1...
ExprPtr rename(const ExprPtr& e, std::map<std::string, std::string>& names) {
  if (!e) return e;
  if (e->kind == K::Symbol && e->name != "pi" && e->name != "e" && e->name != "i" && e->name != "inf") {
    auto it = names.find(e->name);
    if (it == names.end()) it = names.emplace(e->name, "v" + std::to_string(names.size())).first;
    return Expr::symbol(it->second);
  }
  if (e->args.empty()) return e;
  auto c = std::make_shared<Expr>(*e);
  for (auto& a : c->args) a = rename(a, names);
  return c;
}

double round_to(double v, int places) {
  double p = std::pow(10.0, places);
  return std::round(v * p) / p;
}

bool has_decimal(const ExprPtr& e) {
  if (!e) return false;
  if (e->kind == K::Number && e->decimal_places > 0) return true;
  for (const auto& a : e->args)
    if (has_decimal(a)) return true;
  return false;
}

bool close(long double a, long double b, const MathOptions& o, bool rounding) {
  if (rounding && o.float_rounding >= 0)
    return round_to(static_cast<double>(a), o.float_rounding) == round_to(static_cast<double>(b), o.float_rounding) ||
           std::fabs(static_cast<double>(a - b)) <= 0.5 * std::pow(10.0, -o.float_rounding) + 1e-12;
  long double scale = std::max<long double>(1.0L, std::max(std::fabs(a), std::fabs(b)));
  return std::fabs(a - b) <= o.rel_tol * scale;
}

bool scalar_equal(const ExprPtr& g, const ExprPtr& p, CompareContext& ctx) {
  const MathOptions& o = ctx.options;
  bool rounding = has_decimal(g) || has_decimal(p);
  auto eg = eval_exact(g, ctx.budget), ep = eval_exact(p, ctx.budget);
  if (eg && ep) {
    if (*eg == *ep) return ctx.reason = "equal as exact rationals", true;
    if (!rounding) return ctx.reason = "different rationals " + eg->get_str() + " and " + ep->get_str(), false;
    bool c = close(eg->get_d(), ep->get_d(), o, true);
    ctx.reason = c ? "equal after rounding decimals" : "different numbers";
    return c;
  }
  if (!rounding && o.symbolic) {
    SymbolicDifference d = symbolic_difference(g, p, ctx.budget);
    if (d.verdict == SymbolicVerdict::zero) return ctx.reason = "equal symbolically (gold - pred simplifies to 0)", true;
    if (d.verdict == SymbolicVerdict::nonzero) return ctx.reason = "different: gold - pred = " + d.difference, false;
  }
  if (ctx.budget.expired()) return ctx.reason = "time limit", false;
  std::vector<std::string> vars;
  free_symbols(g, vars);
  free_symbols(p, vars);
  if (vars.size() > 8) return ctx.reason = "too many variables", false;
  if (vars.empty()) {
    auto a = eval_numeric(g, {}, ctx.budget), b = eval_numeric(p, {}, ctx.budget);
    if (ctx.budget.expired()) return ctx.reason = "time limit", false;
    if (!a || !b) return ctx.reason = "not numerically comparable", false;
    bool c = close(a->real(), b->real(), o, rounding) && close(a->imag(), b->imag(), o, rounding);
    ctx.reason = c ? "equal numerically" : "different values";
    return c;
  }
  // An identity in the free variables: the same value at seeded random points, each variable
  // drawn from ±[0.2, 3.2] (both signs, so that √(x²) is not taken for x). Points where either
  // side is undefined are skipped; at least half of them must be usable.
  std::mt19937_64 rng(o.numeric_seed);
  std::uniform_real_distribution<double> magnitude(0.2, 3.2);
  std::bernoulli_distribution negative(0.5);
  int points = std::max(1, o.numeric_points), checked = 0;
  for (int k = 0; k < points; ++k) {
    std::map<std::string, Complex> env;
    for (const auto& v : vars) env[v] = Complex(magnitude(rng) * (negative(rng) ? -1.0 : 1.0));
    auto a = eval_numeric(g, env, ctx.budget), b = eval_numeric(p, env, ctx.budget);
    if (ctx.budget.expired()) return ctx.reason = "time limit", false;
    if (!a || !b) continue;
    bool re = close(a->real(), b->real(), o, rounding), im = close(a->imag(), b->imag(), o, rounding);
    if (!(re && im)) return ctx.reason = "different values at a random point", false;
    ++checked;
  }
  if (2 * checked < points) return ctx.reason = "not numerically comparable (undefined at most points)", false;
  ctx.reason = "equal at " + std::to_string(checked) + " random points";
  return true;
}

// Relation helpers -----------------------------------------------------------------------------

// The relation without trailing approximations ("x = 1/3 \approx 0.33" -> "x = 1/3").
ExprPtr drop_approx(const ExprPtr& r) {
  if (r->kind != K::Relation) return r;
  size_t keep = r->rel.size();
  while (keep > 0 && r->rel[keep - 1] == "~") --keep;
  if (keep == r->rel.size()) return r;
  if (keep == 0) {
    // "x \approx 11": an approximation is the answer's value.
    auto c = std::make_shared<Expr>(*r);
    std::fill(c->rel.begin(), c->rel.end(), std::string("="));
    return c;
  }
  auto c = std::make_shared<Expr>(*r);
  c->rel.resize(keep);
  c->args.resize(keep + 1);
  return c;
}

bool all_eq(const ExprPtr& r) {
  return std::all_of(r->rel.begin(), r->rel.end(), [](const std::string& s) { return s == "="; });
}

// The value a labelled answer gives: "x = 3" -> 3, "z = 1 + 1 = 2" -> 2; null if not labelled.
ExprPtr labelled_value(const ExprPtr& r) {
  if (r->kind != K::Relation || !all_eq(r)) return nullptr;
  // "x = 3", "z = 1 + 1 = 2", and chains ending in "... = x = 0".
  if (label_like(r->args[0]) || (r->args.size() > 2 && label_like(r->args[r->args.size() - 2]))) return r->args.back();
  return nullptr;
}

// "x > 5", "5 >= x", "a < x < b", "-x > -1": the solution set in the one variable, as an interval.
ExprPtr relation_to_interval(const ExprPtr& r, CompareContext& ctx, std::string* var_out) {
  if (r->kind != K::Relation || r->rel.empty()) return nullptr;
  for (const auto& op : r->rel)
    if (op != "<" && op != "<=" && op != ">" && op != ">=") return nullptr;
  // "0 < f(x) < 1": bounds around a label, no solving needed.
  if (r->rel.size() == 2 && label_like(r->args[1]) && eval_exact(r->args[0], ctx.budget) && eval_exact(r->args[2], ctx.budget)) {
    bool up = r->rel[0][0] == '<' && r->rel[1][0] == '<', down = r->rel[0][0] == '>' && r->rel[1][0] == '>';
    if (up || down) {
      auto iv = std::make_shared<Expr>();
      iv->kind = K::Interval;
      iv->args = up ? std::vector<ExprPtr>{r->args[0], r->args[2]} : std::vector<ExprPtr>{r->args[2], r->args[0]};
      iv->left_closed = (up ? r->rel[0] : r->rel[1]).size() == 2;
      iv->right_closed = (up ? r->rel[1] : r->rel[0]).size() == 2;
      if (var_out) *var_out = to_string(r->args[1]);
      return iv;
    }
  }
  std::vector<std::string> vars;
  for (const auto& a : r->args) free_symbols(a, vars);
  if (vars.size() != 1) return nullptr;
  std::string v = vars[0];
  if (var_out) *var_out = v;
  mpq_class lo, hi;
  bool have_lo = false, have_hi = false, lo_closed = false, hi_closed = false;
  for (size_t i = 0; i < r->rel.size(); ++i) {
    ExprPtr a = r->args[i], b = r->args[i + 1];
    std::string op = r->rel[i];
    // f(x) = a - b must be linear in x: evaluate at x = 0, 1, 2.
    auto f = [&](long double x) -> std::optional<long double> {
      std::map<std::string, Complex> env{{v, Complex(x)}};
      auto va = eval_numeric(a, env, ctx.budget), vb = eval_numeric(b, env, ctx.budget);
      if (!va || !vb) return std::nullopt;
      return (va->real() - vb->real());
    };
    auto f0 = f(0), f1 = f(1), f2 = f(2);
    if (!f0 || !f1 || !f2) return nullptr;
    long double slope = *f1 - *f0;
    if (std::fabs((*f2 - *f1) - slope) > 1e-9L || std::fabs(slope) < 1e-12L) return nullptr;
    // a op b  <=>  slope*x + f0 op 0  <=>  x op' -f0/slope
    long double root = -*f0 / slope;
    bool less = op == "<" || op == "<=";
    if (slope < 0) less = !less;
    bool closed = op == "<=" || op == ">=";
    mpq_class q(static_cast<double>(root));
    // Keep exact values for the common rational bounds.
    for (int den = 1; den <= 1000; ++den) {
      long double n = root * den;
      if (std::fabs(n - std::round(n)) < 1e-9L) {
        q = mpq_class(static_cast<long>(std::llround(n)), den);
        q.canonicalize();
        break;
      }
    }
    if (less) {
      if (!have_hi || q < hi) hi = q, hi_closed = closed, have_hi = true;
    } else {
      if (!have_lo || q > lo) lo = q, lo_closed = closed, have_lo = true;
    }
  }
  auto iv = std::make_shared<Expr>();
  iv->kind = K::Interval;
  iv->args = {have_lo ? Expr::number(lo) : Expr::make(K::Neg, {Expr::symbol("inf")}), have_hi ? Expr::number(hi) : Expr::symbol("inf")};
  iv->left_closed = have_lo && lo_closed;
  iv->right_closed = have_hi && hi_closed;
  return iv;
}

// Equations compared as equations: same solutions, i.e. (l1 - r1) = c * (l2 - r2), c != 0.
bool equations_equal(const ExprPtr& g, const ExprPtr& p, CompareContext& ctx) {
  if (g->rel.size() != 1 || p->rel.size() != 1) return false;
  auto dg = Expr::make(K::Add, {g->args[0], Expr::make(K::Neg, {g->args[1]})});
  auto dp = Expr::make(K::Add, {p->args[0], Expr::make(K::Neg, {p->args[1]})});
  std::vector<std::string> vars;
  free_symbols(dg, vars);
  std::vector<std::string> pv;
  free_symbols(dp, pv);
  if (ctx.options.strict) {
    auto sorted = [](std::vector<std::string> v) { std::sort(v.begin(), v.end()); return v; };
    if (sorted(vars) != sorted(pv)) return false;
  }
  if (vars.empty()) return false;
  const long double pts[][4] = {{1.31L, 0.73L, 2.19L, 1.7L}, {2.45L, 1.91L, 0.44L, 0.9L}, {0.61L, 2.77L, 1.51L, 2.3L}, {1.9L, 1.1L, 0.8L, 1.4L}};
  std::optional<long double> ratio;
  for (const auto& pt : pts) {
    std::map<std::string, Complex> env;
    for (size_t i = 0; i < vars.size(); ++i) env[vars[i]] = Complex(pt[i % 4] + 0.29L * (i / 4));
    auto a = eval_numeric(dg, env, ctx.budget), b = eval_numeric(dp, env, ctx.budget);
    if (!a || !b) return false;
    if (std::abs(*b) < 1e-12L) {
      if (std::abs(*a) > 1e-9L) return false;
      continue;
    }
    long double r = (*a / *b).real();
    if (!ratio) ratio = r;
    else if (std::fabs(r - *ratio) > 1e-6L * std::max<long double>(1, std::fabs(*ratio))) return false;
  }
  if (!ratio || std::fabs(*ratio) < 1e-12L) return false;
  ctx.reason = "equivalent equations";
  return true;
}

// Collections ---------------------------------------------------------------------------------

std::vector<ExprPtr> elements(const ExprPtr& e) {
  // ± expands into its two values.
  std::vector<ExprPtr> out;
  for (const auto& a : e->args) {
    if (a->kind == K::PlusMinus) {
      ExprPtr base = a->args[0] ? a->args[0] : Expr::number(0);
      out.push_back(Expr::make(K::Add, {base, a->args[1]}));
      out.push_back(Expr::make(K::Add, {base, Expr::make(K::Neg, {a->args[1]})}));
    } else {
      out.push_back(a);
    }
  }
  return out;
}

std::vector<ExprPtr> dedupe(const std::vector<ExprPtr>& v, CompareContext& ctx) {
  std::vector<ExprPtr> out;
  for (const auto& x : v) {
    bool seen = false;
    for (const auto& y : out) {
      CompareContext sub{ctx.options, ctx.budget, {}};
      if (equivalent(y, x, sub)) {
        seen = true;
        break;
      }
    }
    if (!seen) out.push_back(x);
  }
  return out;
}

bool unordered_equal(const std::vector<ExprPtr>& g_in, const std::vector<ExprPtr>& p_in, CompareContext& ctx) {
  // Sets: repeated elements count once.
  auto g = dedupe(g_in, ctx), p = dedupe(p_in, ctx);
  if (g.size() != p.size()) return ctx.reason = "different numbers of elements", false;
  std::vector<bool> used(p.size(), false);
  for (const auto& x : g) {
    bool found = false;
    for (size_t j = 0; j < p.size() && !found; ++j) {
      if (used[j]) continue;
      CompareContext sub{ctx.options, ctx.budget, {}};
      if (equivalent(x, p[j], sub)) used[j] = found = true;
    }
    if (!found) return ctx.reason = "element " + to_string(x) + " has no match", false;
  }
  ctx.reason = "same elements";
  return true;
}

bool ordered_equal(const std::vector<ExprPtr>& g, const std::vector<ExprPtr>& p, CompareContext& ctx) {
  if (g.size() != p.size()) return ctx.reason = "different lengths", false;
  for (size_t i = 0; i < g.size(); ++i) {
    CompareContext sub{ctx.options, ctx.budget, {}};
    if (!equivalent(g[i], p[i], sub)) return ctx.reason = "component " + std::to_string(i + 1) + " differs: " + sub.reason, false;
  }
  ctx.reason = "same components in order";
  return true;
}

bool endpoint_equal(const ExprPtr& a, const ExprPtr& b, CompareContext& ctx) {
  if (is_inf(a, 1) || is_inf(a, -1) || is_inf(b, 1) || is_inf(b, -1)) {
    auto sign = [](const ExprPtr& e) {
      if (e->kind == K::Symbol && e->name == "inf") return 1;
      if (e->kind == K::Neg && e->args[0]->kind == K::Symbol && e->args[0]->name == "inf") return -1;
      return 0;
    };
    return sign(a) == sign(b) && sign(a) != 0;
  }
  CompareContext sub{ctx.options, ctx.budget, {}};
  return equivalent(a, b, sub);
}

ExprPtr as_interval(const ExprPtr& e) {
  // An open interval may be written as a 2-tuple: (1, +\infty).
  if (e->kind == K::Interval) return e;
  if (e->kind == K::Tuple && e->args.size() == 2) {
    auto iv = std::make_shared<Expr>(*e);
    iv->kind = K::Interval;
    iv->left_closed = iv->right_closed = false;
    return iv;
  }
  return nullptr;
}

bool interval_equal(const ExprPtr& g, const ExprPtr& p, CompareContext& ctx) {
  if (g->left_closed != p->left_closed || g->right_closed != p->right_closed)
    return ctx.reason = "interval endpoints differ in openness", false;
  if (!endpoint_equal(g->args[0], p->args[0], ctx) || !endpoint_equal(g->args[1], p->args[1], ctx))
    return ctx.reason = "interval endpoints differ", false;
  ctx.reason = "same interval";
  return true;
}

bool is_collection(const ExprPtr& e) { return e->kind == K::List || e->kind == K::Set; }

// Sums and products of explicit matrices (A + B, A B, 2A) carried out entry by entry.
ExprPtr matrix_value(const ExprPtr& e) {
  if (!e || !(e->kind == K::Add || e->kind == K::Mul)) return e;
  if (!std::any_of(e->args.begin(), e->args.end(), [](const ExprPtr& a) { return a->kind == K::Matrix; })) return e;
  std::vector<ExprPtr> parts;
  for (const auto& a : e->args) parts.push_back(matrix_value(a));
  ExprPtr acc = parts[0];
  for (size_t k = 1; k < parts.size(); ++k) {
    ExprPtr b = parts[k];
    bool am = acc->kind == K::Matrix, bm = b->kind == K::Matrix;
    auto m = std::make_shared<Expr>();
    m->kind = K::Matrix;
    if (e->kind == K::Add) {
      if (!am || !bm || acc->rows != b->rows || acc->args.size() != b->args.size()) return e;
      m->rows = acc->rows;
      for (size_t i = 0; i < acc->args.size(); ++i) m->args.push_back(Expr::make(K::Add, {acc->args[i], b->args[i]}));
    } else if (am && bm) {
      int n = acc->rows, kk = static_cast<int>(acc->args.size()) / std::max(1, n);
      int bcols = static_cast<int>(b->args.size()) / std::max(1, b->rows);
      if (b->rows != kk) return e;
      m->rows = n;
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < bcols; ++j) {
          std::vector<ExprPtr> terms;
          for (int q = 0; q < kk; ++q) terms.push_back(Expr::make(K::Mul, {acc->args[i * kk + q], b->args[q * bcols + j]}));
          m->args.push_back(Expr::make(K::Add, terms));
        }
    } else {
      ExprPtr scalar = am ? b : acc, mat = am ? acc : b;
      if (mat->kind != K::Matrix) return e;
      m->rows = mat->rows;
      for (const auto& x : mat->args) m->args.push_back(Expr::make(K::Mul, {scalar, x}));
    }
    acc = m;
  }
  return acc;
}

}  // namespace

bool equivalent(const ExprPtr& gold_in, const ExprPtr& pred_in, CompareContext& ctx) {
  if (!gold_in || !pred_in) return ctx.reason = "nothing to compare", false;
  if (ctx.budget.expired()) return ctx.reason = "time limit", false;
  ExprPtr g = gold_in, p = pred_in;
  if (!ctx.options.strict) {
    std::map<std::string, std::string> gn, pn;
    g = rename(g, gn);
    p = rename(p, pn);
  }
  const MathOptions& o = ctx.options;
  if (to_string(g) == to_string(p) && g->kind != K::Relation) return ctx.reason = "identical", true;
  g = matrix_value(g);
  p = matrix_value(p);

  // Text answers: case- and space-insensitive; a lone letter symbol compares as text too.
  auto textual = [](const ExprPtr& e) -> std::optional<std::string> {
    if (e->kind == K::Text) return lower_nospace(e->name);
    if (e->kind == K::Symbol && e->name.size() == 1) return lower_nospace(e->name);
    return std::nullopt;
  };
  if (auto tg = textual(g), tp = textual(p); tg && tp) {
    // Case matters only between single symbols (d vs D); words ignore case.
    bool single = g->kind == K::Symbol && p->kind == K::Symbol;
    if (single) return (ctx.reason = g->name == p->name ? "same symbol" : "different symbols"), g->name == p->name;
    if (*tg == *tp) return ctx.reason = "same text", true;
    return ctx.reason = "different text", false;
  }

  // Relations.
  if (g->kind == K::Relation) g = drop_approx(g);
  if (p->kind == K::Relation) p = drop_approx(p);
  if (g->kind == K::Relation && g->rel.size() == 1 && g->rel[0] == "in") return equivalent(g->args[1], p, ctx);
  if (p->kind == K::Relation && p->rel.size() == 1 && p->rel[0] == "in") {
    if (g->kind == K::Relation && !all_eq(g)) {
      // gold inequality vs pred set membership: always allowed.
      if (auto gi = relation_to_interval(g, ctx, nullptr)) return equivalent(gi, p->args[1], ctx);
    }
    return equivalent(g, p->args[1], ctx);
  }
  if (g->kind == K::Relation && p->kind == K::Relation) {
    if (all_eq(g) && all_eq(p)) {
      auto gv = labelled_value(g), pv = labelled_value(p);
      if (gv && pv) {
        CompareContext lhs{o, ctx.budget, {}};
        if (equivalent(g->args[0], p->args[0], lhs) || !o.strict) return equivalent(gv, pv, ctx);
      }
      if (equations_equal(g, p, ctx)) return true;
      if (gv && pv) return equivalent(gv, pv, ctx);
      return ctx.reason = "different equations", false;
    }
    if (g->rel == std::vector<std::string>{"!="} && p->rel == std::vector<std::string>{"!="})
      return equivalent(g->args[1], p->args[1], ctx);
    std::string vg, vp;
    auto ig = relation_to_interval(g, ctx, &vg), ip = relation_to_interval(p, ctx, &vp);
    if (ig && ip) {
      if (o.strict && vg != vp) return ctx.reason = "inequalities in different variables", false;
      return interval_equal(ig, ip, ctx);
    }
    return ctx.reason = "relations differ", false;
  }
  if (g->kind == K::Relation) {
    if (auto v = labelled_value(g)) return equivalent(v, p, ctx);
    if (!all_eq(g)) {
      if (auto gi = relation_to_interval(g, ctx, nullptr)) {
        if (auto pi = as_interval(p)) return interval_equal(gi, pi, ctx);
      }
    }
    return ctx.reason = "the reference is an equation, the answer is not", false;
  }
  if (p->kind == K::Relation) {
    if (auto v = labelled_value(p)) return equivalent(g, v, ctx);
    // "1/2 = 10/9" as the answer: its last member is what was concluded.
    if (all_eq(p)) return equivalent(g, p->args.back(), ctx);
    if (!all_eq(p) && o.allow_set_relation) {
      if (auto pi = relation_to_interval(p, ctx, nullptr)) {
        if (auto gi = as_interval(g)) return interval_equal(gi, pi, ctx);
      }
    }
    return ctx.reason = "the answer is a relation, the reference is not", false;
  }

  // Percentages: gold 28% accepts 28 and 0.28; a pred percentage is its value / 100.
  if (g->kind == K::Percent && p->kind != K::Percent && o.percent_equivalence) {
    CompareContext sub{o, ctx.budget, {}};
    if (equivalent(g->args[0], p, sub)) return ctx.reason = "percentage written without %", true;
    return scalar_equal(g, p, ctx);
  }
  if (g->kind == K::Percent && p->kind == K::Percent) return equivalent(g->args[0], p->args[0], ctx);

  // Collections.
  if (g->kind == K::Matrix || p->kind == K::Matrix) {
    if (g->kind != p->kind) return ctx.reason = "matrix against non-matrix", false;
    if (g->rows != p->rows || g->args.size() != p->args.size()) return ctx.reason = "matrix shapes differ", false;
    return ordered_equal(g->args, p->args, ctx);
  }
  if (g->kind == K::Union || p->kind == K::Union) {
    auto parts = [](const ExprPtr& e) { return e->kind == K::Union ? e->args : std::vector<ExprPtr>{e}; };
    return unordered_equal(parts(g), parts(p), ctx);
  }
  if (g->kind == K::Interval || p->kind == K::Interval) {
    auto gi = as_interval(g), pi = as_interval(p);
    if (!gi || !pi) return ctx.reason = "interval against non-interval", false;
    return interval_equal(gi, pi, ctx);
  }
  if (g->kind == K::Tuple && p->kind == K::Tuple) return ordered_equal(g->args, p->args, ctx);
  if (g->kind == K::Tuple && p->kind == K::List) return ordered_equal(g->args, p->args, ctx);
  if (g->kind == K::List && p->kind == K::Tuple) {
    // A single pair written loosely: "(p,q)=(3,2)" handled above; "1, 2" vs "(1, 2)" ordered.
    return ordered_equal(g->args, p->args, ctx);
  }
  if ((is_collection(g) || g->kind == K::PlusMinus) && (is_collection(p) || p->kind == K::PlusMinus)) {
    auto eg = g->kind == K::PlusMinus ? elements(Expr::make(K::List, {g})) : elements(g);
    auto ep = p->kind == K::PlusMinus ? elements(Expr::make(K::List, {p})) : elements(p);
    return unordered_equal(eg, ep, ctx);
  }
  if (is_collection(g) && g->args.size() == 1) return equivalent(g->args[0], p, ctx);
  if (is_collection(p) && p->args.size() == 1) return equivalent(g, p->args[0], ctx);
  if (is_collection(g) || is_collection(p) || g->kind == K::Tuple || p->kind == K::Tuple)
    return ctx.reason = "a collection against a single value", false;
  if (g->kind == K::PlusMinus || p->kind == K::PlusMinus) {
    if (g->kind != p->kind) return ctx.reason = "± against a single value", false;
    return unordered_equal(elements(Expr::make(K::List, {g})), elements(Expr::make(K::List, {p})), ctx);
  }
  if (g->kind == K::Text || p->kind == K::Text) return ctx.reason = "text against math", false;
  if (p->kind == K::Percent && o.percent_equivalence) {
    if (p->name == "latex") {
      CompareContext sub{o, ctx.budget, {}};
      if (equivalent(g, p->args[0], sub)) return ctx.reason = "same number, \\% read as a unit", true;
    }
    return scalar_equal(g, p, ctx);
  }
  return scalar_equal(g, p, ctx);
}

}  // namespace r1::verifiers::math
