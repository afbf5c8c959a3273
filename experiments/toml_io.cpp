// The only file that knows the TOML library (toml++): TOML text -> Value with line numbers.
#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include "experiments/config_tree.h"

namespace r1::experiments {
namespace {

Origin origin_of(const toml::node& n, const std::string& file) {
  return Origin{file, static_cast<int>(n.source().begin.line)};
}

Value with_origin(Value v, Origin o) {
  v.set_origin(std::move(o));
  return v;
}

Value convert(const toml::node& n, const std::string& file) {
  Origin o = origin_of(n, file);
  if (auto* t = n.as_table()) {
    Value out(Value::Object{});
    for (auto&& [k, v] : *t) out.as_object().emplace_back(std::string(k.str()), convert(v, file));
    // A table header's line is where its first key is when toml++ reports none.
    if (o.line == 0 && out.size() > 0) o.line = out.as_object().front().second.origin().line;
    return with_origin(std::move(out), std::move(o));
  }
  if (auto* a = n.as_array()) {
    Value out(Value::Array{});
    for (auto&& v : *a) out.as_array().push_back(convert(v, file));
    return with_origin(std::move(out), std::move(o));
  }
  if (auto* s = n.as_string()) return with_origin(Value(std::string(s->get())), std::move(o));
  if (auto* i = n.as_integer()) return with_origin(Value(static_cast<int64_t>(i->get())), std::move(o));
  if (auto* f = n.as_floating_point()) return with_origin(Value(static_cast<double>(f->get())), std::move(o));
  if (auto* b = n.as_boolean()) return with_origin(Value(static_cast<bool>(b->get())), std::move(o));
  // Dates and times: no config field uses them; keep their text so the binder reports a type error.
  std::ostringstream text;
  n.visit([&](auto&& v) { text << v; });
  return with_origin(Value(text.str()), std::move(o));
}

std::string describe(const toml::parse_error& e, const std::string& file) {
  std::ostringstream os;
  os << file << ":" << e.source().begin.line << ":" << e.source().begin.column << ": " << e.description()
     << " (TOML syntax error)";
  return os.str();
}

}  // namespace

Value parse_toml_string(std::string_view text, const std::string& source_name) {
  try {
    toml::table t = toml::parse(text, source_name);
    return with_origin(convert(t, source_name), Origin{source_name, 0});
  } catch (const toml::parse_error& e) {
    throw ConfigError(describe(e, source_name));
  }
}

Value parse_toml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open recipe (check the path)");
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_toml_string(buf.str(), path);
}

Value parse_toml_value(std::string_view text, const Origin& origin) {
  try {
    std::string doc = "v = ";
    doc.append(text);
    toml::table t = toml::parse(doc, origin.file);
    if (auto* v = t.get("v"); v && t.size() == 1) return with_origin(convert(*v, origin.file), origin);
  } catch (const toml::parse_error&) {
  }
  return with_origin(Value(std::string(text)), origin);
}

}  // namespace r1::experiments
