// The worker's side of the rollout service: one process (or, in tests, a thread) with its own
// Engine that connects to the learner, says who it is (Hello), takes the weights it is sent and
// samples the groups it is asked for, several at once in one engine batch. Frames are handled in
// the order they came on the connection, so a request always finds the weights sent before it.
// When the connection drops it connects again (the learner restarted, or the network blinked)
// and is sent the current weights anew; a refusal ends it with the learner's reason.
// A worker may start without a model: its hello then has empty hashes, the welcome carries the
// learner's model files, and `adopt` builds the engine from them (`r1 rollout worker`).
//
//   RolloutWorker w(&engine, {.connect = "10.0.0.1:7000", .hello = {...}});
//   w.run(stop);   // until `stop`, or throws ServiceError when refused
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "rollout/engine.h"
#include "rollout/handshake.h"
#include "rollout/remote_messages.h"

namespace r1::rollout {

class RolloutWorker {
 public:
  struct Options {
    std::string connect;              // the learner's rollout service, HOST:PORT
    wire::Hello hello;                // slots, hashes, token, name
    double heartbeat_s = 1.0;
    double retry_s = 1.0;             // between connection attempts
    std::function<void(const std::string&)> log;
    // Builds the engine from the learner's files, and says the hashes to present from then on.
    std::function<Engine&(const wire::ModelFiles&, wire::Hello& hello)> adopt;
  };

  // `engine` may be null when `adopt` is set: the first welcome then supplies the model.
  RolloutWorker(Engine* engine, Options options);
  void run(const std::atomic<bool>& stop);
  int64_t groups_served() const { return groups_served_; }

 private:
  struct Session;
  // One connection, from Hello until it closes; false when `stop` ended it.
  bool serve(const std::atomic<bool>& stop, Session& s);
  void sample(Session& s, const std::vector<GroupRequest>& groups);
  void apply_arrived_weights(Session& s);
  void receive_broadcast(Session& s, const std::string& payload);
  void log(const std::string& line) const;

  Engine* engine_;
  Options options_;
  std::atomic<int64_t> groups_served_{0};
};

}  // namespace r1::rollout
