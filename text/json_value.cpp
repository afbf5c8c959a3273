// Value basics, and the conversion to and from JSON text (the folder's one use of nlohmann::json).
#include "text/json_value.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace r1::text {

namespace {
const Value kUndefined;
const std::string kEmpty;
const Origin kNoOrigin;
}  // namespace

std::string Origin::str() const {
  if (file.empty()) return "<default>";
  if (line <= 0) return file;
  return file + ":" + std::to_string(line);
}

Value Value::null() {
  Value v;
  v.type_ = Type::Null;
  return v;
}
Value::Value(bool b) : type_(Type::Bool), b_(b) {}
Value::Value(int v) : type_(Type::Int), i_(v) {}
Value::Value(int64_t v) : type_(Type::Int), i_(v) {}
Value::Value(double v) : type_(Type::Float), f_(v) {}
Value::Value(const char* s) : type_(Type::String), s_(std::make_shared<std::string>(s)) {}
Value::Value(std::string s) : type_(Type::String), s_(std::make_shared<std::string>(std::move(s))) {}
Value::Value(Array a) : type_(Type::Array), a_(std::make_shared<Array>(std::move(a))) {}
Value::Value(Object o) : type_(Type::Object), o_(std::make_shared<Object>(std::move(o))) {}

const std::string& Value::as_string() const { return s_ ? *s_ : kEmpty; }
const Value::Array& Value::as_array() const {
  static const Array empty;
  return a_ ? *a_ : empty;
}
Value::Array& Value::as_array() {
  if (!a_) a_ = std::make_shared<Array>();
  else if (a_.use_count() > 1) a_ = std::make_shared<Array>(*a_);
  return *a_;
}
const Value::Object& Value::as_object() const {
  static const Object empty;
  return o_ ? *o_ : empty;
}
Value::Object& Value::as_object() {
  if (!o_) o_ = std::make_shared<Object>();
  else if (o_.use_count() > 1) o_ = std::make_shared<Object>(*o_);
  return *o_;
}

const Value& Value::operator[](std::string_view key) const {
  if (type_ != Type::Object) return kUndefined;
  for (const auto& [k, v] : *o_)
    if (k == key) return v;
  return kUndefined;
}
bool Value::contains(std::string_view key) const { return !(*this)[key].is_undefined(); }
void Value::set(const std::string& key, Value v) {
  if (type_ != Type::Object) {
    type_ = Type::Object;
    o_ = std::make_shared<Object>();
  } else if (o_.use_count() > 1) {
    o_ = std::make_shared<Object>(*o_);  // copy on write
  }
  for (auto& [k, old] : *o_)
    if (k == key) {
      old = std::move(v);
      return;
    }
  o_->emplace_back(key, std::move(v));
}
void Value::set_shared(const std::string& key, Value v) {
  if (type_ != Type::Object) {
    set(key, std::move(v));
    return;
  }
  for (auto& [k, old] : *o_)
    if (k == key) {
      old = std::move(v);
      return;
    }
  o_->emplace_back(key, std::move(v));
}

const Value* Value::find(std::string_view key) const {
  if (type_ != Type::Object) return nullptr;
  for (const auto& [k, v] : *o_)
    if (k == key) return &v;
  return nullptr;
}
Value* Value::find(std::string_view key) {
  if (type_ != Type::Object) return nullptr;
  for (auto& [k, v] : as_object())
    if (k == key) return &v;
  return nullptr;
}
bool Value::erase(std::string_view key) {
  if (type_ != Type::Object) return false;
  Object& o = as_object();
  for (auto it = o.begin(); it != o.end(); ++it)
    if (it->first == key) {
      o.erase(it);
      return true;
    }
  return false;
}

const Origin& Value::origin() const { return note_ ? note_->origin : kNoOrigin; }
void Value::set_origin(Origin o) { note_ = std::make_shared<const Note>(Note{std::move(o), doc()}); }
const std::string& Value::doc() const { return note_ ? note_->doc : kEmpty; }
void Value::set_doc(std::string doc) { note_ = std::make_shared<const Note>(Note{origin(), std::move(doc)}); }

