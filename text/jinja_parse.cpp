// Jinja template -> syntax tree. Whitespace handling follows transformers' environment:
// trim_blocks (drop the newline after a block tag), lstrip_blocks (drop spaces before a block tag
// that starts its line), and the explicit {%- -%} {{- -}} markers.
#include <cctype>
#include <cstdlib>

#include "text/jinja_ast.h"
#include "text/unicode_text.h"

namespace r1::text {
namespace jinja {
namespace {

[[noreturn]] void fail(int line, const std::string& msg) {
  throw TextError("chat template line " + std::to_string(line) + ": " + msg);
}

// ---- template scanning ------------------------------------------------------------------

struct Chunk {
  enum class Type { Text, Expr, Block } type;
  std::string body;  // text, or the inside of the tag
  int line;
};

std::vector<Chunk> scan(const std::string& src) {
  std::vector<Chunk> out;
  size_t pos = 0;
  int line = 1;
  bool strip_next = false;      // "-}}" / "-%}" before this text
  bool trim_newline = false;    // trim_blocks after a block tag
  auto count_lines = [](const std::string& s, size_t b, size_t e) {
    int n = 0;
    for (size_t i = b; i < e; ++i) n += s[i] == '\n';
    return n;
  };
  while (pos <= src.size()) {
    size_t open = src.find('{', pos);
    while (open != std::string::npos && open + 1 < src.size() && src[open + 1] != '{' && src[open + 1] != '%' &&
           src[open + 1] != '#')
      open = src.find('{', open + 1);
    if (open != std::string::npos && open + 1 >= src.size()) open = std::string::npos;
    size_t text_end = open == std::string::npos ? src.size() : open;
    std::string text = src.substr(pos, text_end - pos);
    int text_line = line;
    line += count_lines(src, pos, text_end);
    if (trim_newline && !text.empty() && text[0] == '\n') text.erase(0, 1);
    else if (trim_newline && text.size() >= 2 && text[0] == '\r' && text[1] == '\n') text.erase(0, 2);
    if (strip_next) {
      size_t k = 0;
      while (k < text.size() && std::isspace(static_cast<unsigned char>(text[k]))) ++k;
      text.erase(0, k);
    }
    trim_newline = strip_next = false;
    if (open == std::string::npos) {
      if (!text.empty()) out.push_back({Chunk::Type::Text, text, text_line});
      break;
    }
    char kind = src[open + 1];
    bool strip_before = open + 2 < src.size() && src[open + 2] == '-';
    bool no_lstrip = open + 2 < src.size() && src[open + 2] == '+';
    if (strip_before) {
      while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    } else if ((kind == '%' || kind == '#') && !no_lstrip) {
      // lstrip_blocks: only when the tag is the first thing on its line.
      size_t k = open;
      while (k > 0 && (src[k - 1] == ' ' || src[k - 1] == '\t')) --k;
      bool line_start = k == 0 || src[k - 1] == '\n';
      size_t spaces = open - k;
      if (line_start && spaces <= text.size()) text.erase(text.size() - spaces);
    }
    if (!text.empty()) out.push_back({Chunk::Type::Text, text, text_line});
    std::string close = kind == '{' ? "}}" : kind == '%' ? "%}" : "#}";
    size_t body_begin = open + 2 + ((strip_before || no_lstrip) ? 1 : 0);
    size_t end = src.find(close, body_begin);
    if (end == std::string::npos) fail(line, "unclosed '{" + std::string(1, kind) + "'");
    size_t body_end = end;
    bool strip_after = body_end > body_begin && src[body_end - 1] == '-';
    if (strip_after) --body_end;
    std::string body = src.substr(body_begin, body_end - body_begin);
    if (kind == '{') out.push_back({Chunk::Type::Expr, body, line});
    else if (kind == '%') out.push_back({Chunk::Type::Block, body, line});
    line += count_lines(src, open, end + 2);
    pos = end + 2;
    strip_next = strip_after;
    trim_newline = !strip_after && (kind == '%' || kind == '#');
  }
  return out;
}

// ---- expression tokens ------------------------------------------------------------------

struct Tok {
  enum class T { Name, String, Int, Float, Op, End } t;
  std::string s;
  int64_t i = 0;
  double f = 0;
};

std::vector<Tok> lex(const std::string& s, int line) {
  std::vector<Tok> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      out.push_back({Tok::T::Name, s.substr(i, j - i)});
      i = j;
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t j = i;
      bool is_float = false;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      if (j + 1 < s.size() && s[j] == '.' && std::isdigit(static_cast<unsigned char>(s[j + 1]))) {
        is_float = true;
        ++j;
        while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      }
      if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
        is_float = true;
        ++j;
        if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
        while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      }
      std::string num = s.substr(i, j - i);
      std::erase(num, '_');
      Tok t{is_float ? Tok::T::Float : Tok::T::Int, num};
      if (is_float) t.f = std::strtod(num.c_str(), nullptr);
      else t.i = std::strtoll(num.c_str(), nullptr, 10);
      out.push_back(t);
      i = j;
      continue;
    }
    if (c == '\'' || c == '"') {
      std::string v;
      size_t j = i + 1;
      for (; j < s.size() && s[j] != c; ++j) {
        if (s[j] != '\\' || j + 1 >= s.size()) {
          v += s[j];
          continue;
        }
        char e = s[++j];
        switch (e) {
          case 'n': v += '\n'; break;
          case 't': v += '\t'; break;
          case 'r': v += '\r'; break;
          case '0': v += '\0'; break;
          case '\\': v += '\\'; break;
          case '\'': v += '\''; break;
          case '"': v += '"'; break;
          case 'x':
          case 'u':
          case 'U': {
            int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            if (j + n >= s.size() + 0 && j + n > s.size() - 1) fail(line, "bad escape in string literal");
            int32_t cp = static_cast<int32_t>(std::strtol(s.substr(j + 1, n).c_str(), nullptr, 16));
            utf8_append(v, cp);
            j += n;
            break;
          }
          default: v += '\\', v += e;
        }
      }
      if (j >= s.size()) fail(line, "unterminated string literal");
      out.push_back({Tok::T::String, v});
      i = j + 1;
      continue;
    }
    static const char* two[] = {"==", "!=", "<=", ">=", "//", "**"};
    bool matched = false;
    for (const char* op : two)
      if (s.compare(i, 2, op) == 0) {
        out.push_back({Tok::T::Op, op});
        i += 2;
        matched = true;
        break;
      }
    if (matched) continue;
    if (std::string("+-*/%~|.,:()[]{}<>=").find(c) != std::string::npos) {
      out.push_back({Tok::T::Op, std::string(1, c)});
      ++i;
      continue;
    }
    fail(line, std::string("unexpected character '") + c + "'");
  }
  out.push_back({Tok::T::End, ""});
  return out;
}

