// Recipe trees -> TOML text, JSON text and flattened dotted keys. TOML is written by hand (not by
// the TOML library) because the resolved recipe carries each field's documentation as a comment;
// strings use text's one escaping (JSON's escapes are valid TOML basic-string syntax).
#include <charconv>
#include <cmath>

#include "experiments/config_tree.h"

namespace r1::experiments {
namespace {

using text::quote_string;

// Shortest round-trip digits, always with a decimal point or exponent (TOML floats need one).
std::string toml_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

std::string key_text(const std::string& k);

std::string inline_toml(const Value& n) {
  switch (n.type()) {
    case Value::Type::String: return quote_string(n.as_string());
    case Value::Type::Int: return std::to_string(n.as_int());
    case Value::Type::Float: return toml_float(n.as_double());
    case Value::Type::Bool: return n.as_bool() ? "true" : "false";
    case Value::Type::Array: {
      std::string s = "[";
      for (size_t i = 0; i < n.size(); ++i) s += (i ? ", " : "") + inline_toml(n[i]);
      return s + "]";
    }
    case Value::Type::Object: {
      std::string s = "{ ";
      const auto& members = n.as_object();
      for (size_t i = 0; i < members.size(); ++i)
        s += (i ? ", " : "") + key_text(members[i].first) + " = " + inline_toml(members[i].second);
      return s + " }";
    }
    default: return "\"\"";  // TOML has no null; recipes never hold one
  }
}

bool is_table_array(const Value& n) {
  if (!n.is_array() || n.size() == 0) return false;
  for (const auto& i : n.as_array())
    if (!i.is_object()) return false;
  return true;
}

bool bare_key(const std::string& k) {
  if (k.empty()) return false;
  for (char c : k)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

std::string key_text(const std::string& k) { return bare_key(k) ? k : quote_string(k); }

void emit_comment(std::string& out, const std::string& doc) {
  if (doc.empty()) return;
  out += "# " + doc + "\n";
}

void emit_body(std::string& out, const Value& t, const std::string& path) {
  for (const auto& [k, v] : t.as_object()) {
    if (v.is_object() || is_table_array(v)) continue;
    emit_comment(out, v.doc());
    out += key_text(k) + " = " + inline_toml(v) + "\n";
  }
  for (const auto& [k, v] : t.as_object()) {
    std::string sub = path.empty() ? key_text(k) : path + "." + key_text(k);
    if (v.is_object()) {
      out += "\n";
      emit_comment(out, v.doc());
      out += "[" + sub + "]\n";
      emit_body(out, v, sub);
    } else if (is_table_array(v)) {
      for (const auto& item : v.as_array()) {
        out += "\n";
        emit_comment(out, v.doc());
        out += "[[" + sub + "]]\n";
        emit_body(out, item, sub);
      }
    }
  }
}

void flatten_into(const Value& n, const std::string& prefix, std::vector<std::pair<std::string, std::string>>& out) {
  if (n.is_object()) {
    for (const auto& [k, v] : n.as_object()) flatten_into(v, prefix.empty() ? k : prefix + "." + k, out);
  } else if (is_table_array(n)) {
    for (size_t i = 0; i < n.size(); ++i) flatten_into(n[i], prefix + "." + std::to_string(i), out);
  } else if (n.is_string()) {
    out.emplace_back(prefix, n.as_string());
  } else {
    out.emplace_back(prefix, inline_toml(n));
  }
}

}  // namespace

std::string to_toml(const Value& root) {
  std::string out;
  emit_body(out, root, "");
  // Leading blank line from the first table header.
  size_t start = out.find_first_not_of('\n');
  return start == std::string::npos ? std::string() : out.substr(start);
}

std::string to_json(const Value& root) { return text::to_json(root, true); }

std::vector<std::pair<std::string, std::string>> flatten(const Value& root) {
  std::vector<std::pair<std::string, std::string>> out;
  flatten_into(root, "", out);
  return out;
}

}  // namespace r1::experiments
