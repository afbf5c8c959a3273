// Binds ConfigNode trees onto typed config structs and back. A config struct lists its fields once:
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
// that suggest the closest valid key); ConfigWriter turns a struct back into a tree with every
// default filled in and each field's doc attached. Enums bind by name through an ADL function
// `enum_names(E)` returning pairs {E, "name"}. Components never include this header: their visit()
// templates are instantiated here, in experiments/rl/cli, so no dependency arrow is reversed.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "experiments/config_tree.h"

namespace r1::experiments {

// Units accepted by duration()/bytes() fields: "250ms", "2s", "1.5m"; "256M", "1G", "64K", or a number.
double parse_duration_seconds(const std::string& text, bool& ok);
int64_t parse_byte_size(const std::string& text, bool& ok);
std::string format_duration(double seconds);
std::string format_bytes(int64_t bytes);
// JSON text <-> ConfigNode (json_io.cpp, the folder's one user of the JSON library).
ConfigNode json_to_node(std::string_view json, const Origin& origin);

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
  ConfigReader(const ConfigNode& table, std::string path) : table_(table), path_(std::move(path)) {}

  template <class T>
  void operator()(std::string_view key, T& field, std::string_view doc, double min = -INFINITY,
                  double max = INFINITY) {
    known_.emplace_back(key);
    const ConfigNode* n = table_.find(key);
    if (!n) return;
    n->used = true;
    read_value(*n, dotted(key), field, min, max);
  }

  void duration(std::string_view key, double& seconds, std::string_view doc, double min = 0,
                double max = INFINITY) {
    known_.emplace_back(key);
    const ConfigNode* n = table_.find(key);
    if (!n) return;
    n->used = true;
    double v = 0;
    if (n->kind == ConfigNode::Kind::String) {
      bool ok = false;
      v = parse_duration_seconds(n->string_value, ok);
      if (!ok) fail(*n, dotted(key), "expected a duration like \"2s\", \"500ms\" or \"1.5m\", got " + n->display());
    } else if (n->kind == ConfigNode::Kind::Integer || n->kind == ConfigNode::Kind::Float) {
      v = n->kind == ConfigNode::Kind::Integer ? static_cast<double>(n->int_value) : n->float_value;
    } else {
      fail(*n, dotted(key), "expected a duration like \"2s\", got " + n->kind_name());
    }
    check_range(*n, dotted(key), v, min, max);
    seconds = v;
  }

  void bytes(std::string_view key, int64_t& out, std::string_view doc, double min = 0, double max = INFINITY) {
    known_.emplace_back(key);
    const ConfigNode* n = table_.find(key);
    if (!n) return;
    n->used = true;
    int64_t v = 0;
    if (n->kind == ConfigNode::Kind::String) {
      bool ok = false;
      v = parse_byte_size(n->string_value, ok);
      if (!ok) fail(*n, dotted(key), "expected a size like \"256M\", \"1G\" or \"64K\", got " + n->display());
    } else if (n->kind == ConfigNode::Kind::Integer) {
      v = n->int_value;
    } else {
      fail(*n, dotted(key), "expected a size like \"256M\", got " + n->kind_name());
    }
    check_range(*n, dotted(key), static_cast<double>(v), min, max);
    out = v;
  }

  template <class S>
  void table(std::string_view key, S& sub, std::string_view doc) {
    known_.emplace_back(key);
    const ConfigNode* n = table_.find(key);
    if (!n) return;
    n->used = true;
    if (n->kind != ConfigNode::Kind::Table)
      fail(*n, dotted(key), "expected a table ([" + dotted(key) + "]), got " + n->kind_name());
    ConfigReader r(*n, dotted(key));
    sub.visit(r);
    r.finish();
  }