// ---- expression parser --------------------------------------------------------------------

class ExprParser {
 public:
  ExprParser(std::vector<Tok> toks, int line) : t_(std::move(toks)), line_(line) {}

  ExprPtr expression() {
    ExprPtr e = parse_or();
    if (is_name("if")) {
      ++p_;
      auto c = make(Expr::Kind::Cond);
      ExprPtr cond = parse_or();
      ExprPtr other;
      if (is_name("else")) {
        ++p_;
        other = expression();
      } else {
        other = make(Expr::Kind::Literal);
      }
      c->args.push_back(std::move(e));
      c->args.push_back(std::move(cond));
      c->args.push_back(std::move(other));
      return c;
    }
    return e;
  }
  ExprPtr expression_no_cond() { return parse_or(); }  // a for-loop iterable: "if" starts its filter
  bool at_end() const { return t_[p_].t == Tok::T::End; }
  bool is_name(const char* n) const { return t_[p_].t == Tok::T::Name && t_[p_].s == n; }
  bool is_op(const char* o) const { return t_[p_].t == Tok::T::Op && t_[p_].s == o; }
  std::string take_name() {
    if (t_[p_].t != Tok::T::Name) fail(line_, "expected a name, found '" + t_[p_].s + "'");
    return t_[p_++].s;
  }
  void expect_op(const char* o) {
    if (!is_op(o)) fail(line_, std::string("expected '") + o + "', found '" + t_[p_].s + "'");
    ++p_;
  }
  void expect_end() {
    if (!at_end()) fail(line_, "unexpected '" + t_[p_].s + "'");
  }

