// rewards/'s one user of the JSON library: option validation, task metadata, the JSON Lines
// protocol of exec plugins.
#include <nlohmann/json.hpp>

#include <cmath>

#include "rewards/reward.h"

namespace r1::rewards {

using Json = nlohmann::json;

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

RewardOptions::RewardOptions(const std::string& json, const std::vector<OptionSpec>& specs, const std::string& where)
    : where_(where) {
  Json j = Json::parse(json.empty() ? "{}" : json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw RewardError(where + ": reward options are not a table");
  for (const auto& s : specs) values_[s.name] = s.fallback;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    const OptionSpec* spec = nullptr;
    for (const auto& s : specs)
      if (s.name == k) spec = &s;
    if (!spec) {
      std::string best;
      size_t best_d = 99;
      for (const auto& s : specs)
        if (size_t d = edit_distance(k, s.name); d < best_d) best_d = d, best = s.name;
      std::string msg = where + ": unknown option '" + k + "'";
      if (!best.empty() && best_d <= std::max<size_t>(2, k.size() / 3)) msg += " (did you mean '" + best + "'?)";
      else if (!specs.empty()) {
        msg += " (options: ";
        for (size_t i = 0; i < specs.size(); ++i) msg += (i ? ", " : "") + specs[i].name;
        msg += ")";
      } else {
        msg += " (this reward takes no options)";
      }
      throw RewardError(msg);
    }
    const Json& v = it.value();
    bool ok = spec->type == "number"    ? v.is_number()
              : spec->type == "integer" ? v.is_number_integer()
              : spec->type == "bool"    ? v.is_boolean()
              : spec->type == "string"  ? v.is_string()
              : spec->type == "strings" ? (v.is_array() && std::all_of(v.begin(), v.end(), [](const Json& x) { return x.is_string(); }))
                                        : true;
    if (!ok) throw RewardError(where + ": option '" + k + "' must be " + (spec->type == "strings" ? "a list of strings" : "a " + spec->type));
    values_[k] = v.dump();
  }
}

double RewardOptions::number(const std::string& k) const { return Json::parse(values_.at(k)).get<double>(); }
int64_t RewardOptions::integer(const std::string& k) const { return Json::parse(values_.at(k)).get<int64_t>(); }
bool RewardOptions::boolean(const std::string& k) const { return Json::parse(values_.at(k)).get<bool>(); }
std::string RewardOptions::string(const std::string& k) const { return Json::parse(values_.at(k)).get<std::string>(); }
std::vector<std::string> RewardOptions::strings(const std::string& k) const {
  return Json::parse(values_.at(k)).get<std::vector<std::string>>();
}

std::string json_quote(const std::string& s) { return Json(s).dump(-1, ' ', false, Json::error_handler_t::replace); }

std::vector<int64_t> json_int_array(const std::string& json, const std::string& key) {
  Json j = Json::parse(json, nullptr, false);
  std::vector<int64_t> out;
  if (j.is_object() && j.contains(key) && j[key].is_array())
    for (const auto& v : j[key])
      if (v.is_number_integer()) out.push_back(v.get<int64_t>());
  return out;
}

bool json_parse_reward_line(const std::string& line, double& reward, std::string& info, std::string& error) {
  Json j = Json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    error = "reply is not a JSON object: " + line.substr(0, 80);
    return false;
  }
  if (j.contains("error") && j["error"].is_string()) {
    error = j["error"].get<std::string>();
    return false;
  }
  if (!j.contains("reward") || !j["reward"].is_number()) {
    error = "reply has no numeric \"reward\"";
    return false;
  }
  reward = j["reward"].get<double>();
  if (!std::isfinite(reward)) {
    error = "reward is not finite";
    return false;
  }
  info = j.contains("info") ? j["info"].dump(-1, ' ', false, Json::error_handler_t::replace) : "{}";
  return true;
}

std::string json_request_line(const TaskRef& t, const CompletionRef& c) {
  Json meta = Json::parse(t.metadata_json.empty() ? "{}" : t.metadata_json, nullptr, false);
  if (meta.is_discarded()) meta = Json::object();
  Json tests = t.tests_json.empty() ? Json() : Json::parse(t.tests_json, nullptr, false);
  if (tests.is_discarded()) tests = t.tests_json;
  Json j = {{"task", {{"id", t.id}, {"prompt", t.prompt}, {"answer", t.answer}, {"verifier", t.verifier}, {"tests", tests}, {"metadata", meta}}},
            {"completion", {{"text", c.text}, {"tokens", c.tokens}, {"finish_reason", c.finish_reason}}}};
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool json_decode_request(const std::string& line, TaskRef& t, CompletionRef& c, std::string& error) {
  Json j = Json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("task") || !j.contains("completion")) {
    error = "request is not {\"task\": ..., \"completion\": ...}";
    return false;
  }
  const Json& tj = j["task"];
  const Json& cj = j["completion"];
  auto str = [](const Json& o, const char* k) -> std::string {
    if (!o.contains(k) || o[k].is_null()) return "";
    return o[k].is_string() ? o[k].get<std::string>() : o[k].dump();
  };
  t.id = str(tj, "id");
  t.prompt = str(tj, "prompt");
  t.answer = str(tj, "answer");
  t.tests_json = str(tj, "tests");
  t.verifier = tj.contains("verifier") ? str(tj, "verifier") : "math";
  t.metadata_json = tj.contains("metadata") ? tj["metadata"].dump() : "{}";
  c.text = cj.is_string() ? cj.get<std::string>() : str(cj, "text");
  c.tokens = cj.is_object() ? cj.value("tokens", int64_t{0}) : 0;
  c.finish_reason = cj.is_object() && cj.contains("finish_reason") ? str(cj, "finish_reason") : "eos";
  return true;
}

}  // namespace r1::rewards
