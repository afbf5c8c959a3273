// Binds Value trees (a TOML recipe, a JSON config.json) onto typed config structs and back. A
// config struct lists its fields once:
//
//   struct RlConfig {
//     double lr = 1e-6;            // AdamW peak learning rate
//     AdvScale scale = AdvScale::group;
//     template <class V> void visit(V& v) {
//       v("lr", lr, "AdamW peak learning rate", 0.0, 1.0);
//       v("scale", scale, "advantage scaling: group | batch | none");
//     }
//   };
//
// ConfigReader fills the struct from a tree (type, range and choice checks; unknown keys are errors
// that suggest the closest valid key, unless the struct keeps them with rest()); ConfigWriter turns
// a struct back into a tree with every field present and each field's doc attached. Enums bind by
// name through an ADL function `enum_names(E)` returning pairs {E, "name"}. A null value (JSON)
// reads as an absent key. Recipes (experiments/) and the model's config.json (policy/) both bind
// through this one header, so their messages read the same.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "text/json_value.h"

namespace r1::text {

// A config value of the wrong type, out of range, unknown or missing; the message starts with
// the file and line (or the file) it came from and names the dotted key.
class ConfigError : public TextError {
 public:
  using TextError::TextError;
};

// Units accepted by duration()/bytes() fields: "250ms", "2s", "1.5m"; "256M", "1G", "64K", or a number.
double parse_duration_seconds(const std::string& text, bool& ok);
int64_t parse_byte_size(const std::string& text, bool& ok);
std::string format_duration(double seconds);
std::string format_bytes(int64_t bytes);
// The candidate closest to `word` by edit distance, or "" when none is plausibly a typo of it.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);
// A value as the user would write it, for messages ("0.5", "\"x\"", "[1, 2]", "{...}").
std::string display(const Value& v);
// A path as written in a config -> the path it names: `~` is $HOME; a relative path is relative
// to the folder of the file that wrote it (origin.file, when that is a file: a recipe, or the
// recipe it includes), else to the current folder (a `--set` value, a stored config). Absolute,
// lexically normalised.
std::string resolve_path(const std::string& written, const Origin& origin);

template <class E>
concept ConfigEnum = std::is_enum_v<E> && requires(E e) { enum_names(e); };

template <class E>
std::string_view enum_to_name(E value) {
  for (const auto& [v, name] : enum_names(E{}))
    if (v == value) return name;
  return "?";
}

class ConfigReader {
 public:
  static constexpr bool kReads = true;

  // `path` is the dotted prefix of this table's keys; `source` names values that carry no origin
  // (a JSON file such as "model/config.json"). A path() field that does not exist is an error,
  // unless `missing_paths` is given: then its message is added there and binding goes on (showing
  // a recipe, or one whose inputs are made before it runs).
  ConfigReader(const Value& table, std::string path, std::string source = {}, std::vector<std::string>* missing_paths = nullptr)
      : table_(table), path_(std::move(path)), source_(std::move(source)), missing_paths_(missing_paths) {}

  // An optional key: absent (or null) keeps the field's default.
  template <class T>
  void operator()(std::string_view key, T& field, std::string_view doc, double min = -INFINITY,
                  double max = INFINITY) {
    if (const Value* n = claim(key)) read_value(*n, dotted(key), field, min, max);
  }

  // A key the file must have.
  template <class T>
  void required(std::string_view key, T& field, std::string_view doc, double min = -INFINITY,
                double max = INFINITY) {
    const Value* n = claim(key);
    if (!n) throw ConfigError(where(table_) + ": missing required key '" + dotted(key) + "'");
    read_value(*n, dotted(key), field, min, max);
  }

  // A key whose "not set" is written as null (Hugging Face's None): absent or null reads as `none`.
  template <class T>
  void nullable(std::string_view key, T& field, const T& none, std::string_view doc, double min = -INFINITY,
                double max = INFINITY) {
    field = none;
    (*this)(key, field, doc, min, max);
  }

  // An input the run reads, a file or folder (a string, or an array of them): resolved by
  // resolve_path against the file that wrote it, and it must exist.
  template <class T>
  void path(std::string_view key, T& field, std::string_view doc) {
    const Value* n = claim(key);
    if (!n) return;
    read_value(*n, dotted(key), field, -INFINITY, INFINITY);
    if constexpr (std::is_same_v<T, std::string>) {
      field = existing_path(*n, dotted(key), field);
    } else {
      for (size_t i = 0; i < field.size(); ++i) field[i] = existing_path((*n)[i], dotted(key) + "[" + std::to_string(i) + "]", field[i]);
    }
  }