  template <class S>
  void table_array(std::string_view key, std::vector<S>& items, std::string_view doc) {
    known_.emplace_back(key);
    const ConfigNode* n = table_.find(key);
    if (!n) return;
    n->used = true;
    if (n->kind != ConfigNode::Kind::Array)
      fail(*n, dotted(key), "expected an array of tables ([[" + dotted(key) + "]]), got " + n->kind_name());
    items.clear();
    for (size_t i = 0; i < n->items.size(); ++i) {
      const ConfigNode& item = n->items[i];
      std::string p = dotted(key) + "." + std::to_string(i);
      if (item.kind != ConfigNode::Kind::Table) fail(item, p, "expected a table, got " + item.kind_name());
      S s{};
      ConfigReader r(item, p);
      s.visit(r);
      r.finish();
      items.push_back(std::move(s));
    }
  }

  // Every key of this table that no field claimed, as a JSON object (e.g. a reward's own options,
  // validated later by the reward itself). Claims them, so they are not unknown keys here.
  void rest_as_json(std::string& json_out) {
    ConfigNode rest = ConfigNode::table(table_.origin);
    for (const auto& [k, v] : table_.members) {
      bool claimed = v.used;
      for (const auto& kk : known_) claimed = claimed || kk == k;
      if (claimed) continue;
      v.used = true;
      rest.members.emplace_back(k, v);
    }
    json_out = to_json(rest);
    accept_rest_ = true;
  }

  // Where this table was written ("recipe.toml:14"), for errors raised later by its consumer.
  void origin(std::string& out) { out = table_.origin.str(); }

  // Unknown keys in this table are errors that suggest the closest known key.
  void finish() const {
    if (accept_rest_) return;
    for (const auto& [k, v] : table_.members) {
      if (v.used) continue;
      std::string msg = v.origin.str() + ": unknown key '" + dotted(k) + "'";
      std::string guess = closest_match(k, known_);
      if (!guess.empty())
        msg += " (did you mean '" + dotted(guess) + "'?)";
      else if (!known_.empty())
        msg += " (valid keys here: " + join(known_) + ")";
      throw ConfigError(msg);
    }
  }