 private:
  ExprPtr make(Expr::Kind k) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = line_;
    return e;
  }
  ExprPtr binary(std::string op, ExprPtr a, ExprPtr b) {
    auto e = make(Expr::Kind::Binary);
    e->name = std::move(op);
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return e;
  }
  ExprPtr parse_or() {
    ExprPtr a = parse_and();
    while (is_name("or")) {
      ++p_;
      a = binary("or", std::move(a), parse_and());
    }
    return a;
  }
  ExprPtr parse_and() {
    ExprPtr a = parse_not();
    while (is_name("and")) {
      ++p_;
      a = binary("and", std::move(a), parse_not());
    }
    return a;
  }
  ExprPtr parse_not() {
    if (is_name("not")) {
      ++p_;
      auto e = make(Expr::Kind::Not);
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    ExprPtr a = parse_add();
    for (;;) {
      if (is_op("==") || is_op("!=") || is_op("<") || is_op(">") || is_op("<=") || is_op(">=")) {
        std::string op = t_[p_++].s;
        a = binary(op, std::move(a), parse_add());
      } else if (is_name("in")) {
        ++p_;
        a = binary("in", std::move(a), parse_add());
      } else if (is_name("not") && t_[p_ + 1].t == Tok::T::Name && t_[p_ + 1].s == "in") {
        p_ += 2;
        a = binary("not in", std::move(a), parse_add());
      } else {
        return a;
      }
    }
  }
  ExprPtr parse_add() {
    ExprPtr a = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = t_[p_++].s;
      a = binary(op, std::move(a), parse_concat());
    }
    return a;
  }
  ExprPtr parse_concat() {
    ExprPtr a = parse_mul();
    while (is_op("~")) {
      ++p_;
      a = binary("~", std::move(a), parse_mul());
    }
    return a;
  }
  ExprPtr parse_mul() {
    ExprPtr a = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = t_[p_++].s;
      a = binary(op, std::move(a), parse_pow());
    }
    return a;
  }
  ExprPtr parse_pow() {
    ExprPtr a = parse_unary();
    while (is_op("**")) {
      ++p_;
      a = binary("**", std::move(a), parse_unary());
    }
    return a;
  }
  ExprPtr parse_unary() {
    if (is_op("-")) {
      ++p_;
      auto e = make(Expr::Kind::Neg);
      e->args.push_back(parse_unary());
      return e;
    }
    if (is_op("+")) {
      ++p_;
      return parse_unary();
    }
    ExprPtr e = parse_postfix(parse_primary());
    return parse_filters(std::move(e));
  }
  void parse_call_args(Expr& call) {
    expect_op("(");
    while (!is_op(")")) {
      if (t_[p_].t == Tok::T::Name && t_[p_ + 1].t == Tok::T::Op && t_[p_ + 1].s == "=") {
        std::string k = t_[p_].s;
        p_ += 2;
        call.kwargs.emplace_back(k, expression());
      } else {
        call.args.push_back(expression());
      }
      if (!is_op(")")) expect_op(",");
    }
    ++p_;
  }
  ExprPtr parse_filters(ExprPtr e) {
    for (;;) {
      if (is_op("|")) {
        ++p_;
        auto f = make(Expr::Kind::Filter);
        f->name = take_name();
        while (is_op(".")) {  // dotted filter names are not used; keep the grammar simple
          ++p_;
          f->name += "." + take_name();
        }
        f->args.push_back(std::move(e));
        if (is_op("(")) parse_call_args(*f);
        e = std::move(f);
      } else if (is_name("is")) {
        ++p_;
        auto t = make(Expr::Kind::Test);
        if (is_name("not")) {
          ++p_;
          t->negated = true;
        }
        t->name = take_name();
        t->args.push_back(std::move(e));
        if (is_op("(")) parse_call_args(*t);
        else if (t_[p_].t == Tok::T::Int || t_[p_].t == Tok::T::String || t_[p_].t == Tok::T::Float)
          t->args.push_back(parse_primary());  // "is divisibleby 3", "is sameas x"
        e = std::move(t);
      } else {
        return e;
      }
    }
  }
  ExprPtr parse_postfix(ExprPtr e) {
    for (;;) {
      if (is_op(".")) {
        ++p_;
        auto a = make(Expr::Kind::Attr);
        if (t_[p_].t == Tok::T::Int) a->name = t_[p_++].s;
        else a->name = take_name();
        a->args.push_back(std::move(e));
        e = std::move(a);
      } else if (is_op("[")) {
        ++p_;
        ExprPtr parts[3];
        int colons = 0;
        while (!is_op("]")) {
          if (is_op(":")) {
            ++p_;
            if (++colons > 2) fail(line_, "too many ':' in a slice");
            continue;
          }
          parts[colons] = expression();
        }
        ++p_;
        if (colons == 0) {
          if (!parts[0]) fail(line_, "empty subscript");
          auto ix = make(Expr::Kind::Index);
          ix->args.push_back(std::move(e));
          ix->args.push_back(std::move(parts[0]));
          e = std::move(ix);
        } else {
          auto sl = make(Expr::Kind::Slice);
          sl->args.push_back(std::move(e));
          for (auto& part : parts) sl->args.push_back(std::move(part));  // may be null
          e = std::move(sl);
        }
      } else if (is_op("(")) {
        auto c = make(Expr::Kind::Call);
        c->args.push_back(std::move(e));
        parse_call_args(*c);
        e = std::move(c);
      } else {
        return e;
      }
    }
  }
  ExprPtr parse_primary() {
    const Tok& tk = t_[p_];
    if (tk.t == Tok::T::String) {
      ++p_;
      auto e = make(Expr::Kind::Literal);
      std::string s = tk.s;
      while (t_[p_].t == Tok::T::String) s += t_[p_++].s;  // adjacent literals concatenate
      e->literal = Value(s);
      return e;
    }
    if (tk.t == Tok::T::Int || tk.t == Tok::T::Float) {
      ++p_;
      auto e = make(Expr::Kind::Literal);
      e->literal = tk.t == Tok::T::Int ? Value(tk.i) : Value(tk.f);
      return e;
    }
    if (tk.t == Tok::T::Name) {
      ++p_;
      auto e = make(Expr::Kind::Literal);
      if (tk.s == "true" || tk.s == "True") e->literal = Value(true);
      else if (tk.s == "false" || tk.s == "False") e->literal = Value(false);
      else if (tk.s == "none" || tk.s == "None") e->literal = Value::null();
      else {
        e->kind = Expr::Kind::Name;
        e->name = tk.s;
      }
      return e;
    }
    if (is_op("(")) {
      ++p_;
      ExprPtr first = expression();
      if (is_op(",")) {  // tuple -> list
        auto l = make(Expr::Kind::List);
        l->args.push_back(std::move(first));
        while (is_op(",")) {
          ++p_;
          if (is_op(")")) break;
          l->args.push_back(expression());
        }
        expect_op(")");
        return l;
      }
      expect_op(")");
      return first;
    }
    if (is_op("[")) {
      ++p_;
      auto l = make(Expr::Kind::List);
      while (!is_op("]")) {
        l->args.push_back(expression());
        if (!is_op("]")) expect_op(",");
      }
      ++p_;
      return l;
    }
    if (is_op("{")) {
      ++p_;
      auto d = make(Expr::Kind::Dict);
      while (!is_op("}")) {
        d->args.push_back(expression());
        expect_op(":");
        d->args.push_back(expression());
        if (!is_op("}")) expect_op(",");
      }
      ++p_;
      return d;
    }
    fail(line_, "unexpected '" + tk.s + "' in expression");
  }

  std::vector<Tok> t_;
  size_t p_ = 0;
  int line_;
};

