// The rollout service's handshake. A worker opens with Hello (what it is and what it serves); the
// learner answers Welcome, or Refuse with the reason and closes: another protocol version, another
// model (its config's hash), another tokenizer, or a wrong token. A worker that holds no model yet
// (`r1 rollout worker` on first contact) sends empty hashes and is welcomed with the learner's
// model config and tokenizer files, whose hashes it then presents when it reconnects. A worker on another host must
// present the service's shared token (R1_ROLLOUT_TOKEN, or a file); on loopback none is needed.
//
//   auto hello = wire::Hello{.model_hash = h, .tokenizer_hash = t, .slots = 64};
//   send(FrameType::hello, wire::to_payload(hello));
//   ... learner: if (auto why = wire::refusal(wire::hello_from(payload), expected); !why.empty()) refuse(why);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rollout/wire.h"

namespace r1::rollout::wire {

struct Hello {
  uint32_t protocol = kProtocolVersion;
  std::string model_hash;      // sha256 of the policy's config.json as the worker loaded it
  std::string tokenizer_hash;  // sha256 of its tokenizer.json
  std::string token;           // the shared token ("" on loopback)
  int64_t slots = 1;           // sequences it decodes at once
  int64_t threads = 1;
  std::string device = "cpu";
  std::string name;            // host:pid, for the learner's log
};

// What a worker without a model needs to build one: the texts of the learner's files.
struct ModelFiles {
  std::string config_json;            // the policy's config.json (its weights follow as frames)
  std::string tokenizer_json;         // tokenizer.json
  std::string tokenizer_config_json;  // tokenizer_config.json ("{}" when the folder has none)
  std::string dtype = "float32";      // of the weights it is sent: float32 | bfloat16
  bool record_routing = false;        // MoE: record each position's experts (rl.routing_replay)
};

// rollout.weight_sync = "c10d": the process group a worker joins for the weights (weight_group.h).
struct WeightGroup {
  std::string host;           // rank 0's store (the learner)
  int64_t port = 0;
  int64_t rank = 0, world = 1;
  std::string backend = "gloo";  // gloo | nccl
  double timeout_s = 600;
};

struct Welcome {
  uint32_t protocol = kProtocolVersion;
  int64_t worker_id = 0;
  int64_t weight_version = 0;  // the version it receives before its first request
  double heartbeat_s = 1.0;    // how often each side sends one; 5 missed close the connection
  std::optional<ModelFiles> model;  // sent to a worker whose hello had empty hashes
  bool inflight_update = false;     // apply weights between decode steps, not between batches
  std::optional<WeightGroup> weight_group;  // later versions by c10d broadcast, not on the connection
};

// What the learner accepts. Empty hashes in a hello are accepted too: that worker takes `model`.
struct Expected {
  std::string model_hash, tokenizer_hash;
  std::string token;  // "" = none required (a loopback service)
};

// JSON payloads. The parsers throw WireError naming the missing or mistyped key.
std::string to_payload(const Hello& h);
std::string to_payload(const Welcome& w);
Hello hello_from(std::string_view payload);
Welcome welcome_from(std::string_view payload);

// "" when `hello` is accepted, else the one-line reason the worker is refused (and the learner logs).
std::string refusal(const Hello& hello, const Expected& expected);

// Whether a service bound to `host` must require a token: anything but loopback does.
bool needs_token(std::string_view host);

// Whether the worker that said `hello` asks for the learner's model (it holds none yet).
inline bool wants_model(const Hello& hello) { return hello.model_hash.empty() && hello.tokenizer_hash.empty(); }

}  // namespace r1::rollout::wire
