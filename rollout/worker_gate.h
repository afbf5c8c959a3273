// The learner's door for rollout workers: it listens (rollout.listen), gives every connection the
// handshake (handshake.h) and keeps the workers it accepted. A worker's first frame must be
// Hello; the gate answers Welcome (its worker id and the current weight version) or Refuse with
// the reason, which it also logs, and closes. Until then a connection may send 16 KiB, must say
// hello within `hello_within_s`, and at most 64 may be waiting. Garbage, a broken frame or silence
// (5 heartbeats) closes that one connection; the others go on. One io thread runs every connection.
//
//   WorkerGate gate({.listen = "127.0.0.1:0", .expected = {model_hash, tokenizer_hash, token}},
//                   {.on_join = ..., .on_frame = ..., .on_leave = ...});
//   std::cout << "rollout service on port " << gate.port();
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "rollout/handshake.h"
#include "rollout/wire.h"

namespace r1::rollout {

class Connection;

// The service cannot start as configured (an address that does not parse or bind, no token
// for an address beyond loopback): one line naming the key.
class ServiceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "host:port" or "[v6]:port" -> {host, port}. Throws ServiceError naming `key`.
std::pair<std::string, uint16_t> parse_host_port(const std::string& text, const std::string& key);

class WorkerGate {
 public:
  struct Options {
    std::string listen = "127.0.0.1:0";
    wire::Expected expected;          // a token is required when `listen` is not loopback
    double heartbeat_s = 1.0;
    double hello_within_s = 10;       // a connection that has not said hello by then is closed
    wire::FrameLimits limits;         // once welcomed (before: 16 KiB)
    std::function<int64_t()> weight_version;          // for Welcome (0 when unset)
    std::function<void(const std::string&)> log;      // joins, refusals, departures
    std::optional<wire::ModelFiles> model;            // for workers without one (empty hashes in hello)
    bool inflight_update = false;                     // told to every worker in its welcome
    // The owner's last word on a worker about to be welcomed: fills in the welcome (a weight
    // group rank, say) or returns the reason it is refused. On the io thread.
    std::function<std::string(const wire::Hello&, wire::Welcome&)> admit;
  };
  struct Events {  // on the gate's io thread
    std::function<void(int64_t worker, const wire::Hello&)> on_join;
    std::function<void(int64_t worker, wire::Frame)> on_frame;
    std::function<void(int64_t worker, const std::string& reason)> on_leave;
  };

  WorkerGate(Options options, Events events);
  ~WorkerGate();
  WorkerGate(const WorkerGate&) = delete;
  WorkerGate& operator=(const WorkerGate&) = delete;

  uint16_t port() const { return port_; }
  // To an accepted worker; a worker that has left is skipped (its groups are re-issued by the caller).
  void send(int64_t worker, wire::FrameType type, std::string payload);
  // Closes an accepted worker's connection (its on_leave follows, with `reason`).
  void drop(int64_t worker, const std::string& reason);
  size_t workers() const;

 private:
  struct Io;
  void accept_next();
  void on_connection(std::shared_ptr<Connection> c);
  // The handshake: the new worker's id (its hello in `hello`), or 0 when it was refused.
  int64_t on_first_frame(const std::shared_ptr<Connection>& c, wire::Frame f, wire::Hello& hello);
  void log(const std::string& line) const;

  Options options_;
  Events events_;
  std::unique_ptr<Io> io_;
  uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::map<int64_t, std::shared_ptr<Connection>> workers_;
  int64_t next_id_ = 1;             // io thread only
  int candidates_ = 0;              // connections not yet welcomed nor refused (io thread only)
  std::thread thread_;
};

}  // namespace r1::rollout
