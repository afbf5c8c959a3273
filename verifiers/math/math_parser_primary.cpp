// The answer parser's primaries: numbers, symbols and subscripts, commands (\frac, \sqrt,
// \binom, ...) and functions (see math_parser_impl.h).
#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

#include "verifiers/math/math_parser_impl.h"

namespace r1::verifiers::math::detail {

ExprPtr Parser::parse_primary() {
  Depth d(*this);
  const Tok t = cur();
  switch (t.k) {
    case Tok::K::End: throw ParseError("unexpected end");
    case Tok::K::Num: {
      ++p_;
      if (sym("_") && peek().k != Tok::K::End) {  // 204_5: a base-5 numeral, compared as written
        std::string sub = read_subscript();
        return Expr::text(t.s + "_" + sub);
      }
      size_t dot = t.s.find('.');
      size_t e = t.s.find_first_of("eE");
      if (e != std::string::npos) {
        mpq_class mant(0);
        std::string m = t.s.substr(0, e);
        int exp10 = std::stoi(t.s.substr(e + 1));
        if (std::abs(exp10) > 400) throw ParseError("exponent out of range");
        mpq_class scale = 1;
        for (int k = 0; k < std::abs(exp10); ++k) scale *= 10;
        return Expr::number(parse_decimal(m) * (exp10 < 0 ? mpq_class(1 / scale) : scale), 0);
      }
      return Expr::number(parse_decimal(t.s), dot == std::string::npos ? -1 : static_cast<int>(t.s.size() - dot - 1));
    }
    case Tok::K::Word: {
      ++p_;
      std::string w = t.s;
      static const std::set<std::string> kFuncs = {"sin", "cos", "tan", "sec", "csc", "cot", "ln", "log", "exp",
                                                   "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "sqrt"};
      if (kFuncs.count(w) && (sym("(") || sym("{"))) return make_func(w);
      if (w == "pi") return Expr::symbol("pi");
      if (w.size() == 1) return maybe_subscript(Expr::symbol(w));
      if (is_unit_text(w) && o_.strip_units && p_ > 1) return parse_after_unit();
      // Points and segments: AB, MBCN (capitals) are products of their letters.
      if (w.size() <= 4 && std::all_of(w.begin(), w.end(), [](char c) { return std::isupper(static_cast<unsigned char>(c)); })) {
        std::vector<ExprPtr> f;
        for (char c : w) f.push_back(Expr::symbol(std::string(1, c)));
        return maybe_subscript(Expr::make(Expr::Kind::Mul, std::move(f)));
      }
      // A run of letters in math mode is a product of variables (xy); words are text. Only the
      // first letter is taken here: the second stays a token, so that in xy^2 the power binds
      // to y alone.
      if (w.size() <= 2 && std::all_of(w.begin(), w.end(), [](char c) { return std::islower(static_cast<unsigned char>(c)); }) && !is_unit_word(w)) {
        --p_;
        t_[p_].s = w.substr(1);
        return Expr::symbol(w.substr(0, 1));
      }
      std::string phrase = w;
      while (cur().k == Tok::K::Word && !word("and") && !word("or")) {
        phrase += " " + cur().s;
        ++p_;
      }
      return Expr::text(phrase);
    }
    case Tok::K::Text: {
      ++p_;
      std::string s = trim(t.s);
      if (s.empty()) return parse_primary();
      // \text{5} or \text{(C)}: parse what is inside when it is math.
      std::string err;
      ParseOptions inner = o_;
      inner.max_depth = o_.max_depth - depth_;
      if (s.find_first_of("0123456789") != std::string::npos) {
        auto e = parse_answer(s, inner, &err);
        if (e) return e;
      }
      if (s.size() >= 3 && s.front() == '(' && s.back() == ')') s = s.substr(1, s.size() - 2);
      return Expr::text(s);
    }
    case Tok::K::Sym: {
      if (t.s == "(" || t.s == "[") return parse_bracketed();
      if (t.s == "{") {
        ++p_;
        if (sym("}")) {
          ++p_;
          return parse_primary_or_empty();
        }
        auto e = parse_list(false);
        expect_sym("}");
        // {1,3}: a brace group holding a list stays a list (compared like one).
        return e;
      }
      if (t.s == "\\{") {
        ++p_;
        std::vector<ExprPtr> items;
        if (!sym("\\}")) {
          items.push_back(parse_relation());
          while (sym(",") || sym(";")) {
            ++p_;
            if (cmd("dots")) {
              ++p_;
              items.push_back(Expr::text("..."));
              continue;
            }
            items.push_back(parse_relation());
          }
        }
        expect_sym("\\}");
        return Expr::make(Expr::Kind::Set, std::move(items));
      }
      if (t.s == "|") {
        ++p_;
        auto e = parse_additive();
        expect_sym("|");
        return Expr::make(Expr::Kind::Func, {e}, "abs");
      }
      throw ParseError("unexpected '" + t.s + "'");
    }
    case Tok::K::Cmd: return parse_command();
  }
  throw ParseError("unexpected token");
}

ExprPtr Parser::parse_primary_or_empty() {
  if (at_end()) return Expr::text("");
  return parse_primary();
}

ExprPtr Parser::parse_after_unit() {
  // A unit word inside an expression ("5 cm + 3"): treat as 1 so the product keeps its number.
  return Expr::number(1);
}

ExprPtr Parser::maybe_subscript(ExprPtr sym_e) {
  if (sym("_")) {
    std::string sub = read_subscript();
    return Expr::symbol(sym_e->name + "_" + sub);
  }
  return sym_e;
}

mpq_class Parser::parse_decimal(const std::string& s) {
  size_t dot = s.find('.');
  if (dot == std::string::npos) return mpq_class(s.empty() ? std::string("0") : s, 10);
  std::string ip = s.substr(0, dot), fp = s.substr(dot + 1);
  if (fp.size() > 300) throw ParseError("decimal too long");
  mpz_class den = 1;
  for (size_t k = 0; k < fp.size(); ++k) den *= 10;
  mpz_class num((ip.empty() ? "0" : ip) + fp, 10);  // base 10: a leading 0 is not octal
  mpq_class q(num, den);
  q.canonicalize();
  return q;
}

ExprPtr Parser::make_func(const std::string& name) {
  // f^2(x): power of the function value.
  ExprPtr power;
  if (sym("^")) {
    ++p_;
    power = parse_exponent();
  }
  ExprPtr arg = parse_func_arg();
  ExprPtr f = Expr::make(Expr::Kind::Func, {arg}, name == "sqrt" ? "sqrt" : name);
  if (power) {
    // \sin^{-1} is arcsin.
    if (power->kind == Expr::Kind::Neg && power->args[0]->kind == Expr::Kind::Number && power->args[0]->value == 1 &&
        (name == "sin" || name == "cos" || name == "tan"))
      return Expr::make(Expr::Kind::Func, {arg}, "arc" + name);
    return Expr::make(Expr::Kind::Pow, {f, power});
  }
  return f;
}

ExprPtr Parser::parse_command() {
  std::string c = cur().s;
  ++p_;
  if (c == "frac") {
    auto n = frac_arg(), dd = frac_arg();
    return Expr::make(Expr::Kind::Div, {n, dd});
  }
  if (c == "sqrt") {
    if (sym("[")) {
      ++p_;
      auto idx = parse_additive();
      expect_sym("]");
      return Expr::make(Expr::Kind::Func, {idx, frac_arg()}, "root");
    }
    return Expr::make(Expr::Kind::Func, {frac_arg()}, "sqrt");
  }
  if (c == "binom") {
    auto n = frac_arg(), k = frac_arg();
    return Expr::make(Expr::Kind::Func, {n, k}, "binom");
  }
  if (c == "pi") return Expr::symbol("pi");
  if (c == "infty" || c == "inf") return Expr::symbol("inf");
  if (c == "emptyset") return Expr::make(Expr::Kind::Set, {});
  if (c == "dots") return Expr::text("...");
  if (c == "boxed" || c == "fbox" || c == "overline" || c == "vec" || c == "hat" || c == "bar" || c == "underline") {
    if (!sym("{")) return parse_primary();
    ++p_;
    auto e = parse_list(false);
    expect_sym("}");
    return e;
  }
  if (c == "lfloor" || c == "lceil") {
    auto e = parse_additive();
    if (!(cmd("rfloor") || cmd("rceil"))) throw ParseError("unclosed floor/ceil");
    ++p_;
    return Expr::make(Expr::Kind::Func, {e}, c == "lfloor" ? "floor" : "ceil");
  }
  if (c == "log") {
    if (sym("_")) {
      ++p_;
      ExprPtr base = sym("{") ? parse_group_braced() : parse_exponent();
      ExprPtr arg = parse_func_arg();
      return Expr::make(Expr::Kind::Func, {base, arg}, "log");
    }
    return make_func("log");
  }
  static const std::set<std::string> kFuncs = {"sin", "cos", "tan", "sec", "csc", "cot", "ln", "exp", "arcsin",
                                               "arccos", "arctan", "sinh", "cosh", "tanh"};
  if (kFuncs.count(c)) return make_func(c);
  if (c == "begin") {
    std::string env = parse_env_name();
    if (env.find("matrix") != std::string::npos || env == "array") return parse_matrix(env);
    if (env == "cases" || env == "aligned" || env == "align" || env == "align*" || env == "gathered") {
      std::vector<ExprPtr> items;
      while (!at_end() && !cmd("end")) {
        if (sym("\\\\") || sym("&")) {
          ++p_;
          continue;
        }
        items.push_back(parse_relation());
      }
      if (!cmd("end")) throw ParseError("unterminated environment");
      ++p_;
      parse_env_name();
      return items.size() == 1 ? items[0] : Expr::make(Expr::Kind::List, std::move(items));
    }
    throw ParseError("environment " + env);
  }
  static const std::set<std::string> kGreek = {"alpha", "beta", "gamma", "theta", "phi", "lambda", "mu", "sigma", "omega",
                                               "tau", "rho", "epsilon", "varepsilon", "delta", "Delta", "varphi", "psi",
                                               "eta", "zeta", "xi", "chi", "nu", "kappa", "Omega", "Gamma", "Theta", "Phi",
                                               "Psi", "Lambda", "Sigma"};
  if (kGreek.count(c)) return maybe_subscript(Expr::symbol(c));
  if (c == "mathbb") return Expr::text("mathbb");
  // "\quadx" (a spacing command run into a name): the rest is the name.
  for (const char* sp : {"qquad", "quad"}) {
    size_t n = std::strlen(sp);
    if (c.size() > n && c.compare(0, n, sp) == 0) {
      std::string rest = c.substr(n);
      return maybe_subscript(rest.size() == 1 ? Expr::symbol(rest) : Expr::text(rest));
    }
  }
  static const std::set<std::string> kNotMath = {"end", "hline", "newline", "label", "tag", "item"};
  if (kNotMath.count(c)) throw ParseError("unsupported command \\" + c);
  // An unknown command names a quantity (\zzz): a symbol, compared by name.
  return maybe_subscript(Expr::symbol(c));
}

// \frac12, \frac{1}{2}, \frac3{3}: one digit or letter, or a braced group.
ExprPtr Parser::frac_arg() {
  if (sym("{")) return parse_group_braced();
  if (!o_.fix_malformed) throw ParseError("unbraced argument");
  if (cur().k == Tok::K::Num) {
    std::string s = cur().s;
    if (s.size() > 1 && s.find('.') == std::string::npos) {
      t_[p_].s = s.substr(1);
      return Expr::number(mpq_class(s.substr(0, 1), 10));
    }
    ++p_;
    return Expr::number(parse_decimal(s));
  }
  if (cur().k == Tok::K::Word) {
    std::string s = cur().s;
    if (s.size() > 1) {
      t_[p_].s = s.substr(1);
      return Expr::symbol(s.substr(0, 1));
    }
    ++p_;
    return Expr::symbol(s);
  }
  if (cur().k == Tok::K::Cmd) return parse_command_token();
  throw ParseError("bad \\frac argument");
}

}  // namespace r1::verifiers::math::detail
