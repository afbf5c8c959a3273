// Recursive-descent parser for answers (see math_parser.h): the entry point, lists, relations,
// operators, brackets and matrices. Primaries and commands are in math_parser_primary.cpp.
#include "verifiers/math/math_parser.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

#include "verifiers/math/math_parser_impl.h"

namespace r1::verifiers::math {
namespace detail {

ExprPtr Parser::parse() {
  ExprPtr e = parse_list(/*top=*/true);
  skip_trailing();
  if (!at_end()) throw ParseError("unexpected '" + cur().s + "'");
  return e;
}

std::string Parser::lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Parser::trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\n"), e = s.find_last_not_of(" \t\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

void Parser::expect_sym(const char* s) {
  if (!sym(s)) throw ParseError(std::string("expected '") + s + "'");
  ++p_;
}

// Trailing punctuation and unit words after the answer.
void Parser::skip_trailing() {
  while (!at_end()) {
    if (sym(".") || sym(",") || sym(";") || (sym("!") && peek().k == Tok::K::End)) {
      if (peek().k == Tok::K::End || (peek().k == Tok::K::Sym && (peek().s == "." || peek().s == ","))) {
        ++p_;
        continue;
      }
    }
    if ((cur().k == Tok::K::Text || cur().k == Tok::K::Word) && is_unit_text(cur().s)) {
      ++p_;
      if (sym("^") && (peek().k == Tok::K::Num || (peek().k == Tok::K::Sym && peek().s == "{"))) {  // cm^2
        ++p_;
        if (sym("{")) {
          while (!at_end() && !sym("}")) ++p_;
        }
        if (!at_end()) ++p_;
      }
      continue;
    }
    if (sym(".") && peek().k == Tok::K::End) {
      ++p_;
      continue;
    }
    break;
  }
}

bool Parser::is_unit_text(const std::string& raw) {
  std::string s = trim(raw);
  if (s.empty() || s == "." ) return true;
  // "cm^2", "square units", "m/s": every word a unit.
  std::string w;
  for (size_t i = 0; i <= s.size(); ++i) {
    char c = i < s.size() ? s[i] : ' ';
    if (is_alpha(c)) {
      w += c;
    } else {
      if (!w.empty() && !is_unit_word(w) && !is_unit_word(lower(w))) return false;
      w.clear();
      if (i < s.size() && !(c == ' ' || c == '^' || is_digit(c) || c == '/' || c == '.' || c == '{' || c == '}')) return false;
    }
  }
  return true;
}

bool Parser::is_separator() const {
  if (sym(",") || sym(";")) return true;
  if (word("and") || word("or") || word(",") || word("and ") ) return true;
  if (cur().k == Tok::K::Text) {
    std::string s = lower(trim(cur().s));
    return s == "and" || s == "or" || s == "," || s == "or " || s.empty();
  }
  return false;
}

ExprPtr Parser::parse_list(bool top) {
  std::vector<ExprPtr> items;
  items.push_back(parse_relation());
  while (!at_end() && is_separator()) {
    ++p_;
    while (!at_end() && is_separator()) ++p_;
    skip_trailing();
    if (at_end() || sym(")") || sym("]") || sym("}") || sym("\\}")) break;
    if (cmd("dots")) {
      ++p_;
      items.push_back(Expr::text("..."));
      continue;
    }
    items.push_back(parse_relation());
  }
  if (items.size() == 1) return items[0];
  return Expr::make(Expr::Kind::List, std::move(items));
}

const char* Parser::rel_of(const Tok& t) {
  if (t.k == Tok::K::Sym) {
    if (t.s == "=") return "=";
    if (t.s == "<") return "<";
    if (t.s == ">") return ">";
  }
  if (t.k == Tok::K::Cmd) {
    if (t.s == "leq") return "<=";
    if (t.s == "geq") return ">=";
    if (t.s == "neq") return "!=";
    if (t.s == "approx" || t.s == "simeq" || t.s == "equiv") return "~";
    if (t.s == "in") return "in";
  }
  return nullptr;
}

ExprPtr Parser::parse_relation() {
  Depth d(*this);
  auto first = parse_union();
  if (!rel_of(cur())) return first;
  auto r = std::make_shared<Expr>();
  r->kind = Expr::Kind::Relation;
  r->args.push_back(first);
  while (const char* op = rel_of(cur())) {
    ++p_;
    r->rel.push_back(op);
    r->args.push_back(parse_union());
  }
  return r;
}

ExprPtr Parser::parse_union() {
  auto a = parse_additive();
  if (!(cmd("cup") || (cur().k == Tok::K::Word && cur().s == "U" && p_ > 0))) return a;
  std::vector<ExprPtr> parts{a};
  while (cmd("cup") || (cur().k == Tok::K::Word && cur().s == "U")) {
    ++p_;
    parts.push_back(parse_additive());
  }
  return Expr::make(Expr::Kind::Union, std::move(parts));
}

ExprPtr Parser::parse_additive() {
  ExprPtr a;
  if (cmd("pm") || cmd("mp")) {
    ++p_;
    a = Expr::make(Expr::Kind::PlusMinus, {nullptr, parse_term()});
  } else {
    a = parse_term();
  }
  std::vector<ExprPtr> terms{a};
  while (!at_end()) {
    if (sym("+")) {
      ++p_;
      terms.push_back(parse_term());
    } else if (sym("-")) {
      ++p_;
      terms.push_back(Expr::make(Expr::Kind::Neg, {parse_term()}));
    } else if (cmd("pm") || cmd("mp")) {
      ++p_;
      ExprPtr left = terms.size() == 1 ? terms[0] : Expr::make(Expr::Kind::Add, terms);
      terms = {Expr::make(Expr::Kind::PlusMinus, {left, parse_term()})};
    } else {
      break;
    }
  }
  return terms.size() == 1 ? terms[0] : Expr::make(Expr::Kind::Add, std::move(terms));
}

bool Parser::starts_factor() const {
  const Tok& t = cur();
  if (t.k == Tok::K::Num || t.k == Tok::K::Word) return !(t.k == Tok::K::Word && (lower(t.s) == "and" || lower(t.s) == "or"));
  if (t.k == Tok::K::Sym) return t.s == "(" || t.s == "\\{" || (t.s == "|" && false);
  if (t.k == Tok::K::Cmd) {
    static const std::set<std::string> kFactor = {"frac", "sqrt", "pi", "infty", "sin", "cos", "tan", "sec", "csc", "cot",
                                                  "ln", "log", "exp", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
                                                  "binom", "lfloor", "lceil", "alpha", "beta", "gamma", "theta", "phi",
                                                  "lambda", "mu", "sigma", "omega", "tau", "rho", "epsilon", "varepsilon",
                                                  "delta", "Delta", "varphi", "psi", "eta", "zeta", "xi", "chi", "nu",
                                                  "kappa", "Omega", "Gamma", "Theta", "Phi", "Psi", "Lambda", "Sigma",
                                                  "overline", "vec", "hat", "bar", "boxed", "fbox", "begin", "mathbb"};
    return kFactor.count(t.s) > 0;
  }
  return false;
}

ExprPtr Parser::parse_term() {
  auto a = parse_unary();
  std::vector<ExprPtr> factors{a};
  while (!at_end()) {
    if (sym("*") || cmd("times") || cmd("cdot") || cmd("ast")) {
      ++p_;
      factors.push_back(parse_unary());
    } else if (sym("/") || cmd("div") || sym(":")) {
      ++p_;
      ExprPtr num = factors.size() == 1 ? factors[0] : Expr::make(Expr::Kind::Mul, factors);
      factors = {Expr::make(Expr::Kind::Div, {num, parse_unary()})};
    } else if (starts_factor()) {
      // Mixed number in plain text: "4 4/9", "-4 4/9" (valid only as a proper fraction).
      ExprPtr f0 = factors.size() == 1 ? factors[0] : nullptr;
      bool negative = f0 && f0->kind == Expr::Kind::Neg && f0->args[0]->kind == Expr::Kind::Number;
      ExprPtr whole_e = negative ? f0->args[0] : f0;
      if (o_.plain_text && whole_e && whole_e->kind == Expr::Kind::Number && p_ > 0 && t_[p_ - 1].k == Tok::K::Num &&
          cur().k == Tok::K::Num && cur().space_before && !cur().newline_before && peek().k == Tok::K::Sym &&
          peek().s == "/" && peek(2).k == Tok::K::Num) {
        mpq_class whole = whole_e->value;
        if (whole_e->decimal_places >= 0 || whole.get_den() != 1 || cur().s.find('.') != std::string::npos ||
            peek(2).s.find('.') != std::string::npos)
          throw ParseError("not a mixed number");
        mpq_class num(cur().s, 10), den(peek(2).s, 10);
        if (den == 0 || num >= den) throw ParseError("not a mixed number");
        p_ += 3;
        mpq_class v = whole + num / den;
        ExprPtr mixed = Expr::number(negative ? mpq_class(-v) : v);
        factors = {parse_postfix(mixed)};
        continue;
      }
      bool int_before = factors.size() == 1 && factors[0]->kind == Expr::Kind::Number && factors[0]->decimal_places < 0 &&
                        factors[0]->value.get_den() == 1 && factors[0]->value > 0 && cmd("frac");
      ExprPtr next = parse_unary(/*implicit=*/true);
      if (int_before && next->kind == Expr::Kind::Div && next->args[0]->kind == Expr::Kind::Number &&
          next->args[1]->kind == Expr::Kind::Number && next->args[0]->value < next->args[1]->value &&
          next->args[0]->value > 0 && next->args[0]->value.get_den() == 1 && next->args[1]->value.get_den() == 1) {
        // 2\frac{1}{4} is the mixed number 9/4, as written in MATH answers.
        factors = {Expr::number(factors[0]->value + next->args[0]->value / next->args[1]->value)};
        continue;
      }
      factors.push_back(next);
    } else {
      break;
    }
  }
  return factors.size() == 1 ? factors[0] : Expr::make(Expr::Kind::Mul, std::move(factors));
}

ExprPtr Parser::parse_unary(bool implicit) {
  Depth d(*this);
  if (sym("-")) {
    ++p_;
    return Expr::make(Expr::Kind::Neg, {parse_unary()});
  }
  if (sym("+")) {
    ++p_;
    return parse_unary();
  }
  return parse_power();
}

ExprPtr Parser::parse_exponent() {
  if (sym("{")) {
    ++p_;
    auto e = parse_list(false);
    expect_sym("}");
    return e;
  }
  if (sym("-")) {
    ++p_;
    return Expr::make(Expr::Kind::Neg, {parse_exponent()});
  }
  // A single token: x^2, x^n, e^\pi.
  if (cur().k == Tok::K::Num) {
    std::string s = cur().s;
    ++p_;
    // ^23 in LaTeX is ^2 followed by 3.
    if (s.size() > 1 && s.find('.') == std::string::npos) {
      t_.insert(t_.begin() + static_cast<long>(p_), Tok{Tok::K::Num, s.substr(1), false});
      s = s.substr(0, 1);
    }
    return Expr::number(mpq_class(s, 10));
  }
  return parse_primary();
}

ExprPtr Parser::parse_power() {
  auto base = parse_postfix(parse_primary());
  if (sym("^")) {
    ++p_;
    auto ex = parse_exponent();
    return parse_postfix(Expr::make(Expr::Kind::Pow, {base, ex}));
  }
  return base;
}

ExprPtr Parser::parse_postfix(ExprPtr e) {
  while (!at_end()) {
    if (sym("!")) {
      ++p_;
      e = Expr::make(Expr::Kind::Func, {e}, "fact");
    } else if (sym("%") || word("percent") || word("percentage") || word("pct") || cmd("lpct")) {
      // "\%" in LaTeX is read leniently (Math-Verify drops it like a unit); "%" in plain text is /100.
      bool latex = cmd("lpct");
      ++p_;
      e = Expr::make(Expr::Kind::Percent, {e}, latex ? "latex" : "");
    } else if (sym("'")) {
      ++p_;
      if (e->kind == Expr::Kind::Symbol) e = Expr::symbol(e->name + "'");
    } else {
      break;
    }
  }
  return e;
}

std::string Parser::read_subscript() {
  // x_1, a_{37}, x_{n+1}: flattened into the symbol's name.
  ++p_;
  std::string sub;
  if (sym("{")) {
    ++p_;
    int depth = 1;
    while (!at_end()) {
      if (sym("{")) ++depth;
      if (sym("}") && --depth == 0) break;
      sub += cur().s;
      ++p_;
    }
    expect_sym("}");
  } else if (!at_end()) {
    sub = cur().k == Tok::K::Num ? cur().s.substr(0, 1) : cur().s;
    if (cur().k == Tok::K::Num && cur().s.size() > 1) {
      t_[p_].s = cur().s.substr(1);
    } else {
      ++p_;
    }
  }
  return sub;
}

ExprPtr Parser::parse_group_braced() {
  expect_sym("{");
  auto e = parse_list(false);
  expect_sym("}");
  return e;
}

// A function's argument: {x}, (x), or the next factor ("\sin x", "\ln 2").
ExprPtr Parser::parse_func_arg() {
  if (sym("{")) return parse_group_braced();
  if (sym("(")) {
    ++p_;
    auto e = parse_list(false);
    expect_sym(")");
    return e;
  }
  return parse_power();
}

ExprPtr Parser::parse_matrix(const std::string& env) {
  // After \begin{env}: rows separated by \\, cells by &.
  if (env == "array" && sym("{")) {  // column spec
    int depth = 0;
    do {
      if (sym("{")) ++depth;
      if (sym("}")) --depth;
      ++p_;
    } while (!at_end() && depth > 0);
  }
  std::vector<ExprPtr> cells;
  int rows = 0, cols = -1, in_row = 0;
  while (!at_end() && !cmd("end")) {
    if (sym("\\\\")) {
      ++p_;
      if (in_row > 0) {
        if (cols >= 0 && cols != in_row) throw ParseError("ragged matrix");
        cols = in_row;
        ++rows;
        in_row = 0;
      }
      continue;
    }
    if (sym("&")) {
      ++p_;
      continue;
    }
    cells.push_back(parse_additive());
    ++in_row;
  }
  if (in_row > 0) {
    if (cols >= 0 && cols != in_row) throw ParseError("ragged matrix");
    cols = in_row;
    ++rows;
  }
  if (!cmd("end")) throw ParseError("unterminated matrix");
  ++p_;
  if (sym("{")) parse_env_name();
  auto m = std::make_shared<Expr>();
  m->kind = Expr::Kind::Matrix;
  m->args = std::move(cells);
  m->rows = rows;
  return m;
}

std::string Parser::parse_env_name() {
  expect_sym("{");
  std::string name;
  while (!at_end() && !sym("}")) {
    name += cur().s;
    ++p_;
  }
  expect_sym("}");
  return name;
}

// ( ... ) [ ... ] with interval or tuple semantics.
ExprPtr Parser::parse_bracketed() {
  bool left_closed = sym("[");
  ++p_;
  std::vector<ExprPtr> items;
  if (!(sym(")") || sym("]"))) {
    items.push_back(parse_relation());
    while (sym(",") || sym(";")) {
      ++p_;
      items.push_back(parse_relation());
    }
  }
  if (!(sym(")") || sym("]"))) throw ParseError("unclosed bracket");
  bool right_closed = sym("]");
  ++p_;
  if (items.size() == 2 && (left_closed || right_closed)) {
    auto iv = Expr::make(Expr::Kind::Interval, items);
    std::const_pointer_cast<Expr>(iv)->left_closed = left_closed;
    std::const_pointer_cast<Expr>(iv)->right_closed = right_closed;
    return iv;
  }
  if (items.size() == 1 && !left_closed && !right_closed) return items[0];
  if (items.size() == 1) return items[0];
  return Expr::make(Expr::Kind::Tuple, std::move(items));
}

}  // namespace detail

ExprPtr parse_answer(const std::string& text, const ParseOptions& options, std::string* error) {
  try {
    if (text.size() > options.max_length) throw detail::ParseError("answer too long");
    ParseOptions o = options;
    // "[1,2)" and "(3,5)" list their members: a comma there is never a decimal point.
    if (text.find_first_of("()[]{}") != std::string::npos) o.no_comma_decimals = true;
    std::string s = detail::prenormalize(text, o);
    auto toks = detail::tokenize(s, o);
    if (toks.size() <= 1) throw detail::ParseError("empty answer");
    detail::Parser p(std::move(toks), o);
    return p.parse();
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return nullptr;
  }
}

}  // namespace r1::verifiers::math

