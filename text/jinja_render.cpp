// Evaluation of the Jinja syntax tree: scopes, expressions with Python semantics, the filters,
// tests and methods chat templates use, and the R1-Zero template.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <optional>
#include <unordered_map>

#include "text/chat_template.h"
#include "text/jinja_ast.h"
#include "text/tokenizer.h"

namespace r1::text {

const char* const kR1SystemInstruction =
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. The "
    "assistant first thinks about the reasoning process in the mind and then provides the user with the answer. "
    "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>.";

std::string r1_zero_prompt(const std::string& question) {
  return std::string(kR1SystemInstruction) + " User: " + question + " Assistant:";
}

namespace jinja {
namespace {

[[noreturn]] void fail(int line, const std::string& msg) {
  throw TextError("chat template line " + std::to_string(line) + ": " + msg);
}

std::string py_repr(const Value& v);

std::string py_str(const Value& v) {
  switch (v.type()) {
    case Value::Type::Undefined: return "";
    case Value::Type::Null: return "None";
    case Value::Type::Bool: return v.as_bool() ? "True" : "False";
    case Value::Type::Int: return std::to_string(v.as_int());
    case Value::Type::Float: return python_float_repr(v.as_double());
    case Value::Type::String: return v.as_string();
    default: return py_repr(v);
  }
}

std::string py_repr(const Value& v) {
  switch (v.type()) {
    case Value::Type::String: {
      const std::string& s = v.as_string();
      char q = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
      std::string out(1, q);
      for (char c : s) {
        if (c == q || c == '\\') out += '\\', out += c;
        else if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else out += c;
      }
      return out + q;
    }
    case Value::Type::Array: {
      std::string out = "[";
      const auto& a = v.as_array();
      for (size_t i = 0; i < a.size(); ++i) out += (i ? ", " : "") + py_repr(a[i]);
      return out + "]";
    }
    case Value::Type::Object: {
      std::string out = "{";
      const auto& o = v.as_object();
      for (size_t i = 0; i < o.size(); ++i) out += (i ? ", " : "") + py_repr(Value(o[i].first)) + ": " + py_repr(o[i].second);
      return out + "}";
    }
    default: return py_str(v);
  }
}

bool py_equal(const Value& a, const Value& b) {
  if (a.is_undefined() || b.is_undefined()) return a.is_undefined() && b.is_undefined();
  return a == b;
}

int py_compare(const Value& a, const Value& b, int line) {
  if (a.is_number() && b.is_number()) return a.as_double() < b.as_double() ? -1 : a.as_double() > b.as_double() ? 1 : 0;
  if (a.is_string() && b.is_string()) return a.as_string().compare(b.as_string()) < 0 ? -1 : a.as_string() == b.as_string() ? 0 : 1;
  fail(line, "cannot compare " + a.type_name() + " with " + b.type_name());
}

bool contains(const Value& container, const Value& item, int line) {
  if (container.is_string()) {
    if (!item.is_string()) fail(line, "'in <string>' needs a string on the left");
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_array()) {
    for (const auto& x : container.as_array())
      if (py_equal(x, item)) return true;
    return false;
  }
  if (container.is_object()) return item.is_string() && container.contains(item.as_string());
  if (container.is_undefined() || container.is_null()) return false;
  fail(line, "'in' needs a string, list or mapping on the right, found " + container.type_name());
}

std::vector<Value> iterate(const Value& v, int line) {
  if (v.is_array()) return v.as_array();
  if (v.is_object()) {
    std::vector<Value> keys;
    for (const auto& [k, x] : v.as_object()) keys.emplace_back(k);
    return keys;
  }
  if (v.is_string()) {
    std::vector<Value> chars;
    const std::string& s = v.as_string();
    for (size_t i = 0; i < s.size();) {
      size_t start = i++;
      while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
      chars.emplace_back(s.substr(start, i - start));
    }
    return chars;
  }
  if (v.is_undefined() || v.is_null()) return {};
  fail(line, "cannot iterate over " + v.type_name());
}

std::string strip_chars(const std::string& s, const Value& chars, bool left, bool right) {
  std::string set = chars.is_string() ? chars.as_string() : std::string(" \t\n\r\v\f");
  size_t b = 0, e = s.size();
  if (left)
    while (b < e && set.find(s[b]) != std::string::npos) ++b;
  if (right)
    while (e > b && set.find(s[e - 1]) != std::string::npos) --e;
  return s.substr(b, e - b);
}

Value split_string(const std::string& s, const Value& sep, int64_t maxsplit) {
  Value::Array parts;
  if (sep.is_string() && !sep.as_string().empty()) {
    const std::string& d = sep.as_string();
    size_t pos = 0;
    while (maxsplit != 0) {
      size_t f = s.find(d, pos);
      if (f == std::string::npos) break;
      parts.emplace_back(s.substr(pos, f - pos));
      pos = f + d.size();
      --maxsplit;
    }
    parts.emplace_back(s.substr(pos));
    return parts;
  }
  // Whitespace split: runs of whitespace, no empty strings.
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i >= s.size()) break;
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    parts.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return parts;
}

int64_t norm_index(int64_t i, int64_t n) { return i < 0 ? i + n : i; }

class Renderer {
 public:
  explicit Renderer(const Value::Object& globals) {
    frames_.emplace_back();
    for (const auto& [k, v] : globals) frames_.back()[k] = v;
  }

