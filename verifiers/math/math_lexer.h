// Internal to the answer parser: the string-level rewrites done before tokenising, and the
// tokens the recursive-descent parser (math_parser_impl.h) reads.
#pragma once

#include <cctype>
#include <stdexcept>
#include <string>
#include <vector>

#include "verifiers/math/math_parser.h"

namespace r1::verifiers::math::detail {

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Tok {
  enum class K { Num, Word, Cmd, Sym, Text, End } k = K::End;
  std::string s;
  bool space_before = false;
  bool newline_before = false;
};

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

// Unit words stripped after an answer ("5 cm", "12 apples").
bool is_unit_word(const std::string& w);

// \dfrac -> \frac, \left/\right, spacing commands, degrees, ...: rewrites easier on the string.
std::string prenormalize(std::string s, const ParseOptions& o);
// Numbers, words, commands, symbols and \text{...} runs, ending with one End token.
std::vector<Tok> tokenize(const std::string& s, const ParseOptions& o);

}  // namespace r1::verifiers::math::detail
