// Tokeniser for answers: string-level rewrites, then tokens (see math_lexer.h).
#include "verifiers/math/math_lexer.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>

namespace r1::verifiers::math::detail {
namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
}

// Reads a balanced {...} starting at s[i] == '{'; returns the inside and moves i past '}'.
std::string read_group(const std::string& s, size_t& i) {
  int depth = 0;
  size_t start = i + 1;
  for (; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      ++i;
      continue;
    }
    if (s[i] == '{') ++depth;
    else if (s[i] == '}' && --depth == 0) {
      std::string inside = s.substr(start, i - start);
      ++i;
      return inside;
    }
  }
  throw ParseError("unbalanced braces");
}

}  // namespace

const std::set<std::string> kUnits = {
    "cm", "mm", "km", "m", "meter", "meters", "metre", "metres", "centimeter", "centimeters", "kilometer", "kilometers",
    "inch", "inches", "in", "ft", "foot", "feet", "yard", "yards", "mile", "miles", "mph", "kg", "g", "gram", "grams",
    "kilogram", "kilograms", "lb", "lbs", "pound", "pounds", "ounce", "ounces", "oz", "hour", "hours", "hr", "hrs",
    "minute", "minutes", "min", "mins", "second", "seconds", "sec", "s", "day", "days", "week", "weeks", "month",
    "months", "year", "years", "dollar", "dollars", "cent", "cents", "yuan", "euro", "euros", "unit", "units",
    "square", "sq", "cubic", "degree", "degrees", "deg", "liter", "liters", "litre", "ml", "l", "gallon", "gallons",
    "people", "students", "ways", "times", "points", "apples", "marbles", "cookies", "books", "boxes", "pages", "rad",
    "radians", "mi", "L", "km/h", "m/s", "mL", "sqft", "ton", "tons", "percent_unit"};

bool is_unit_word(const std::string& w) { return kUnits.count(w) != 0; }

// String-level rewrites that are easier before tokenising.
std::string prenormalize(std::string s, const ParseOptions& o) {
  static const std::pair<const char*, const char*> kUnicode[] = {
      {"\xE2\x88\x92", "-"},      {"\xE2\x80\x93", "-"},       {"\xC3\x97", "\\times "},  {"\xC3\xB7", "\\div "},
      {"\xC2\xB7", "\\cdot "},    {"\xE2\x8B\x85", "\\cdot "}, {"\xE2\x88\x9A", "\\sqrt"}, {"\xCF\x80", "\\pi "},
      {"\xE2\x88\x9E", "\\infty "}, {"\xE2\x89\xA4", "\\leq "}, {"\xE2\x89\xA5", "\\geq "}, {"\xE2\x89\xA0", "\\neq "},
      {"\xC2\xB0", "^\\circ "},   {"\xC2\xB1", "\\pm "},        {"\xE2\x88\xAA", "\\cup "}, {"\xE2\x88\x88", "\\in "},
      {"\xC2\xB2", "^2"},         {"\xC2\xB3", "^3"},           {"\xE2\x89\x88", "\\approx "}, {"\xE2\x82\xAC", " "},
      {"\xC2\xA0", " "},          {"\xE2\x80\xAF", " "},        {"\xE2\x80\x89", " "}};
  for (const auto& [from, to] : kUnicode) replace_all(s, from, to);
  // "\\frac" written with doubled backslashes (JSON-escaped twice): collapse, unless the answer
  // is a matrix, where "\\" separates rows.
  bool matrix = s.find("matrix") != std::string::npos || s.find("array") != std::string::npos;
  if (!matrix)
    for (size_t i = 0; i + 2 < s.size(); ++i)
      if (s[i] == '\\' && s[i + 1] == '\\' && std::isalpha(static_cast<unsigned char>(s[i + 2]))) s.erase(i, 1);
  // Thousands separators: 14{,}916, 14 {, }916, 11,\! 111.
  replace_all(s, "{,}", "");
  for (size_t at; (at = s.find("{,")) != std::string::npos;) {
    size_t e = at + 2;
    while (e < s.size() && s[e] == ' ') ++e;
    if (e >= s.size() || s[e] != '}') break;
    size_t b = at;
    while (b > 0 && s[b - 1] == ' ') --b;
    s.erase(b, e + 1 - b);
  }
  for (size_t at; (at = s.find(",\\!")) != std::string::npos;) {
    size_t end = at + 3;
    while (end < s.size() && s[end] == ' ') ++end;
    s.erase(at, end - at);
  }
  replace_all(s, "\\!", "");
  replace_all(s, "\\%", "\\lpct ");
  replace_all(s, "\\$", " ");
  replace_all(s, "$", " ");
  if (o.strip_degrees) {
    replace_all(s, "^{\\circ}", " ");
    replace_all(s, "^\\circ", " ");
    replace_all(s, "\\circ", " ");
    replace_all(s, "\\degree", " ");
  }
  return s;
}