  // A command line (program and arguments): an argument naming a file beside the file that wrote
  // it (relative, and existing there) becomes that file's absolute path; so does a program
  // written with a '/'. Anything else (a program on PATH, a flag) is left as written.
  void command(std::string_view key, std::vector<std::string>& argv, std::string_view doc) {
    const Value* n = claim(key);
    if (!n) return;
    read_value(*n, dotted(key), argv, -INFINITY, INFINITY);
    for (size_t i = 0; i < argv.size(); ++i) {
      if (argv[i].empty() || argv[i][0] == '-' || (i == 0 && argv[i].find('/') == std::string::npos)) continue;
      std::string resolved = resolve_path(argv[i], (*n)[i].origin());
      if (path_exists(resolved)) argv[i] = resolved;
    }
  }

  void duration(std::string_view key, double& seconds, std::string_view doc, double min = 0, double max = INFINITY) {
    const Value* n = claim(key);
    if (!n) return;
    double v = 0;
    if (n->is_string()) {
      bool ok = false;
      v = parse_duration_seconds(n->as_string(), ok);
      if (!ok) fail(*n, dotted(key), "expected a duration like \"2s\", \"500ms\" or \"1.5m\", got " + display(*n));
    } else if (n->is_number()) {
      v = n->as_double();
    } else {
      fail(*n, dotted(key), "expected a duration like \"2s\", got " + n->type_name());
    }
    check_range(*n, dotted(key), v, min, max);
    seconds = v;
  }

  void bytes(std::string_view key, int64_t& out, std::string_view doc, double min = 0, double max = INFINITY) {
    const Value* n = claim(key);
    if (!n) return;
    int64_t v = 0;
    if (n->is_string()) {
      bool ok = false;
      v = parse_byte_size(n->as_string(), ok);
      if (!ok) fail(*n, dotted(key), "expected a size like \"256M\", \"1G\" or \"64K\", got " + display(*n));
    } else if (n->is_int()) {
      v = n->as_int();
    } else {
      fail(*n, dotted(key), "expected a size like \"256M\", got " + n->type_name());
    }
    check_range(*n, dotted(key), static_cast<double>(v), min, max);
    out = v;
  }

  template <class S>
  void table(std::string_view key, S& sub, std::string_view doc) {
    const Value* n = claim(key);
    if (!n) return;
    if (!n->is_object()) fail(*n, dotted(key), "expected a table ([" + dotted(key) + "]), got " + n->type_name());
    ConfigReader r(*n, dotted(key), source_, missing_paths_);
    sub.visit(r);
    r.finish();
  }

  template <class S>
  void table_array(std::string_view key, std::vector<S>& items, std::string_view doc) {
    const Value* n = claim(key);
    if (!n) return;
    if (!n->is_array())
      fail(*n, dotted(key), "expected an array of tables ([[" + dotted(key) + "]]), got " + n->type_name());
    items.clear();
    for (size_t i = 0; i < n->size(); ++i) {
      const Value& item = (*n)[i];
      std::string p = dotted(key) + "." + std::to_string(i);
      if (!item.is_object()) fail(item, p, "expected a table, got " + item.type_name());
      S s{};
      ConfigReader r(item, p, source_, missing_paths_);
      s.visit(r);
      r.finish();
      items.push_back(std::move(s));
    }
  }

  // Every key of this table that no field claimed, as an object (a model's config.json keeps the
  // keys it does not model and writes them back). Claims them, so they are not unknown keys.
  void rest(Value& out) {
    out = Value(Value::Object{});
    for (const auto& [k, v] : table_.as_object())
      if (!claimed(k)) out.set(k, v);
    accept_rest_ = true;
  }
  // The same as JSON text (a reward's own options, validated later by the reward itself).
  void rest_as_json(std::string& json_out) {
    Value rest_keys;
    rest(rest_keys);
    json_out = to_json(rest_keys, true);
  }

  // Where this table was written ("recipe.toml:14"), for errors raised later by its consumer.
  void origin(std::string& out) { out = where(table_); }