// ---- statements --------------------------------------------------------------------------

class BlockParser {
 public:
  explicit BlockParser(std::vector<Chunk> chunks) : c_(std::move(chunks)) {}

  StmtList parse_all() {
    std::string stop;
    StmtList body = parse_until({}, stop);
    if (!stop.empty()) fail(last_line_, "unexpected {% " + stop + " %}");
    return body;
  }

 private:
  static std::string first_word(const std::string& body) {
    size_t b = body.find_first_not_of(" \t\n\r");
    if (b == std::string::npos) return "";
    size_t e = b;
    while (e < body.size() && (std::isalnum(static_cast<unsigned char>(body[e])) || body[e] == '_')) ++e;
    return body.substr(b, e - b);
  }
  static std::string rest_after_word(const std::string& body) {
    size_t b = body.find_first_not_of(" \t\n\r");
    size_t e = b;
    while (e < body.size() && (std::isalnum(static_cast<unsigned char>(body[e])) || body[e] == '_')) ++e;
    return body.substr(e);
  }

  // Parses statements until a block whose first word is in `stops`; returns that word in `stop`.
  StmtList parse_until(const std::vector<std::string>& stops, std::string& stop) {
    StmtList out;
    while (i_ < c_.size()) {
      const Chunk& ch = c_[i_];
      last_line_ = ch.line;
      if (ch.type == Chunk::Type::Text) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::Text;
        s->text = ch.body;
        s->line = ch.line;
        out.push_back(std::move(s));
        ++i_;
        continue;
      }
      if (ch.type == Chunk::Type::Expr) {
        ExprParser p(lex(ch.body, ch.line), ch.line);
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::Output;
        s->line = ch.line;
        s->expr = p.expression();
        p.expect_end();
        out.push_back(std::move(s));
        ++i_;
        continue;
      }
      std::string word = first_word(ch.body);
      for (const auto& st : stops)
        if (word == st) {
          stop = word;
          return out;
        }
      ++i_;
      std::string rest = rest_after_word(ch.body);
      auto s = std::make_unique<Stmt>();
      s->line = ch.line;
      if (word == "if") {
        s->kind = Stmt::Kind::If;
        ExprParser p(lex(rest, ch.line), ch.line);
        ExprPtr cond = p.expression();
        p.expect_end();
        std::string st;
        StmtList body = parse_until({"elif", "else", "endif"}, st);
        s->branches.emplace_back(std::move(cond), std::move(body));
        while (st == "elif" || st == "else") {
          const Chunk& bc = c_[i_++];
          if (st == "elif") {
            ExprParser q(lex(rest_after_word(bc.body), bc.line), bc.line);
            ExprPtr c2 = q.expression();
            q.expect_end();
            StmtList b2 = parse_until({"elif", "else", "endif"}, st);
            s->branches.emplace_back(std::move(c2), std::move(b2));
          } else {
            StmtList b2 = parse_until({"endif"}, st);
            s->branches.emplace_back(nullptr, std::move(b2));
          }
        }
        if (st != "endif") fail(ch.line, "{% if %} without {% endif %}");
        ++i_;
      } else if (word == "for") {
        s->kind = Stmt::Kind::For;
        ExprParser p(lex(rest, ch.line), ch.line);
        s->targets.push_back(p.take_name());
        while (p.is_op(",")) {
          p.expect_op(",");
          s->targets.push_back(p.take_name());
        }
        if (!p.is_name("in")) fail(ch.line, "expected 'in' in {% for %}");
        p.take_name();
        s->expr = p.expression_no_cond();
        if (p.is_name("if")) {
          p.take_name();
          s->filter = p.expression();
        }
        if (p.is_name("recursive")) fail(ch.line, "recursive loops are not supported");
        p.expect_end();
        std::string st;
        s->body = parse_until({"else", "endfor"}, st);
        if (st == "else") {
          ++i_;
          s->else_body = parse_until({"endfor"}, st);
        }
        if (st != "endfor") fail(ch.line, "{% for %} without {% endfor %}");
        ++i_;
      } else if (word == "set") {
        ExprParser p(lex(rest, ch.line), ch.line);
        std::string name = p.take_name();
        if (p.is_op(".")) {
          p.expect_op(".");
          s->kind = Stmt::Kind::SetAttr;
          s->targets = {name, p.take_name()};
        } else {
          s->kind = Stmt::Kind::Set;
          s->targets = {name};
          while (p.is_op(",")) {
            p.expect_op(",");
            s->targets.push_back(p.take_name());
          }
        }
        if (!p.is_op("=")) fail(ch.line, "block {% set %} (without '=') is not supported");
        p.expect_op("=");
        s->expr = p.expression();
        p.expect_end();
      } else if (word == "break" || word == "continue") {
        s->kind = word == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue;
      } else if (word.empty()) {
        fail(ch.line, "empty block tag");
      } else {
        fail(ch.line, "unsupported tag {% " + word + " %}");
      }
      out.push_back(std::move(s));
    }
    stop.clear();
    return out;
  }

  std::vector<Chunk> c_;
  size_t i_ = 0;
  int last_line_ = 1;
};

}  // namespace

StmtList parse_template(const std::string& source) { return BlockParser(scan(source)).parse_all(); }

}  // namespace jinja
}  // namespace r1::text