const Value& Value::operator[](size_t i) const {
  if (type_ != Type::Array || i >= a_->size()) return kUndefined;
  return (*a_)[i];
}
size_t Value::size() const {
  switch (type_) {
    case Type::Array: return a_->size();
    case Type::Object: return o_->size();
    case Type::String: return s_->size();
    default: return 0;
  }
}

bool Value::truthy() const {
  switch (type_) {
    case Type::Undefined:
    case Type::Null: return false;
    case Type::Bool: return b_;
    case Type::Int: return i_ != 0;
    case Type::Float: return f_ != 0.0;
    case Type::String: return !s_->empty();
    case Type::Array: return !a_->empty();
    case Type::Object: return !o_->empty();
  }
  return false;
}

std::string Value::type_name() const {
  switch (type_) {
    case Type::Undefined: return "undefined";
    case Type::Null: return "null";
    case Type::Bool: return "a boolean";
    case Type::Int: return "an integer";
    case Type::Float: return "a float";
    case Type::String: return "a string";
    case Type::Array: return "an array";
    case Type::Object: return "a table (object)";
  }
  return "?";
}

int64_t Value::get_int(std::string_view key, const std::string& where) const {
  const Value& v = (*this)[key];
  if (!v.is_int() && !(v.type_ == Type::Float && std::floor(v.f_) == v.f_))
    throw TextError(where + ": key '" + std::string(key) + "' must be an integer, found " + v.type_name());
  return v.as_int();
}
double Value::get_double(std::string_view key, const std::string& where) const {
  const Value& v = (*this)[key];
  if (!v.is_number()) throw TextError(where + ": key '" + std::string(key) + "' must be a number, found " + v.type_name());
  return v.as_double();
}
std::string Value::get_string(std::string_view key, const std::string& where) const {
  const Value& v = (*this)[key];
  if (!v.is_string()) throw TextError(where + ": key '" + std::string(key) + "' must be a string, found " + v.type_name());
  return v.as_string();
}

bool operator==(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.as_double() == b.as_double();
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Value::Type::Undefined:
    case Value::Type::Null: return true;
    case Value::Type::Bool: return a.as_bool() == b.as_bool();
    case Value::Type::String: return a.as_string() == b.as_string();
    case Value::Type::Array: return a.as_array() == b.as_array();
    case Value::Type::Object: return a.as_object() == b.as_object();
    default: return false;
  }
}

namespace {

// SAX handler building Values directly: tokenizer.json is megabytes, so no intermediate DOM.
struct Builder : nlohmann::json_sax<nlohmann::json> {
  std::vector<Value> stack;
  std::vector<std::string> keys;
  Value root;
  std::string error;

  void put(Value v) {
    if (stack.empty()) {
      root = std::move(v);
    } else if (stack.back().is_array()) {
      stack.back().as_array().push_back(std::move(v));
    } else {
      stack.back().as_object().emplace_back(std::move(keys.back()), std::move(v));
      keys.pop_back();
    }
  }
  bool null() override { return put(Value::null()), true; }
  bool boolean(bool v) override { return put(Value(v)), true; }
  bool number_integer(number_integer_t v) override { return put(Value(static_cast<int64_t>(v))), true; }
  bool number_unsigned(number_unsigned_t v) override {
    if (v > static_cast<uint64_t>(INT64_MAX)) return put(Value(static_cast<double>(v))), true;
    return put(Value(static_cast<int64_t>(v))), true;
  }
  bool number_float(number_float_t v, const string_t&) override { return put(Value(static_cast<double>(v))), true; }
  bool string(string_t& v) override { return put(Value(std::move(v))), true; }
  bool binary(binary_t&) override { return put(Value::null()), true; }
  // Values nest through shared storage and are freed recursively: a document nested deeper than
  // any real config (a hostile payload of "[[[[...") would exhaust the stack.
  static constexpr size_t kMaxDepth = 512;
  bool too_deep() {
    if (stack.size() < kMaxDepth) return false;
    error = "nesting deeper than " + std::to_string(kMaxDepth) + " levels";
    return true;
  }
  bool start_object(std::size_t) override {
    if (too_deep()) return false;
    stack.emplace_back(Value::Object{});
    return true;
  }
  bool key(string_t& k) override {
    keys.push_back(std::move(k));
    return true;
  }
  bool end_object() override {
    Value v = std::move(stack.back());
    stack.pop_back();
    put(std::move(v));
    return true;
  }
  bool start_array(std::size_t) override {
    if (too_deep()) return false;
    stack.emplace_back(Value::Array{});
    return true;
  }
  bool end_array() override {
    Value v = std::move(stack.back());
    stack.pop_back();
    put(std::move(v));
    return true;
  }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& e) override {
    error = "byte " + std::to_string(pos) + ": " + e.what();
    return false;
  }
};