std::vector<Tok> tokenize(const std::string& s, const ParseOptions& o) {
  std::vector<Tok> out;
  size_t i = 0;
  bool space = false, newline = false;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      newline = newline || c == '\n';
      ++i;
      continue;
    }
    Tok t;
    t.space_before = space;
    t.newline_before = newline;
    space = newline = false;
    if (is_digit(c) || (c == '.' && i + 1 < s.size() && is_digit(s[i + 1]))) {
      size_t j = i;
      while (j < s.size() && is_digit(s[j])) ++j;
      std::string num = s.substr(i, j - i);
      // 7,425,000 (every group three digits) is one number; in plain text 2,74 and 0,111 are decimals.
      if (j < s.size() && s[j] == ',' && j + 1 < s.size() && is_digit(s[j + 1])) {
        size_t k = j;
        bool thousands = !num.empty() && num.size() <= 3 && num != "0";
        std::string merged = num;
        while (k < s.size() && s[k] == ',' && k + 3 < s.size() + 1 && is_digit(s[k + 1])) {
          size_t e = k + 1;
          while (e < s.size() && is_digit(s[e])) ++e;
          if (e - (k + 1) != 3) {
            thousands = false;
            break;
          }
          merged += s.substr(k + 1, 3);
          k = e;
        }
        if (thousands && k > j && !(k < s.size() && s[k] == ',' && k + 1 < s.size() && is_digit(s[k + 1]))) {
          num = merged;
          j = k;
        } else if (o.plain_text && !o.no_comma_decimals) {
          size_t e = j + 1;
          while (e < s.size() && is_digit(s[e])) ++e;
          num += "." + s.substr(j + 1, e - j - 1);
          j = e;
        }
      }
      // 1 000 000: space-separated groups of three digits.
      while (j + 3 < s.size() + 0 && s[j] == ' ' && num.find('.') == std::string::npos && num.size() <= 3 &&
             is_digit(s[j + 1]) && is_digit(s[j + 2]) && is_digit(s[j + 3]) && (j + 4 >= s.size() || !is_digit(s[j + 4])) &&
             !(j + 4 < s.size() && s[j + 4] == '/')) {
        num += s.substr(j + 1, 3);
        j += 4;
        // Only keep merging groups of exactly three.
        if (!(j + 3 < s.size() && s[j] == ' ' && is_digit(s[j + 1]))) break;
      }
      if (j < s.size() && s[j] == '.' && (j + 1 >= s.size() || is_digit(s[j + 1]))) {
        size_t e = j + 1;
        while (e < s.size() && is_digit(s[e])) ++e;
        num += s.substr(j, e - j);
        j = e;
      }
      if (j + 1 < s.size() && (s[j] == 'e' || s[j] == 'E') && (is_digit(s[j + 1]) || ((s[j + 1] == '-' || s[j + 1] == '+') && j + 2 < s.size() && is_digit(s[j + 2])))) {
        // Scientific notation 1e-5 (only when directly attached).
        size_t e = j + 1;
        if (s[e] == '-' || s[e] == '+') ++e;
        while (e < s.size() && is_digit(s[e])) ++e;
        num += s.substr(j, e - j);
        j = e;
      }
      t.k = Tok::K::Num;
      t.s = num;
      i = j;
    } else if (s.compare(i, 3, "...") == 0) {
      t.k = Tok::K::Cmd;
      t.s = "dots";
      i += 3;
    } else if (is_alpha(c)) {
      size_t j = i;
      while (j < s.size() && is_alpha(s[j])) ++j;
      t.k = Tok::K::Word;
      t.s = s.substr(i, j - i);
      i = j;
    } else if (c == '\\') {
      if (i + 1 < s.size() && !is_alpha(s[i + 1])) {
        char n = s[i + 1];
        i += 2;
        if (n == ',' || n == ';' || n == ':' || n == ' ' || n == '!') {
          space = true;
          continue;
        }
        if (n == '\\') {  // row separator in matrices
          t.k = Tok::K::Sym;
          t.s = "\\\\";
        } else if (n == '{' || n == '}') {
          t.k = Tok::K::Sym;
          t.s = n == '{' ? "\\{" : "\\}";
        } else if (n == '|') {
          t.k = Tok::K::Sym;
          t.s = "|";
        } else {
          t.k = Tok::K::Sym;
          t.s = std::string(1, n);
        }
      } else {
        size_t j = i + 1;
        while (j < s.size() && is_alpha(s[j])) ++j;
        std::string cmd = s.substr(i + 1, j - i - 1);
        i = j;
        static const std::set<std::string> kDrop = {"left", "right", "big", "Big", "bigl", "bigr", "Bigl", "Bigr", "bigg",
                                                    "Bigg", "displaystyle", "quad", "qquad", "enspace", "thinspace",
                                                    "limits", "nolimits", "middle", "textstyle", "scriptstyle"};
        if (kDrop.count(cmd)) {
          if ((cmd == "left" || cmd == "right") && i < s.size() && s[i] == '.') ++i;
          space = true;
          continue;
        }
        static const std::set<std::string> kTextLike = {"text", "textbf", "textit", "textnormal", "mbox", "mathrm",
                                                        "mathbf", "mathit", "operatorname", "textrm", "mathsf", "texttt",
                                                        "boldsymbol", "bm", "mathbb", "mathcal", "hbox"};
        if (kTextLike.count(cmd)) {
          while (i < s.size() && s[i] == ' ') ++i;
          std::string inside;
          if (i < s.size() && s[i] == '{') inside = read_group(s, i);
          else if (i < s.size()) inside = std::string(1, s[i++]);
          // Font commands around math (\mathrm{e}, \mathbf{v}) are just their content.
          if (cmd == "mathrm" || cmd == "mathbf" || cmd == "mathit" || cmd == "boldsymbol" || cmd == "bm" ||
              cmd == "mathsf" || cmd == "operatorname") {
            auto inner = tokenize(inside, o);
            if (!inner.empty()) inner.front().space_before = t.space_before;
            out.insert(out.end(), inner.begin(), inner.end());
            continue;
          }
          if (cmd == "mathbb") {
            t.k = Tok::K::Text;
            t.s = "\\mathbb{" + inside + "}";
          } else {
            t.k = Tok::K::Text;
            t.s = inside;
          }
        } else {
          if (cmd == "dfrac" || cmd == "tfrac" || cmd == "cfrac") cmd = "frac";
          if (cmd == "dbinom" || cmd == "tbinom") cmd = "binom";
          if (cmd == "le" || cmd == "leqslant") cmd = "leq";
          if (cmd == "ge" || cmd == "geqslant") cmd = "geq";
          if (cmd == "ne") cmd = "neq";
          if (cmd == "lt") cmd = "<";
          if (cmd == "gt") cmd = ">";
          if (cmd == "varnothing") cmd = "emptyset";
          if (cmd == "cdots" || cmd == "ldots" || cmd == "dots") cmd = "dots";
          if (cmd == "lbrace") cmd = "{";
          if (cmd == "rbrace") cmd = "}";
          t.k = Tok::K::Cmd;
          t.s = cmd;
          if (cmd == "<" || cmd == ">" ) {
            t.k = Tok::K::Sym;
          } else if (cmd == "{" || cmd == "}") {
            t.k = Tok::K::Sym;
            t.s = cmd == "{" ? "\\{" : "\\}";
          }
        }
      }
    } else {
      // Two-character operators.
      static const char* two[] = {"<=", ">=", "!=", "=="};
      bool done = false;
      for (const char* op : two)
        if (s.compare(i, 2, op) == 0) {
          t.k = Tok::K::Cmd;
          t.s = std::string(op) == "<=" ? "leq" : std::string(op) == ">=" ? "geq" : std::string(op) == "!=" ? "neq" : "=";
          if (t.s == "=") t.k = Tok::K::Sym;
          i += 2;
          done = true;
          break;
        }
      if (!done) {
        t.k = Tok::K::Sym;
        t.s = std::string(1, c);
        ++i;
        // A UTF-8 character we do not know becomes part of a word.
        if (static_cast<unsigned char>(c) >= 0x80) {
          size_t j = i;
          while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
          t.k = Tok::K::Word;
          t.s = s.substr(i - 1, j - i + 1);
          i = j;
        }
      }
    }
    out.push_back(std::move(t));
  }
  out.push_back(Tok{});
  return out;
}

}  // namespace r1::verifiers::math::detail