 private:
  std::string dotted(std::string_view key) const { return path_.empty() ? std::string(key) : path_ + "." + std::string(key); }

  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s;
  }

  [[noreturn]] static void fail(const ConfigNode& n, const std::string& key, const std::string& what) {
    throw ConfigError(n.origin.str() + ": " + key + ": " + what);
  }

  static std::string fmt(double v) {
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    std::string s = std::to_string(v);
    while (s.size() > 1 && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }

  static void check_range(const ConfigNode& n, const std::string& key, double v, double min, double max) {
    if (std::isnan(v) || v < min || v > max)
      fail(n, key, "value " + n.display() + " is out of range [" + fmt(min) + ", " + fmt(max) + "]");
  }

  template <class T>
  static void read_value(const ConfigNode& n, const std::string& key, T& field, double min, double max) {
    using K = ConfigNode::Kind;
    if constexpr (std::is_same_v<T, bool>) {
      if (n.kind != K::Boolean) fail(n, key, "expected true or false, got " + n.kind_name() + " " + n.display());
      field = n.bool_value;
    } else if constexpr (std::is_integral_v<T>) {
      if (n.kind != K::Integer) fail(n, key, "expected an integer, got " + n.kind_name() + " " + n.display());
      double lo = std::max(min, static_cast<double>(std::numeric_limits<T>::lowest()));
      double hi = std::min(max, static_cast<double>(std::numeric_limits<T>::max()));
      check_range(n, key, static_cast<double>(n.int_value), lo, hi);
      field = static_cast<T>(n.int_value);
    } else if constexpr (std::is_floating_point_v<T>) {
      double v = 0;
      if (n.kind == K::Integer)
        v = static_cast<double>(n.int_value);
      else if (n.kind == K::Float)
        v = n.float_value;
      else
        fail(n, key, "expected a number, got " + n.kind_name() + " " + n.display());
      check_range(n, key, v, min, max);
      field = static_cast<T>(v);
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (n.kind != K::String) fail(n, key, "expected a string, got " + n.kind_name() + " " + n.display());
      field = n.string_value;
    } else if constexpr (ConfigEnum<T>) {
      if (n.kind != K::String) fail(n, key, "expected one of " + choices<T>() + ", got " + n.kind_name());
      for (const auto& [v, name] : enum_names(T{}))
        if (name == n.string_value) {
          field = v;
          return;
        }
      std::vector<std::string> names;
      for (const auto& [v, name] : enum_names(T{})) names.emplace_back(name);
      std::string guess = closest_match(n.string_value, names);
      fail(n, key, n.display() + " is not one of " + choices<T>() +
                       (guess.empty() ? "" : " (did you mean \"" + guess + "\"?)"));
    } else if constexpr (requires { typename T::value_type; field.push_back(typename T::value_type{}); }) {
      if (n.kind != K::Array) fail(n, key, "expected an array, got " + n.kind_name() + " " + n.display());
      T out;
      for (size_t i = 0; i < n.items.size(); ++i) {
        typename T::value_type item{};
        read_value(n.items[i], key + "[" + std::to_string(i) + "]", item, min, max);
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

  const ConfigNode& table_;
  std::string path_;
  std::vector<std::string> known_;
  bool accept_rest_ = false;
};

// Struct -> tree, every field present, docs attached (for `r1 config show`, the store, params).
class ConfigWriter {
 public:
  explicit ConfigWriter(ConfigNode& table) : table_(table) {}

  template <class T>
  void operator()(std::string_view key, const T& field, std::string_view doc, double = 0, double = 0) {
    ConfigNode n = to_node(field);
    n.doc = std::string(doc);
    table_.set(std::string(key), std::move(n));
  }
  void duration(std::string_view key, const double& seconds, std::string_view doc, double = 0, double = 0) {
    ConfigNode n = ConfigNode::of(format_duration(seconds));
    n.doc = std::string(doc);
    table_.set(std::string(key), std::move(n));
  }
  void bytes(std::string_view key, const int64_t& b, std::string_view doc, double = 0, double = 0) {
    ConfigNode n = ConfigNode::of(format_bytes(b));
    n.doc = std::string(doc);
    table_.set(std::string(key), std::move(n));
  }
  template <class S>
  void table(std::string_view key, S& sub, std::string_view doc) {
    ConfigNode t = ConfigNode::table();
    t.doc = std::string(doc);
    ConfigWriter w(t);
    sub.visit(w);
    table_.set(std::string(key), std::move(t));
  }
  template <class S>
  void table_array(std::string_view key, std::vector<S>& items, std::string_view doc) {
    ConfigNode a = ConfigNode::array();
    a.doc = std::string(doc);
    for (auto& item : items) {
      ConfigNode t = ConfigNode::table();
      ConfigWriter w(t);
      item.visit(w);
      a.items.push_back(std::move(t));
    }
    table_.set(std::string(key), std::move(a));
  }
  void rest_as_json(std::string& json) {
    if (json.empty() || json == "{}") return;
    ConfigNode rest = json_to_node(json, Origin{});
    for (auto& [k, v] : rest.members) table_.set(k, std::move(v));
  }
  void origin(std::string&) {}

 private:
  template <class T>
  static ConfigNode to_node(const T& field) {
    if constexpr (std::is_same_v<T, bool>)
      return ConfigNode::of(field);
    else if constexpr (std::is_integral_v<T>)
      return ConfigNode::of(static_cast<int64_t>(field));
    else if constexpr (std::is_floating_point_v<T>)
      return ConfigNode::of(static_cast<double>(field));
    else if constexpr (std::is_same_v<T, std::string>)
      return ConfigNode::of(field);
    else if constexpr (ConfigEnum<T>)
      return ConfigNode::of(std::string(enum_to_name(field)));
    else {
      ConfigNode a = ConfigNode::array();
      for (const auto& item : field) a.items.push_back(to_node(item));
      return a;
    }
  }
  ConfigNode& table_;
};

// Reads a struct from a table and rejects unknown keys.
template <class S>
void bind_table(const ConfigNode& table, const std::string& path, S& out) {
  ConfigReader r(table, path);
  out.visit(r);
  r.finish();
}

template <class S>
ConfigNode to_tree(S& s) {
  ConfigNode root = ConfigNode::table();
  ConfigWriter w(root);
  s.visit(w);
  return root;
}

}  // namespace r1::experiments