void escape_string(std::string& out, std::string_view s, bool python_style) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || (python_style && c == 0x7f)) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// Python's repr() of a float: shortest round-trip, with ".0" for integral values and exponent
// form outside [1e-4, 1e16).
std::string python_float(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
  std::string s(buf, r.ptr);
  double a = std::fabs(v);
  if (a != 0 && (a < 1e-4 || a >= 1e16)) {
    r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    s.assign(buf, r.ptr);
    // Python writes 1e-05, C++ 1e-05: same; "1e+16" matches too.
    return s;
  }
  r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  s.assign(buf, r.ptr);
  if (s.find('.') == std::string::npos) s += ".0";
  return s;
}

void dump(std::string& out, const Value& v, bool py, int indent, int depth) {
  auto newline = [&](int d) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent * d), ' ');
  };
  switch (v.type()) {
    case Value::Type::Undefined:
    case Value::Type::Null: out += "null"; break;
    case Value::Type::Bool: out += v.as_bool() ? "true" : "false"; break;
    case Value::Type::Int: out += std::to_string(v.as_int()); break;
    case Value::Type::Float: {
      if (py) {
        out += python_float(v.as_double());
      } else {
        char buf[64];
        auto r = std::to_chars(buf, buf + sizeof buf, v.as_double());
        std::string s(buf, r.ptr);
        if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
        out += s;
      }
      break;
    }
    case Value::Type::String: escape_string(out, v.as_string(), py); break;
    case Value::Type::Array: {
      out += '[';
      const auto& a = v.as_array();
      for (size_t i = 0; i < a.size(); ++i) {
        if (i) out += (py && indent < 0) ? ", " : ",";
        newline(depth + 1);
        dump(out, a[i], py, indent, depth + 1);
      }
      if (!a.empty()) newline(depth);
      out += ']';
      break;
    }
    case Value::Type::Object: {
      out += '{';
      const auto& o = v.as_object();
      for (size_t i = 0; i < o.size(); ++i) {
        if (i) out += (py && indent < 0) ? ", " : ",";
        newline(depth + 1);
        escape_string(out, o[i].first, py);
        out += (py || indent >= 0) ? ": " : ":";
        dump(out, o[i].second, py, indent, depth + 1);
      }
      if (!o.empty()) newline(depth);
      out += '}';
      break;
    }
  }
}

}  // namespace

Value parse_json(std::string_view text, const std::string& source) {
  Builder b;
  bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &b, nlohmann::json::input_format_t::json, true);
  if (!ok || !b.error.empty()) throw TextError(source + ": invalid JSON at " + b.error);
  return std::move(b.root);
}

Value read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TextError(path + ": cannot open (check the path)");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_json(ss.str(), path);
}

std::string python_float_repr(double v) { return python_float(v); }

std::string quote_string(std::string_view s) {
  std::string out;
  escape_string(out, s, true);
  return out;
}

std::string to_json(const Value& v, bool python_style, int indent) {
  std::string out;
  dump(out, v, python_style, indent, 0);
  return out;
}

}  // namespace r1::text
