// Tokeniser and recursive-descent parser for answers (see math_parser.h).
#include "verifiers/math/math_parser.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <set>
#include <stdexcept>

namespace r1::verifiers::math {
namespace {

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size()) s.replace(at, from.size(), to);
}

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

struct Tok {
  enum class K { Num, Word, Cmd, Sym, Text, End } k = K::End;
  std::string s;
  bool space_before = false;
  bool newline_before = false;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

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

const std::set<std::string> kUnits = {
    "cm", "mm", "km", "m", "meter", "meters", "metre", "metres", "centimeter", "centimeters", "kilometer", "kilometers",
    "inch", "inches", "in", "ft", "foot", "feet", "yard", "yards", "mile", "miles", "mph", "kg", "g", "gram", "grams",
    "kilogram", "kilograms", "lb", "lbs", "pound", "pounds", "ounce", "ounces", "oz", "hour", "hours", "hr", "hrs",
    "minute", "minutes", "min", "mins", "second", "seconds", "sec", "s", "day", "days", "week", "weeks", "month",
    "months", "year", "years", "dollar", "dollars", "cent", "cents", "yuan", "euro", "euros", "unit", "units",
    "square", "sq", "cubic", "degree", "degrees", "deg", "liter", "liters", "litre", "ml", "l", "gallon", "gallons",
    "people", "students", "ways", "times", "points", "apples", "marbles", "cookies", "books", "boxes", "pages", "rad",
    "radians", "mi", "L", "km/h", "m/s", "mL", "sqft", "ton", "tons", "percent_unit"};

class Parser {
 public:
  Parser(std::vector<Tok> toks, const ParseOptions& o) : t_(std::move(toks)), o_(o) {}

  ExprPtr parse() {
    ExprPtr e = parse_list(/*top=*/true);
    skip_trailing();
    if (!at_end()) throw ParseError("unexpected '" + cur().s + "'");
    return e;
  }

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
  static std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  static std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\n"), e = s.find_last_not_of(" \t\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  }
  void expect_sym(const char* s) {
    if (!sym(s)) throw ParseError(std::string("expected '") + s + "'");
    ++p_;
  }
  struct Depth {
    Parser& p;
    explicit Depth(Parser& pp) : p(pp) {
      if (++p.depth_ > p.o_.max_depth) throw ParseError("nesting too deep");
    }
    ~Depth() { --p.depth_; }
  };

  // Trailing punctuation and unit words after the answer.
  void skip_trailing() {
    while (!at_end()) {
      if (sym(".") || sym(",") || sym(";") || sym("!") && peek().k == Tok::K::End) {
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

  static bool is_unit_text(const std::string& raw) {
    std::string s = trim(raw);
    if (s.empty() || s == "." ) return true;
    // "cm^2", "square units", "m/s": every word a unit.
    std::string w;
    for (size_t i = 0; i <= s.size(); ++i) {
      char c = i < s.size() ? s[i] : ' ';
      if (is_alpha(c)) {
        w += c;
      } else {
        if (!w.empty() && !kUnits.count(w) && !kUnits.count(lower(w))) return false;
        w.clear();
        if (i < s.size() && !(c == ' ' || c == '^' || is_digit(c) || c == '/' || c == '.' || c == '{' || c == '}')) return false;
      }
    }
    return true;
  }

  bool is_separator() const {
    if (sym(",") || sym(";")) return true;
    if (word("and") || word("or") || word(",") || word("and ") ) return true;
    if (cur().k == Tok::K::Text) {
      std::string s = lower(trim(cur().s));
      return s == "and" || s == "or" || s == "," || s == "or " || s.empty();
    }
    return false;
  }

  ExprPtr parse_list(bool top) {
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

  static const char* rel_of(const Tok& t) {
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

  ExprPtr parse_relation() {
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

  ExprPtr parse_union() {
    auto a = parse_additive();
    if (!(cmd("cup") || (cur().k == Tok::K::Word && cur().s == "U" && p_ > 0))) return a;
    std::vector<ExprPtr> parts{a};
    while (cmd("cup") || (cur().k == Tok::K::Word && cur().s == "U")) {
      ++p_;
      parts.push_back(parse_additive());
    }
    return Expr::make(Expr::Kind::Union, std::move(parts));
  }

  ExprPtr parse_additive() {
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

  bool starts_factor() const {
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

  ExprPtr parse_term() {
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

  ExprPtr parse_unary(bool implicit = false) {
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

  ExprPtr parse_exponent() {
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

  ExprPtr parse_power() {
    auto base = parse_postfix(parse_primary());
    if (sym("^")) {
      ++p_;
      auto ex = parse_exponent();
      return parse_postfix(Expr::make(Expr::Kind::Pow, {base, ex}));
    }
    return base;
  }

  ExprPtr parse_postfix(ExprPtr e) {
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

  std::string read_subscript() {
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

  ExprPtr parse_group_braced() {
    expect_sym("{");
    auto e = parse_list(false);
    expect_sym("}");
    return e;
  }

  // A function's argument: {x}, (x), or the next factor ("\sin x", "\ln 2").
  ExprPtr parse_func_arg() {
    if (sym("{")) return parse_group_braced();
    if (sym("(")) {
      ++p_;
      auto e = parse_list(false);
      expect_sym(")");
      return e;
    }
    return parse_power();
  }

  ExprPtr parse_matrix(const std::string& env) {
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

  std::string parse_env_name() {
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
  ExprPtr parse_bracketed() {
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

  ExprPtr parse_primary() {
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
        // A run of letters in math mode is a product of variables (xy); words are text.
        if (w.size() <= 2 && std::all_of(w.begin(), w.end(), [](char c) { return std::islower(static_cast<unsigned char>(c)); }) && !kUnits.count(w)) {
          std::vector<ExprPtr> f;
          for (char c : w) f.push_back(Expr::symbol(std::string(1, c)));
          return Expr::make(Expr::Kind::Mul, std::move(f));
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

  ExprPtr parse_primary_or_empty() {
    if (at_end()) return Expr::text("");
    return parse_primary();
  }

  ExprPtr parse_after_unit() {
    // A unit word inside an expression ("5 cm + 3"): treat as 1 so the product keeps its number.
    return Expr::number(1);
  }

  ExprPtr maybe_subscript(ExprPtr sym_e) {
    if (sym("_")) {
      std::string sub = read_subscript();
      return Expr::symbol(sym_e->name + "_" + sub);
    }
    return sym_e;
  }

  static mpq_class parse_decimal(const std::string& s) {
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

  ExprPtr make_func(const std::string& name) {
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

  ExprPtr parse_command() {
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
  ExprPtr frac_arg() {
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
  ExprPtr parse_command_token() { return parse_command(); }
};

}  // namespace

ExprPtr parse_answer(const std::string& text, const ParseOptions& options, std::string* error) {
  try {
    if (text.size() > options.max_length) throw ParseError("answer too long");
    ParseOptions o = options;
    // "[1,2)" and "(3,5)" list their members: a comma there is never a decimal point.
    if (text.find_first_of("()[]{}") != std::string::npos) o.no_comma_decimals = true;
    std::string s = prenormalize(text, o);
    auto toks = tokenize(s, o);
    if (toks.size() <= 1) throw ParseError("empty answer");
    Parser p(std::move(toks), o);
    return p.parse();
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return nullptr;
  }
}

}  // namespace r1::verifiers::math