  void run(const StmtList& body, std::string& out) {
    Flow f = exec(body, out);
    if (f != Flow::Normal) fail(0, "break/continue outside a loop");
  }

 private:
  enum class Flow { Normal, Break, Continue };
  std::vector<std::unordered_map<std::string, Value>> frames_;

  Value* find_var(const std::string& name) {
    for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
      auto f = it->find(name);
      if (f != it->end()) return &f->second;
    }
    return nullptr;
  }

  Flow exec(const StmtList& body, std::string& out) {
    for (const auto& s : body) {
      switch (s->kind) {
        case Stmt::Kind::Text: out += s->text; break;
        case Stmt::Kind::Output: out += py_str(eval(*s->expr)); break;
        case Stmt::Kind::If:
          for (const auto& [cond, branch] : s->branches) {
            if (!cond || eval(*cond).truthy()) {
              Flow f = exec(branch, out);
              if (f != Flow::Normal) return f;
              break;
            }
          }
          break;
        case Stmt::Kind::For: exec_for(*s, out); break;
        case Stmt::Kind::Set: {
          Value v = eval(*s->expr);
          if (s->targets.size() == 1) {
            frames_.back()[s->targets[0]] = v;
          } else {
            auto items = iterate(v, s->line);
            if (items.size() != s->targets.size()) fail(s->line, "cannot unpack " + std::to_string(items.size()) + " values");
            for (size_t i = 0; i < items.size(); ++i) frames_.back()[s->targets[i]] = items[i];
          }
          break;
        }
        case Stmt::Kind::SetAttr: {
          Value* ns = find_var(s->targets[0]);
          if (!ns || !ns->is_object()) fail(s->line, "'" + s->targets[0] + "' is not a namespace");
          ns->set_shared(s->targets[1], eval(*s->expr));
          break;
        }
        case Stmt::Kind::Break: return Flow::Break;
        case Stmt::Kind::Continue: return Flow::Continue;
      }
    }
    return Flow::Normal;
  }

  void exec_for(const Stmt& s, std::string& out) {
    std::vector<Value> items = iterate(eval(*s.expr), s.line);
    if (s.filter) {
      std::vector<Value> kept;
      for (const auto& it : items) {
        frames_.emplace_back();
        bind_targets(s, it);
        if (eval(*s.filter).truthy()) kept.push_back(it);
        frames_.pop_back();
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      frames_.emplace_back();
      exec(s.else_body, out);
      frames_.pop_back();
      return;
    }
    const int64_t n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      frames_.emplace_back();
      bind_targets(s, items[i]);
      Value loop(Value::Object{});
      loop.set("index", Value(i + 1));
      loop.set("index0", Value(i));
      loop.set("revindex", Value(n - i));
      loop.set("revindex0", Value(n - i - 1));
      loop.set("first", Value(i == 0));
      loop.set("last", Value(i == n - 1));
      loop.set("length", Value(n));
      loop.set("previtem", i > 0 ? items[i - 1] : Value());
      loop.set("nextitem", i + 1 < n ? items[i + 1] : Value());
      frames_.back()["loop"] = loop;
      Flow f = exec(s.body, out);
      frames_.pop_back();
      if (f == Flow::Break) break;
    }
  }

