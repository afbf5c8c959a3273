#include "rollout/handshake.h"

#include "text/json_value.h"

namespace r1::rollout::wire {
namespace {

text::Value parse(std::string_view payload, const char* what) {
  try {
    text::Value v = text::parse_json(payload, what);
    if (!v.is_object()) throw WireError(std::string(what) + ": not a JSON object");
    return v;
  } catch (const text::TextError& e) {
    throw WireError(std::string(what) + ": " + e.what());
  }
}

const text::Value& field(const text::Value& v, const char* what, const char* key, bool (text::Value::*is)() const, const char* kind) {
  const text::Value& f = v[key];
  if (!(f.*is)()) throw WireError(std::string(what) + ": \"" + key + "\" is missing or not " + kind);
  return f;
}

std::string str(const text::Value& v, const char* what, const char* key) { return field(v, what, key, &text::Value::is_string, "a string").as_string(); }
int64_t integer(const text::Value& v, const char* what, const char* key) { return field(v, what, key, &text::Value::is_int, "an integer").as_int(); }
double number(const text::Value& v, const char* what, const char* key) { return field(v, what, key, &text::Value::is_number, "a number").as_double(); }
bool boolean(const text::Value& v, const char* what, const char* key) { return field(v, what, key, &text::Value::is_bool, "true or false").as_bool(); }

// An optional member: nullptr when absent (or null), else it must be an object.
const text::Value* object_or_none(const text::Value& v, const char* what, const char* key) {
  const text::Value& o = v[key];
  if (o.is_undefined() || o.is_null()) return nullptr;
  if (!o.is_object()) throw WireError(std::string(what) + ": \"" + key + "\" is not an object");
  return &o;
}

uint32_t protocol_of(const text::Value& v, const char* what) {
  const int64_t p = integer(v, what, "protocol");
  if (p < 0 || p > 0xffffffffLL) throw WireError(std::string(what) + ": protocol " + std::to_string(p) + " is not a version");
  return static_cast<uint32_t>(p);
}

// Compares without stopping at the first difference: the time taken says nothing about the token.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(i < b.size() ? b[i] : 0);
  return diff == 0;
}

}  // namespace

std::string to_payload(const Hello& h) {
  text::Value::Object o = {{"protocol", static_cast<int64_t>(h.protocol)}, {"model_hash", h.model_hash}, {"tokenizer_hash", h.tokenizer_hash},
                           {"token", h.token}, {"slots", h.slots}, {"threads", h.threads}, {"device", h.device}, {"name", h.name}};
  return text::to_json(text::Value(std::move(o)));
}

std::string to_payload(const Welcome& w) {
  text::Value::Object o = {{"protocol", static_cast<int64_t>(w.protocol)}, {"worker_id", w.worker_id}, {"weight_version", w.weight_version},
                           {"heartbeat_s", w.heartbeat_s}, {"inflight_update", w.inflight_update}};
  if (w.model)
    o.emplace_back("model", text::Value(text::Value::Object{{"config_json", w.model->config_json},
                                                 {"tokenizer_json", w.model->tokenizer_json},
                                                 {"tokenizer_config_json", w.model->tokenizer_config_json},
                                                 {"dtype", w.model->dtype},
                                                 {"record_routing", w.model->record_routing}}));
  if (w.weight_group)
    o.emplace_back("weight_group", text::Value(text::Value::Object{{"host", w.weight_group->host},
                                                                   {"port", w.weight_group->port},
                                                                   {"rank", w.weight_group->rank},
                                                                   {"world", w.weight_group->world},
                                                                   {"backend", w.weight_group->backend},
                                                                   {"timeout_s", w.weight_group->timeout_s}}));
  return text::to_json(text::Value(std::move(o)));
}

Hello hello_from(std::string_view payload) {
  const char* what = "hello";
  const text::Value v = parse(payload, what);
  Hello h;
  h.protocol = protocol_of(v, what);
  h.model_hash = str(v, what, "model_hash");
  h.tokenizer_hash = str(v, what, "tokenizer_hash");
  h.token = str(v, what, "token");
  h.slots = integer(v, what, "slots");
  h.threads = integer(v, what, "threads");
  h.device = str(v, what, "device");
  h.name = str(v, what, "name");
  if (h.slots < 1) throw WireError("hello: slots " + std::to_string(h.slots) + " (a worker decodes at least one sequence)");
  return h;
}

Welcome welcome_from(std::string_view payload) {
  const char* what = "welcome";
  const text::Value v = parse(payload, what);
  Welcome w;
  w.protocol = protocol_of(v, what);
  w.worker_id = integer(v, what, "worker_id");
  w.weight_version = integer(v, what, "weight_version");
  w.heartbeat_s = number(v, what, "heartbeat_s");
  if (!(w.heartbeat_s > 0)) throw WireError("welcome: heartbeat_s must be > 0");
  if (v.contains("inflight_update")) w.inflight_update = boolean(v, what, "inflight_update");
  if (const text::Value* m = object_or_none(v, what, "model")) {
    const char* mwhat = "welcome.model";
    w.model = ModelFiles{str(*m, mwhat, "config_json"), str(*m, mwhat, "tokenizer_json"), str(*m, mwhat, "tokenizer_config_json"),
                         str(*m, mwhat, "dtype"), boolean(*m, mwhat, "record_routing")};
    if (w.model->dtype != "float32" && w.model->dtype != "bfloat16") throw WireError("welcome.model: dtype \"" + w.model->dtype + "\" is not float32 or bfloat16");
  }
  if (const text::Value* g = object_or_none(v, what, "weight_group")) {
    const char* gwhat = "welcome.weight_group";
    WeightGroup wg{str(*g, gwhat, "host"), integer(*g, gwhat, "port"), integer(*g, gwhat, "rank"), integer(*g, gwhat, "world"), str(*g, gwhat, "backend"),
                   number(*g, gwhat, "timeout_s")};
    if (wg.port < 1 || wg.port > 65535 || wg.world < 2 || wg.rank < 1 || wg.rank >= wg.world || (wg.backend != "gloo" && wg.backend != "nccl") ||
        !(wg.timeout_s > 0))
      throw WireError("welcome.weight_group: port " + std::to_string(wg.port) + ", rank " + std::to_string(wg.rank) + " of " + std::to_string(wg.world) +
                      ", backend " + wg.backend + " is not a group a worker can join");
    w.weight_group = wg;
  }
  return w;
}

std::string refusal(const Hello& h, const Expected& e) {
  if (h.protocol != kProtocolVersion)
    return "protocol version " + std::to_string(h.protocol) + ", but this learner speaks version " + std::to_string(kProtocolVersion);
  if (!e.token.empty() && !same_secret(h.token, e.token)) return "wrong token (set R1_ROLLOUT_TOKEN, or --token-file, to the service's)";
  if (wants_model(h)) return "";  // it will take the learner's model from the welcome
  if (h.model_hash != e.model_hash)
    return "model config " + h.model_hash.substr(0, 12) + " differs from the learner's " + e.model_hash.substr(0, 12);
  if (h.tokenizer_hash != e.tokenizer_hash)
    return "tokenizer " + h.tokenizer_hash.substr(0, 12) + " differs from the learner's " + e.tokenizer_hash.substr(0, 12);
  return "";
}

bool needs_token(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return false;
  if (host.substr(0, 4) != "127.") return true;
  for (char c : host)  // an address in 127.0.0.0/8, not a name that starts with "127."
    if (c != '.' && (c < '0' || c > '9')) return true;
  return false;
}

}  // namespace r1::rollout::wire