  // Unknown keys in this table are errors that suggest the closest known key.
  void finish() const {
    if (accept_rest_) return;
    for (const auto& [k, v] : table_.as_object()) {
      if (claimed(k)) continue;
      std::string msg = where(v) + ": unknown key '" + dotted(k) + "'";
      std::string guess = closest_match(k, known_);
      if (!guess.empty())
        msg += " (did you mean '" + dotted(guess) + "'?)";
      else if (!known_.empty())
        msg += " (valid keys here: " + join(known_) + ")";
      throw ConfigError(msg);
    }
  }

 private:
  // Records `key` as known; its value, or nullptr when absent or null.
  const Value* claim(std::string_view key) {
    known_.emplace_back(key);
    const Value* n = table_.find(key);
    return n && !n->is_null() ? n : nullptr;
  }
  bool claimed(std::string_view key) const { return std::find(known_.begin(), known_.end(), key) != known_.end(); }

  std::string dotted(std::string_view key) const { return path_.empty() ? std::string(key) : path_ + "." + std::string(key); }
  std::string where(const Value& n) const { return n.origin().file.empty() && !source_.empty() ? source_ : n.origin().str(); }

  static bool path_exists(const std::string& p);
  std::string existing_path(const Value& n, const std::string& key, const std::string& written) const {
    if (written.empty()) return written;
    std::string resolved = resolve_path(written, n.origin());
    if (!path_exists(resolved)) {
      std::string msg = where(n) + ": " + key + ": " + display(Value(written)) + " not found (tried " + resolved + ")";
      if (!missing_paths_) throw ConfigError(msg);
      missing_paths_->push_back(std::move(msg));
    }
    return resolved;
  }

  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s;
  }

  [[noreturn]] void fail(const Value& n, const std::string& key, const std::string& what) const {
    throw ConfigError(where(n) + ": " + key + ": " + what);
  }

  static std::string fmt(double v) {
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    std::string s = std::to_string(v);
    while (s.size() > 1 && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }

  void check_range(const Value& n, const std::string& key, double v, double min, double max) const {
    if (std::isnan(v) || v < min || v > max)
      fail(n, key, "value " + display(n) + " is out of range [" + fmt(min) + ", " + fmt(max) + "]");
  }

  template <class T>
  void read_value(const Value& n, const std::string& key, T& field, double min, double max) const {
    if constexpr (std::is_same_v<T, bool>) {
      if (!n.is_bool()) fail(n, key, "expected true or false, got " + n.type_name() + " " + display(n));
      field = n.as_bool();
    } else if constexpr (std::is_integral_v<T>) {
      // JSON writers may write an integer as 2.0; a fraction is an error.
      bool integral = n.is_int() || (n.is_number() && std::floor(n.as_double()) == n.as_double());
      if (!integral) fail(n, key, "expected an integer, got " + n.type_name() + " " + display(n));
      double lo = std::max(min, static_cast<double>(std::numeric_limits<T>::lowest()));
      double hi = std::min(max, static_cast<double>(std::numeric_limits<T>::max()));
      check_range(n, key, n.as_double(), lo, hi);
      field = static_cast<T>(n.as_int());
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!n.is_number()) fail(n, key, "expected a number, got " + n.type_name() + " " + display(n));
      check_range(n, key, n.as_double(), min, max);
      field = static_cast<T>(n.as_double());
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (!n.is_string()) fail(n, key, "expected a string, got " + n.type_name() + " " + display(n));
      field = n.as_string();
    } else if constexpr (ConfigEnum<T>) {
      if (!n.is_string()) fail(n, key, "expected one of " + choices<T>() + ", got " + n.type_name());
      for (const auto& [v, name] : enum_names(T{}))
        if (name == n.as_string()) {
          field = v;
          return;
        }
      std::vector<std::string> names;
      for (const auto& [v, name] : enum_names(T{})) names.emplace_back(name);
      std::string guess = closest_match(n.as_string(), names);
      fail(n, key, display(n) + " is not one of " + choices<T>() + (guess.empty() ? "" : " (did you mean \"" + guess + "\"?)"));
    } else if constexpr (requires { typename T::value_type; field.push_back(typename T::value_type{}); }) {
      if (!n.is_array()) fail(n, key, "expected an array, got " + n.type_name() + " " + display(n));
      T out;
      for (size_t i = 0; i < n.size(); ++i) {
        typename T::value_type item{};
        read_value(n[i], key + "[" + std::to_string(i) + "]", item, min, max);
        out.push_back(std::move(item));
      }
      field = std::move(out);
    } else {
      static_assert(sizeof(T) == 0, "unsupported config field type");
    }
  }

