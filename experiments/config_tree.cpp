// ConfigNode basics, merging, and typo suggestions.
#include "experiments/config_tree.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace r1::experiments {

std::string Origin::str() const {
  if (file.empty()) return "<default>";
  if (line <= 0) return file;
  return file + ":" + std::to_string(line);
}

ConfigNode ConfigNode::table(Origin o) {
  ConfigNode n;
  n.kind = Kind::Table;
  n.origin = std::move(o);
  return n;
}
ConfigNode ConfigNode::array(Origin o) {
  ConfigNode n;
  n.kind = Kind::Array;
  n.origin = std::move(o);
  return n;
}
ConfigNode ConfigNode::of(std::string v, Origin o) {
  ConfigNode n;
  n.kind = Kind::String;
  n.string_value = std::move(v);
  n.origin = std::move(o);
  return n;
}
ConfigNode ConfigNode::of(int64_t v, Origin o) {
  ConfigNode n;
  n.kind = Kind::Integer;
  n.int_value = v;
  n.origin = std::move(o);
  return n;
}
ConfigNode ConfigNode::of(double v, Origin o) {
  ConfigNode n;
  n.kind = Kind::Float;
  n.float_value = v;
  n.origin = std::move(o);
  return n;
}
ConfigNode ConfigNode::of(bool v, Origin o) {
  ConfigNode n;
  n.kind = Kind::Boolean;
  n.bool_value = v;
  n.origin = std::move(o);
  return n;
}

const ConfigNode* ConfigNode::find(std::string_view key) const {
  for (const auto& [k, v] : members)
    if (k == key) return &v;
  return nullptr;
}
ConfigNode* ConfigNode::find(std::string_view key) {
  for (auto& [k, v] : members)
    if (k == key) return &v;
  return nullptr;
}
ConfigNode& ConfigNode::set(const std::string& key, ConfigNode value) {
  if (ConfigNode* existing = find(key)) {
    *existing = std::move(value);
    return *existing;
  }
  members.emplace_back(key, std::move(value));
  return members.back().second;
}
bool ConfigNode::erase(std::string_view key) {
  auto it = std::find_if(members.begin(), members.end(), [&](const auto& m) { return m.first == key; });
  if (it == members.end()) return false;
  members.erase(it);
  return true;
}

std::string ConfigNode::kind_name() const {
  switch (kind) {
    case Kind::Table: return "a table";
    case Kind::Array: return "an array";
    case Kind::String: return "a string";
    case Kind::Integer: return "an integer";
    case Kind::Float: return "a float";
    case Kind::Boolean: return "a boolean";
  }
  return "?";
}

static std::string format_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string ConfigNode::display() const {
  switch (kind) {
    case Kind::String: return "\"" + string_value + "\"";
    case Kind::Integer: return std::to_string(int_value);
    case Kind::Float: return format_double(float_value);
    case Kind::Boolean: return bool_value ? "true" : "false";
    case Kind::Array: {
      std::string s = "[";
      for (size_t i = 0; i < items.size(); ++i) s += (i ? ", " : "") + items[i].display();
      return s + "]";
    }
    case Kind::Table: return "{...}";
  }
  return "?";
}

void merge_into(ConfigNode& base, const ConfigNode& overlay) {
  if (base.kind != ConfigNode::Kind::Table || overlay.kind != ConfigNode::Kind::Table) {
    base = overlay;
    return;
  }
  for (const auto& [key, value] : overlay.members) {
    ConfigNode* existing = base.find(key);
    if (existing && existing->kind == ConfigNode::Kind::Table && value.kind == ConfigNode::Kind::Table)
      merge_into(*existing, value);
    else
      base.set(key, value);
  }
}

static size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      // Transposition counts as one edit ("lr_shcedule").
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) cur[j] = std::min(cur[j], prev[j - 1]);
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  // A typo changes a few characters; beyond a third of the word it is a different word.
  size_t limit = std::max<size_t>(2, word.size() / 3);
  return best_d <= limit ? best : std::string();
}

}  // namespace r1::experiments
