// Internal to the answer parser: the recursive-descent parser over math_lexer.h's tokens. Its
// methods live in math_parser.cpp (lists, relations, operators, brackets, matrices) and
// math_parser_primary.cpp (numbers, symbols, commands, functions).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "verifiers/math/math_lexer.h"

namespace r1::verifiers::math::detail {

class Parser {
 public:
  Parser(std::vector<Tok> toks, const ParseOptions& o) : t_(std::move(toks)), o_(o) {}

  ExprPtr parse();

 private:
  std::vector<Tok> t_;
  size_t p_ = 0;
  int depth_ = 0;
  const ParseOptions& o_;
  const Tok& cur() const { return t_[p_]; }
  const Tok& peek(size_t k = 1) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
  bool at_end() const { return cur().k == Tok::K::End; }
  bool sym(const char* s) const { return cur().k == Tok::K::Sym && cur().s == s; }
  bool cmd(const char* s) const { return cur().k == Tok::K::Cmd && cur().s == s; }
  bool word(const char* s) const { return (cur().k == Tok::K::Word || cur().k == Tok::K::Text) && lower(trim(cur().s)) == s; }
  static std::string lower(std::string s);
  static std::string trim(const std::string& s);
  void expect_sym(const char* s);
  struct Depth {
    Parser& p;
    explicit Depth(Parser& pp) : p(pp) {
      if (++p.depth_ > p.o_.max_depth) throw ParseError("nesting too deep");
    }
    ~Depth() { --p.depth_; }
  };

  // Trailing punctuation and unit words after the answer.
  void skip_trailing();
  static bool is_unit_text(const std::string& raw);
  bool is_separator() const;
  ExprPtr parse_list(bool top);
  static const char* rel_of(const Tok& t);
  ExprPtr parse_relation();
  ExprPtr parse_union();
  ExprPtr parse_additive();
  bool starts_factor() const;
  ExprPtr parse_term();
  ExprPtr parse_unary(bool implicit = false);
  ExprPtr parse_exponent();
  ExprPtr parse_power();
  ExprPtr parse_postfix(ExprPtr e);
  std::string read_subscript();
  ExprPtr parse_group_braced();

  // A function's argument: {x}, (x), or the next factor ("\sin x", "\ln 2").
  ExprPtr parse_func_arg();
  ExprPtr parse_matrix(const std::string& env);
  std::string parse_env_name();

  // ( ... ) [ ... ] with interval or tuple semantics.
  ExprPtr parse_bracketed();
  ExprPtr parse_primary();
  ExprPtr parse_primary_or_empty();
  ExprPtr parse_after_unit();
  ExprPtr maybe_subscript(ExprPtr sym_e);
  static mpq_class parse_decimal(const std::string& s);
  ExprPtr make_func(const std::string& name);
  ExprPtr parse_command();

  // \frac12, \frac{1}{2}, \frac3{3}: one digit or letter, or a braced group.
  ExprPtr frac_arg();
  ExprPtr parse_command_token() { return parse_command(); }
};

}  // namespace r1::verifiers::math::detail