  template <class T>
  static std::string choices() {
    std::string s;
    for (const auto& [v, name] : enum_names(T{})) s += (s.empty() ? "" : " | ") + std::string(name);
    return s;
  }

  const Value& table_;
  std::string path_;
  std::string source_;
  std::vector<std::string>* missing_paths_ = nullptr;
  std::vector<std::string> known_;
  bool accept_rest_ = false;
};

// Struct -> tree, every field present, docs attached (for `r1 config show`, the store, config.json).
class ConfigWriter {
 public:
  static constexpr bool kReads = false;

  explicit ConfigWriter(Value& table) : table_(table) {
    if (!table_.is_object()) table_ = Value(Value::Object{});
  }

  template <class T>
  void operator()(std::string_view key, const T& field, std::string_view doc, double = 0, double = 0) {
    put(key, to_value(field), doc);
  }
  template <class T>
  void required(std::string_view key, const T& field, std::string_view doc, double = 0, double = 0) {
    put(key, to_value(field), doc);
  }
  template <class T>
  void nullable(std::string_view key, const T& field, const T& none, std::string_view doc, double = 0, double = 0) {
    put(key, field == none ? Value::null() : to_value(field), doc);
  }
  template <class T>
  void path(std::string_view key, const T& field, std::string_view doc) {
    put(key, to_value(field), doc);
  }
  void command(std::string_view key, const std::vector<std::string>& argv, std::string_view doc) {
    put(key, to_value(argv), doc);
  }
  void duration(std::string_view key, const double& seconds, std::string_view doc, double = 0, double = 0) {
    put(key, Value(format_duration(seconds)), doc);
  }
  void bytes(std::string_view key, const int64_t& b, std::string_view doc, double = 0, double = 0) {
    put(key, Value(format_bytes(b)), doc);
  }
  template <class S>
  void table(std::string_view key, S& sub, std::string_view doc) {
    Value t(Value::Object{});
    ConfigWriter w(t);
    sub.visit(w);
    put(key, std::move(t), doc);
  }
  template <class S>
  void table_array(std::string_view key, std::vector<S>& items, std::string_view doc) {
    Value a(Value::Array{});
    for (auto& item : items) {
      Value t(Value::Object{});
      ConfigWriter w(t);
      item.visit(w);
      a.as_array().push_back(std::move(t));
    }
    put(key, std::move(a), doc);
  }
  // Kept keys go back after the fields, never over them.
  void rest(const Value& kept) {
    for (const auto& [k, v] : kept.as_object())
      if (!table_.contains(k)) table_.set(k, v);
  }
  void rest_as_json(std::string& json) {
    if (json.empty() || json == "{}") return;
    rest(parse_json(json, "rest_as_json"));
  }
  void origin(std::string&) {}

 private:
  void put(std::string_view key, Value v, std::string_view doc) {
    if (!doc.empty()) v.set_doc(std::string(doc));
    table_.set(std::string(key), std::move(v));
  }

  template <class T>
  static Value to_value(const T& field) {
    if constexpr (std::is_same_v<T, bool>)
      return Value(field);
    else if constexpr (std::is_integral_v<T>)
      return Value(static_cast<int64_t>(field));
    else if constexpr (std::is_floating_point_v<T>)
      return Value(static_cast<double>(field));
    else if constexpr (std::is_same_v<T, std::string>)
      return Value(field);
    else if constexpr (ConfigEnum<T>)
      return Value(std::string(enum_to_name(field)));
    else {
      Value::Array a;
      for (const auto& item : field) a.push_back(to_value(item));
      return Value(std::move(a));
    }
  }
  Value& table_;
};

// Reads a struct from a table and rejects unknown keys (unless the struct keeps them).
template <class S>
void bind_table(const Value& table, const std::string& path, S& out, const std::string& source = {},
                std::vector<std::string>* missing_paths = nullptr) {
  ConfigReader r(table, path, source, missing_paths);
  out.visit(r);
  r.finish();
}

template <class S>
Value to_tree(S& s) {
  Value root(Value::Object{});
  ConfigWriter w(root);
  s.visit(w);
  return root;
}

}  // namespace r1::text
