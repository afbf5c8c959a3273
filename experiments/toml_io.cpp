// The only file that knows the TOML library (toml++): TOML text -> ConfigNode with line numbers.
#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include "experiments/config_tree.h"

namespace r1::experiments {
namespace {

Origin origin_of(const toml::node& n, const std::string& file) {
  return Origin{file, static_cast<int>(n.source().begin.line)};
}

ConfigNode convert(const toml::node& n, const std::string& file) {
  Origin o = origin_of(n, file);
  if (auto* t = n.as_table()) {
    ConfigNode out = ConfigNode::table(o);
    for (auto&& [k, v] : *t) out.members.emplace_back(std::string(k.str()), convert(v, file));
    // A table header's line is where its first key is when toml++ reports none.
    if (out.origin.line == 0 && !out.members.empty()) out.origin.line = out.members.front().second.origin.line;
    return out;
  }
  if (auto* a = n.as_array()) {
    ConfigNode out = ConfigNode::array(o);
    for (auto&& v : *a) out.items.push_back(convert(v, file));
    return out;
  }
  if (auto* s = n.as_string()) return ConfigNode::of(std::string(s->get()), o);
  if (auto* i = n.as_integer()) return ConfigNode::of(static_cast<int64_t>(i->get()), o);
  if (auto* f = n.as_floating_point()) return ConfigNode::of(static_cast<double>(f->get()), o);
  if (auto* b = n.as_boolean()) return ConfigNode::of(static_cast<bool>(b->get()), o);
  // Dates and times: no config field uses them; keep their text so the binder reports a type error.
  std::ostringstream text;
  n.visit([&](auto&& v) { text << v; });
  return ConfigNode::of(text.str(), o);
}

std::string describe(const toml::parse_error& e, const std::string& file) {
  std::ostringstream os;
  os << file << ":" << e.source().begin.line << ":" << e.source().begin.column << ": " << e.description()
     << " (TOML syntax error)";
  return os.str();
}

}  // namespace

ConfigNode parse_toml_string(std::string_view text, const std::string& source_name) {
  try {
    toml::table t = toml::parse(text, source_name);
    ConfigNode root = convert(t, source_name);
    root.origin = Origin{source_name, 0};
    return root;
  } catch (const toml::parse_error& e) {
    throw ConfigError(describe(e, source_name));
  }
}

ConfigNode parse_toml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open recipe (check the path)");
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_toml_string(buf.str(), path);
}

ConfigNode parse_toml_value(std::string_view text, const Origin& origin) {
  try {
    std::string doc = "v = ";
    doc.append(text);
    toml::table t = toml::parse(doc, origin.file);
    if (auto* v = t.get("v"); v && t.size() == 1) {
      ConfigNode n = convert(*v, origin.file);
      n.origin = origin;
      return n;
    }
  } catch (const toml::parse_error&) {
  }
  return ConfigNode::of(std::string(text), origin);
}

}  // namespace r1::experiments