  void bind_targets(const Stmt& s, const Value& item) {
    if (s.targets.size() == 1) {
      frames_.back()[s.targets[0]] = item;
      return;
    }
    auto parts = iterate(item, s.line);
    if (parts.size() != s.targets.size()) fail(s.line, "cannot unpack loop item into " + std::to_string(s.targets.size()) + " names");
    for (size_t i = 0; i < parts.size(); ++i) frames_.back()[s.targets[i]] = parts[i];
  }

  Value eval(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::Literal: return e.literal;
      case Expr::Kind::Name: {
        if (Value* v = find_var(e.name)) return *v;
        return Value();
      }
      case Expr::Kind::List: {
        Value::Array a;
        for (const auto& x : e.args) a.push_back(eval(*x));
        return a;
      }
      case Expr::Kind::Dict: {
        Value d(Value::Object{});
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          Value k = eval(*e.args[i]);
          d.set(py_str(k), eval(*e.args[i + 1]));
        }
        return d;
      }
      case Expr::Kind::Attr: {
        Value obj = eval(*e.args[0]);
        if (obj.is_object()) return obj[e.name];
        if (obj.is_array() && !e.name.empty() && std::isdigit(static_cast<unsigned char>(e.name[0])))
          return obj[static_cast<size_t>(std::stoll(e.name))];
        return Value();
      }
      case Expr::Kind::Index: {
        Value obj = eval(*e.args[0]);
        Value key = eval(*e.args[1]);
        if (obj.is_array() || obj.is_string()) {
          if (!key.is_int()) fail(e.line, "list indices must be integers, found " + key.type_name());
          int64_t n = static_cast<int64_t>(obj.size());
          int64_t i = norm_index(key.as_int(), n);
          if (i < 0 || i >= n) return Value();
          if (obj.is_string()) return Value(obj.as_string().substr(static_cast<size_t>(i), 1));
          return obj[static_cast<size_t>(i)];
        }
        if (obj.is_object()) return obj[py_str(key)];
        return Value();
      }
      case Expr::Kind::Slice: return eval_slice(e);
      case Expr::Kind::Call: return eval_call(e);
      case Expr::Kind::Filter: return eval_filter(e);
      case Expr::Kind::Test: {
        bool r = eval_test(e);
        return Value(e.negated ? !r : r);
      }
      case Expr::Kind::Not: return Value(!eval(*e.args[0]).truthy());
      case Expr::Kind::Neg: {
        Value v = eval(*e.args[0]);
        if (v.is_int()) return Value(-v.as_int());
        if (v.is_number()) return Value(-v.as_double());
        fail(e.line, "cannot negate " + v.type_name());
      }
      case Expr::Kind::Binary: return eval_binary(e);
      case Expr::Kind::Cond: return eval(*e.args[1]).truthy() ? eval(*e.args[0]) : eval(*e.args[2]);
    }
    return Value();
  }

  Value eval_slice(const Expr& e) {
    Value obj = eval(*e.args[0]);
    int64_t n = static_cast<int64_t>(obj.is_string() ? obj.as_string().size() : obj.as_array().size());
    auto get = [&](int idx) -> std::optional<int64_t> {
      if (!e.args[idx]) return std::nullopt;
      Value v = eval(*e.args[idx]);
      if (v.is_null()) return std::nullopt;
      if (!v.is_int()) fail(e.line, "slice indices must be integers");
      return v.as_int();
    };
    int64_t step = get(3).value_or(1);
    if (step == 0) fail(e.line, "slice step cannot be zero");
    auto clamp = [&](std::optional<int64_t> v, int64_t dflt) {
      if (!v) return dflt;
      int64_t x = *v < 0 ? *v + n : *v;
      if (step > 0) return std::clamp<int64_t>(x, 0, n);
      return std::clamp<int64_t>(x, -1, n - 1);
    };
    int64_t start = clamp(get(1), step > 0 ? 0 : n - 1), stop = clamp(get(2), step > 0 ? n : -1);
    std::vector<int64_t> idx;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) idx.push_back(i);
    if (obj.is_string()) {
      std::string s;
      for (int64_t i : idx) s += obj.as_string()[static_cast<size_t>(i)];
      return Value(s);
    }
    Value::Array a;
    for (int64_t i : idx) a.push_back(obj[static_cast<size_t>(i)]);
    return a;
  }

  Value eval_binary(const Expr& e) {
    const std::string& op = e.name;
    if (op == "and") {
      Value a = eval(*e.args[0]);
      return a.truthy() ? eval(*e.args[1]) : a;
    }
    if (op == "or") {
      Value a = eval(*e.args[0]);
      return a.truthy() ? a : eval(*e.args[1]);
    }
    Value a = eval(*e.args[0]), b = eval(*e.args[1]);
    if (op == "==") return Value(py_equal(a, b));
    if (op == "!=") return Value(!py_equal(a, b));
    if (op == "<") return Value(py_compare(a, b, e.line) < 0);
    if (op == ">") return Value(py_compare(a, b, e.line) > 0);
    if (op == "<=") return Value(py_compare(a, b, e.line) <= 0);
    if (op == ">=") return Value(py_compare(a, b, e.line) >= 0);
    if (op == "in") return Value(contains(b, a, e.line));
    if (op == "not in") return Value(!contains(b, a, e.line));
    if (op == "~") return Value(py_str(a) + py_str(b));
    if (op == "+") {
      if (a.is_string() && b.is_string()) return Value(a.as_string() + b.as_string());
      if (a.is_array() && b.is_array()) {
        Value::Array r = a.as_array();
        r.insert(r.end(), b.as_array().begin(), b.as_array().end());
        return r;
      }
    }
    if (op == "*" && a.is_string() && b.is_int()) {
      std::string r;
      for (int64_t i = 0; i < b.as_int(); ++i) r += a.as_string();
      return Value(r);
    }
    if (!a.is_number() || !b.is_number())
      fail(e.line, "unsupported operand types for " + op + ": " + a.type_name() + " and " + b.type_name());
    bool ints = a.is_int() && b.is_int();
    double x = a.as_double(), y = b.as_double();
    if (op == "+") return ints ? Value(a.as_int() + b.as_int()) : Value(x + y);
    if (op == "-") return ints ? Value(a.as_int() - b.as_int()) : Value(x - y);
    if (op == "*") return ints ? Value(a.as_int() * b.as_int()) : Value(x * y);
    if (op == "/") {
      if (y == 0) fail(e.line, "division by zero");
      return Value(x / y);
    }
    if (op == "//") {
      if (y == 0) fail(e.line, "division by zero");
      return ints ? Value(static_cast<int64_t>(std::floor(x / y))) : Value(std::floor(x / y));
    }
    if (op == "%") {
      if (y == 0) fail(e.line, "modulo by zero");
      if (ints) {
        int64_t m = a.as_int() % b.as_int();
        if (m != 0 && ((m < 0) != (b.as_int() < 0))) m += b.as_int();
        return Value(m);
      }
      return Value(x - std::floor(x / y) * y);
    }
    if (op == "**") return ints && b.as_int() >= 0 ? Value(static_cast<int64_t>(std::llround(std::pow(x, y)))) : Value(std::pow(x, y));
    fail(e.line, "unknown operator " + op);
  }

  std::vector<Value> eval_args(const Expr& e, size_t skip) {
    std::vector<Value> args;
    for (size_t i = skip; i < e.args.size(); ++i) args.push_back(eval(*e.args[i]));
    return args;
  }
  Value kwarg(const Expr& e, const std::string& name) {
    for (const auto& [k, v] : e.kwargs)
      if (k == name) return eval(*v);
    return Value();
  }

  Value eval_call(const Expr& e) {
    const Expr& callee = *e.args[0];
    std::vector<Value> args = eval_args(e, 1);
    if (callee.kind == Expr::Kind::Name) {
      const std::string& f = callee.name;
      if (f == "namespace" || f == "dict") {
        Value ns(Value::Object{});
        for (const auto& [k, v] : e.kwargs) ns.set(k, eval(*v));
        return ns;
      }
      if (f == "range") {
        int64_t a = 0, b = 0, st = 1;
        if (args.size() == 1) b = args[0].as_int();
        else if (args.size() >= 2) a = args[0].as_int(), b = args[1].as_int();
        if (args.size() == 3) st = args[2].as_int();
        if (st == 0) fail(e.line, "range() step cannot be zero");
        Value::Array r;
        for (int64_t i = a; st > 0 ? i < b : i > b; i += st) r.emplace_back(i);
        return r;
      }
      if (f == "raise_exception") fail(e.line, "template raised: " + (args.empty() ? std::string() : py_str(args[0])));
      if (f == "strftime_now") {
        std::time_t t = std::time(nullptr);
        char buf[128];
        std::strftime(buf, sizeof buf, args.empty() ? "%Y-%m-%d" : py_str(args[0]).c_str(), std::localtime(&t));
        return Value(std::string(buf));
      }
      fail(e.line, "unknown function '" + f + "'");
    }
    if (callee.kind == Expr::Kind::Attr) {
      Value obj = eval(*callee.args[0]);
      return call_method(obj, callee.name, args, e);
    }
    fail(e.line, "this expression is not callable");
  }

  Value call_method(const Value& obj, const std::string& m, const std::vector<Value>& args, const Expr& e) {
    auto arg = [&](size_t i) -> Value { return i < args.size() ? args[i] : Value(); };
    if (obj.is_string()) {
      const std::string& s = obj.as_string();
      if (m == "startswith" || m == "endswith") {
        std::vector<Value> options = arg(0).is_array() ? arg(0).as_array() : std::vector<Value>{arg(0)};
        for (const auto& o : options) {
          const std::string& p = o.as_string();
          bool hit = m == "startswith" ? s.rfind(p, 0) == 0
                                       : (s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0);
          if (hit) return Value(true);
        }
        return Value(false);
      }
      if (m == "strip") return Value(strip_chars(s, arg(0), true, true));
      if (m == "lstrip") return Value(strip_chars(s, arg(0), true, false));
      if (m == "rstrip") return Value(strip_chars(s, arg(0), false, true));
      if (m == "split") {
        Value sep = args.empty() ? kwarg(e, "sep") : arg(0);
        Value maxs = args.size() > 1 ? arg(1) : kwarg(e, "maxsplit");
        return split_string(s, sep, maxs.is_int() ? maxs.as_int() : -1);
      }
      if (m == "upper" || m == "lower") {
        std::string r = s;
        for (auto& c : r) c = static_cast<char>(m == "upper" ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
        return Value(r);
      }
      if (m == "title" || m == "capitalize") return apply_filter(m, obj, {}, e);
      if (m == "replace") {
        std::string r, from = arg(0).as_string(), to = arg(1).as_string();
        int64_t count = arg(2).is_int() ? arg(2).as_int() : -1;
        size_t pos = 0;
        if (from.empty()) return obj;
        while (count != 0) {
          size_t f = s.find(from, pos);
          if (f == std::string::npos) break;
          r += s.substr(pos, f - pos) + to;
          pos = f + from.size();
          --count;
        }
        return Value(r + s.substr(pos));
      }
      if (m == "find") {
        size_t f = s.find(arg(0).as_string());
        return Value(f == std::string::npos ? int64_t{-1} : static_cast<int64_t>(f));
      }
      if (m == "count") {
        const std::string& p = arg(0).as_string();
        int64_t n = 0;
        for (size_t pos = p.empty() ? std::string::npos : s.find(p); pos != std::string::npos; pos = s.find(p, pos + p.size())) ++n;
        return Value(n);
      }
      if (m == "join") {
        std::string r;
        auto items = iterate(arg(0), e.line);
        for (size_t i = 0; i < items.size(); ++i) r += (i ? s : "") + py_str(items[i]);
        return Value(r);
      }
      if (m == "isdigit") {
        bool all = !s.empty();
        for (char c : s) all = all && std::isdigit(static_cast<unsigned char>(c));
        return Value(all);
      }
    }
    if (obj.is_object()) {
      if (m == "get") {
        const Value& v = obj[py_str(arg(0))];
        return v.is_undefined() ? (args.size() > 1 ? arg(1) : Value::null()) : v;
      }
      if (m == "items" || m == "keys" || m == "values") {
        Value::Array r;
        for (const auto& [k, v] : obj.as_object()) {
          if (m == "items") r.push_back(Value(Value::Array{Value(k), v}));
          else if (m == "keys") r.emplace_back(k);
          else r.push_back(v);
        }
        return r;
      }
    }
    fail(e.line, "unknown method '" + m + "' of " + obj.type_name());
  }

  Value eval_filter(const Expr& e) {
    Value v = eval(*e.args[0]);
    std::vector<Value> args = eval_args(e, 1);
    return apply_filter(e.name, v, args, e);
  }

  Value apply_filter(const std::string& f, const Value& v, const std::vector<Value>& args, const Expr& e) {
    auto arg = [&](size_t i) -> Value { return i < args.size() ? args[i] : Value(); };
    if (f == "length" || f == "count") return Value(static_cast<int64_t>(v.is_string() ? iterate(v, e.line).size() : v.size()));
    if (f == "tojson") {
      Value indent = kwarg(e, "indent");
      if (indent.is_undefined()) indent = arg(0);
      return Value(to_json(v, true, indent.is_int() ? static_cast<int>(indent.as_int()) : -1));
    }
    if (f == "trim") return Value(strip_chars(py_str(v), arg(0), true, true));
    if (f == "upper" || f == "lower") return call_method(Value(py_str(v)), f, {}, e);
    if (f == "capitalize") {
      std::string s = py_str(v);
      for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i == 0 ? std::toupper(static_cast<unsigned char>(s[i])) : std::tolower(static_cast<unsigned char>(s[i])));
      return Value(s);
    }
    if (f == "title") {
      std::string s = py_str(v);
      bool start = true;
      for (auto& c : s) {
        c = static_cast<char>(start ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
        start = !std::isalpha(static_cast<unsigned char>(c));
      }
      return Value(s);
    }
    if (f == "string") return Value(py_str(v));
    if (f == "int") return v.is_number() ? Value(v.as_int()) : Value(static_cast<int64_t>(std::strtoll(py_str(v).c_str(), nullptr, 10)));
    if (f == "float") return v.is_number() ? Value(v.as_double()) : Value(std::strtod(py_str(v).c_str(), nullptr));
    if (f == "abs") return v.is_int() ? Value(static_cast<int64_t>(std::llabs(v.as_int()))) : Value(std::fabs(v.as_double()));
    if (f == "round") {
      int64_t digits = arg(0).is_int() ? arg(0).as_int() : 0;
      double p = std::pow(10.0, static_cast<double>(digits));
      return Value(std::nearbyint(v.as_double() * p) / p);
    }
    if (f == "first" || f == "last") {
      auto items = iterate(v, e.line);
      if (items.empty()) return Value();
      return f == "first" ? items.front() : items.back();
    }
    if (f == "list") return Value(iterate(v, e.line));
    if (f == "reverse") {
      if (v.is_string()) {
        std::string s = v.as_string();
        std::reverse(s.begin(), s.end());
        return Value(s);
      }
      auto items = iterate(v, e.line);
      std::reverse(items.begin(), items.end());
      return Value(items);
    }
    if (f == "join") {
      std::string sep = arg(0).is_string() ? arg(0).as_string() : "";
      std::string r;
      auto items = iterate(v, e.line);
      for (size_t i = 0; i < items.size(); ++i) r += (i ? sep : "") + py_str(items[i]);
      return Value(r);
    }
    if (f == "default" || f == "d") {
      bool boolean = arg(1).truthy() || kwarg(e, "boolean").truthy();
      if (v.is_undefined() || (boolean && !v.truthy())) return args.empty() ? Value("") : arg(0);
      return v;
    }
    if (f == "replace") return call_method(Value(py_str(v)), "replace", args, e);
    if (f == "items") return call_method(v, "items", {}, e);
    if (f == "dictsort") {
      Value items = call_method(v, "items", {}, e);
      auto list = items.as_array();
      std::sort(list.begin(), list.end(), [](const Value& a, const Value& b) { return a[0].as_string() < b[0].as_string(); });
      return Value(list);
    }
    if (f == "unique") {
      Value::Array r;
      for (const auto& x : iterate(v, e.line)) {
        bool seen = false;
        for (const auto& y : r) seen = seen || py_equal(x, y);
        if (!seen) r.push_back(x);
      }
      return r;
    }
    if (f == "map") {
      Value attr = kwarg(e, "attribute");
      Value::Array r;
      for (const auto& x : iterate(v, e.line)) {
        if (attr.is_string()) r.push_back(x[attr.as_string()]);
        else if (arg(0).is_string()) r.push_back(apply_filter(arg(0).as_string(), x, {}, e));
        else fail(e.line, "map needs attribute= or a filter name");
      }
      return r;
    }
    if (f == "selectattr" || f == "rejectattr") {
      Value::Array r;
      std::string attr = arg(0).as_string();
      for (const auto& x : iterate(v, e.line)) {
        bool ok;
        const Value& a = x[attr];
        if (args.size() >= 2) {
          std::string test = arg(1).as_string();
          if (test == "equalto" || test == "eq" || test == "==") ok = py_equal(a, arg(2));
          else if (test == "defined") ok = !a.is_undefined();
          else if (test == "none") ok = a.is_null();
          else fail(e.line, "selectattr test '" + test + "' is not supported");
        } else {
          ok = a.truthy();
        }
        if (ok == (f == "selectattr")) r.push_back(x);
      }
      return r;
    }
    if (f == "safe") return v;
    fail(e.line, "unknown filter '" + f + "'");
  }

  bool eval_test(const Expr& e) {
    Value v = eval(*e.args[0]);
    const std::string& t = e.name;
    if (t == "defined") return !v.is_undefined();
    if (t == "undefined") return v.is_undefined();
    if (t == "none") return v.is_null();
    if (t == "string") return v.is_string();
    if (t == "number") return v.is_number();
    if (t == "integer") return v.is_int();
    if (t == "float") return v.type() == Value::Type::Float;
    if (t == "boolean") return v.is_bool();
    if (t == "true") return v.is_bool() && v.as_bool();
    if (t == "false") return v.is_bool() && !v.as_bool();
    if (t == "mapping") return v.is_object();
    if (t == "sequence" || t == "iterable") return v.is_array() || v.is_string() || v.is_object();
    if (t == "even" || t == "odd") return v.is_int() && (v.as_int() % 2 == 0) == (t == "even");
    Value other = e.args.size() > 1 ? eval(*e.args[1]) : Value();
    if (t == "divisibleby") return v.is_int() && other.is_int() && other.as_int() != 0 && v.as_int() % other.as_int() == 0;
    if (t == "equalto" || t == "eq" || t == "sameas") return py_equal(v, other);
    if (t == "in") return contains(other, v, e.line);
    fail(e.line, "unknown test '" + t + "'");
  }
};

}  // namespace
}  // namespace jinja

