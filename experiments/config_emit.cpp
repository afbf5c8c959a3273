// ConfigNode -> TOML text, JSON text and flattened dotted keys. Written by hand (not by the TOML
// library) because the resolved recipe carries each field's documentation as a comment.
#include <charconv>
#include <cmath>
#include <cstdio>

#include "experiments/config_tree.h"

namespace r1::experiments {
namespace {

std::string quote(const std::string& s, bool json) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, json ? "\\u%04x" : "\\u%04X", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string number(double v, bool json) {
  if (std::isnan(v)) return json ? "null" : "nan";
  if (std::isinf(v)) return json ? "null" : (v > 0 ? "inf" : "-inf");
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

std::string scalar(const ConfigNode& n, bool json) {
  using K = ConfigNode::Kind;
  switch (n.kind) {
    case K::String: return quote(n.string_value, json);
    case K::Integer: return std::to_string(n.int_value);
    case K::Float: return number(n.float_value, json);
    case K::Boolean: return n.bool_value ? "true" : "false";
    case K::Array: {
      std::string s = "[";
      for (size_t i = 0; i < n.items.size(); ++i) s += (i ? ", " : "") + scalar(n.items[i], json);
      return s + "]";
    }
    case K::Table: {
      std::string s = json ? "{" : "{ ";
      for (size_t i = 0; i < n.members.size(); ++i) {
        const auto& [k, v] = n.members[i];
        s += (i ? ", " : "") + (json ? quote(k, true) + ": " : k + " = ") + scalar(v, json);
      }
      return s + (json ? "}" : " }");
    }
  }
  return "";
}

bool is_table_array(const ConfigNode& n) {
  if (n.kind != ConfigNode::Kind::Array || n.items.empty()) return false;
  for (const auto& i : n.items)
    if (i.kind != ConfigNode::Kind::Table) return false;
  return true;
}

bool bare_key(const std::string& k) {
  if (k.empty()) return false;
  for (char c : k)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

std::string key_text(const std::string& k) { return bare_key(k) ? k : quote(k, false); }

void emit_comment(std::string& out, const std::string& doc) {
  if (doc.empty()) return;
  out += "# " + doc + "\n";
}

void emit_table(std::string& out, const ConfigNode& t, const std::string& path);

void emit_body(std::string& out, const ConfigNode& t, const std::string& path) {
  for (const auto& [k, v] : t.members) {
    if (v.kind == ConfigNode::Kind::Table || is_table_array(v)) continue;
    emit_comment(out, v.doc);
    out += key_text(k) + " = " + scalar(v, false) + "\n";
  }
  for (const auto& [k, v] : t.members) {
    std::string sub = path.empty() ? key_text(k) : path + "." + key_text(k);
    if (v.kind == ConfigNode::Kind::Table) {
      out += "\n";
      emit_comment(out, v.doc);
      out += "[" + sub + "]\n";
      emit_body(out, v, sub);
    } else if (is_table_array(v)) {
      for (const auto& item : v.items) {
        out += "\n";
        emit_comment(out, v.doc);
        out += "[[" + sub + "]]\n";
        emit_body(out, item, sub);
      }
    }
  }
}

void emit_table(std::string& out, const ConfigNode& t, const std::string& path) { emit_body(out, t, path); }

void flatten_into(const ConfigNode& n, const std::string& prefix, std::vector<std::pair<std::string, std::string>>& out) {
  if (n.kind == ConfigNode::Kind::Table) {
    for (const auto& [k, v] : n.members) flatten_into(v, prefix.empty() ? k : prefix + "." + k, out);
  } else if (is_table_array(n)) {
    for (size_t i = 0; i < n.items.size(); ++i) flatten_into(n.items[i], prefix + "." + std::to_string(i), out);
  } else if (n.kind == ConfigNode::Kind::String) {
    out.emplace_back(prefix, n.string_value);
  } else {
    out.emplace_back(prefix, scalar(n, false));
  }
}

}  // namespace

std::string to_toml(const ConfigNode& root) {
  std::string out;
  emit_table(out, root, "");
  // Leading blank line from the first table header.
  size_t start = out.find_first_not_of('\n');
  return start == std::string::npos ? std::string() : out.substr(start);
}

std::string to_json(const ConfigNode& root) {
  if (is_table_array(root)) {
    std::string s = "[";
    for (size_t i = 0; i < root.items.size(); ++i) s += (i ? ", " : "") + to_json(root.items[i]);
    return s + "]";
  }
  if (root.kind != ConfigNode::Kind::Table) return scalar(root, true);
  std::string s = "{";
  for (size_t i = 0; i < root.members.size(); ++i) {
    const auto& [k, v] = root.members[i];
    s += (i ? ", " : "") + quote(k, true) + ": " + to_json(v);
  }
  return s + "}";
}

std::vector<std::pair<std::string, std::string>> flatten(const ConfigNode& root) {
  std::vector<std::pair<std::string, std::string>> out;
  flatten_into(root, "", out);
  return out;
}

}  // namespace r1::experiments
