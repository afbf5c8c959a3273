// experiments' one user of the JSON library: JSON text -> ConfigNode (reward options round trip).
#include <nlohmann/json.hpp>

#include "experiments/config_binder.h"

namespace r1::experiments {
namespace {

ConfigNode convert(const nlohmann::json& j, const Origin& o) {
  if (j.is_object()) {
    ConfigNode t = ConfigNode::table(o);
    for (auto it = j.begin(); it != j.end(); ++it) t.members.emplace_back(it.key(), convert(it.value(), o));
    return t;
  }
  if (j.is_array()) {
    ConfigNode a = ConfigNode::array(o);
    for (const auto& v : j) a.items.push_back(convert(v, o));
    return a;
  }
  if (j.is_boolean()) return ConfigNode::of(j.get<bool>(), o);
  if (j.is_number_integer()) return ConfigNode::of(j.get<int64_t>(), o);
  if (j.is_number()) return ConfigNode::of(j.get<double>(), o);
  if (j.is_string()) return ConfigNode::of(j.get<std::string>(), o);
  return ConfigNode::of(std::string(), o);
}

}  // namespace

ConfigNode json_to_node(std::string_view json, const Origin& origin) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded()) throw ConfigError(origin.str() + ": invalid JSON options");
  // nlohmann's default object is sorted by key; order only affects display.
  return convert(j, origin);
}

}  // namespace r1::experiments