ChatTemplate::ChatTemplate() = default;
ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

ChatTemplate ChatTemplate::compile(const std::string& source) {
  auto program = std::make_shared<Program>();
  program->body = jinja::parse_template(source);
  ChatTemplate t;
  t.program_ = std::move(program);
  return t;
}

std::string apply_chat_template(const Tokenizer& tok, const ChatTemplate& t, const Value& messages,
                                bool add_generation_prompt, const Value& tools, const Value::Object& extra) {
  Value::Object vars;
  vars.emplace_back("messages", messages);
  vars.emplace_back("add_generation_prompt", Value(add_generation_prompt));
  vars.emplace_back("tools", tools.is_undefined() ? Value::null() : tools);
  if (!tok.bos_token().empty()) vars.emplace_back("bos_token", Value(tok.bos_token()));
  if (!tok.eos_token().empty()) vars.emplace_back("eos_token", Value(tok.eos_token()));
  if (!tok.pad_token().empty()) vars.emplace_back("pad_token", Value(tok.pad_token()));
  for (const auto& kv : extra) vars.push_back(kv);
  return t.render(vars);
}

std::string ChatTemplate::render(const Value::Object& variables) const {
  if (!program_) throw TextError("chat template: not compiled");
  std::string out;
  jinja::Renderer(variables).run(program_->body, out);
  return out;
}

}  // namespace r1::text
