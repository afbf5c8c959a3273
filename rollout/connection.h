// One TCP connection of the rollout service (learner <-> worker), on Boost.Asio: frames in and out
// (wire.h), heartbeats every `heartbeat_s`, and a watchdog that closes a connection from which no
// whole frame arrived for 5 heartbeats. Everything runs on the io_context's thread (one per side);
// send() and close() may be called from any thread. A protocol error closes this connection and
// nothing else, with the reason handed to on_close exactly once.
//
//   auto c = std::make_shared<Connection>(std::move(socket), limits, 1.0);
//   c->start({.on_frame = [](wire::Frame f) { ... }, .on_close = [](const std::string& why) { ... }});
//   c->send(wire::FrameType::request, payload);
#pragma once

#include <utility>  // Boost 1.74's Asio uses std::exchange without including it

#include <boost/asio.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "rollout/wire.h"

namespace r1::rollout {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  struct Handlers {
    std::function<void(wire::Frame)> on_frame;             // every frame but heartbeats and bye
    std::function<void(const std::string& reason)> on_close;  // once, whoever closed
  };

  Connection(boost::asio::ip::tcp::socket socket, wire::FrameLimits limits, double heartbeat_s);
  ~Connection();

  void start(Handlers handlers);
  // Closes the connection unless a frame other than a heartbeat arrives within `seconds` of
  // start() (a candidate worker must say hello). Call before start().
  void expect_first_frame_within(double seconds) { first_frame_s_ = seconds; }
  // For handlers, on the io thread: no more frames are read or handed out (a refused or broken
  // peer); what is queued is still sent.
  void stop_reading() { input_done_ = true; }
  // For handlers, on the io thread: the limits for the next frames, both ways.
  void set_limits(wire::FrameLimits limits) {
    reader_.set_limits(limits);
    writer_.set_limits(limits);
  }
  void send(wire::FrameType type, std::string payload = {});
  // Closes at once ("bye" is not sent: the peer learns it from the socket).
  void close(const std::string& reason);
  // Sends what is queued, then closes: a refusal reaches the worker before the socket goes.
  void close_after_sending(const std::string& reason);
  const std::string& peer() const { return peer_; }

 private:
  void read_more();
  void linger();
  void on_read(const boost::system::error_code& ec, size_t n);
  void write_next();
  void tick();
  void close_now(const std::string& reason);

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  wire::FrameReader reader_;
  wire::FrameWriter writer_;
  double heartbeat_s_;
  Handlers handlers_;
  std::string peer_;
  std::array<char, 64 * 1024> read_buf_{};
  std::deque<std::string> out_;  // encoded frames not yet written
  bool writing_ = false, closed_ = false, input_done_ = false, first_frame_seen_ = false;
  bool reading_ = false;    // an async read is pending
  bool lingering_ = false;  // sent all, shut our side, reading what the peer still sends until it closes
  std::chrono::steady_clock::time_point linger_until_;
  double first_frame_s_ = 0;
  std::chrono::steady_clock::time_point started_;
  std::string close_when_sent_;  // set by close_after_sending: the reason, once the queue drains
  std::chrono::steady_clock::time_point last_heard_;
};

}  // namespace r1::rollout
