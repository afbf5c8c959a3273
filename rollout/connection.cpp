#include "rollout/connection.h"

namespace r1::rollout {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kMissedHeartbeats = 5;  // silence this long closes the connection

std::string endpoint_of(const asio::ip::tcp::socket& s) {
  boost::system::error_code ec;
  auto ep = s.remote_endpoint(ec);
  return ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

Connection::Connection(asio::ip::tcp::socket socket, wire::FrameLimits limits, double heartbeat_s)
    : socket_(std::move(socket)), timer_(socket_.get_executor()), reader_(limits), writer_(limits), heartbeat_s_(heartbeat_s),
      peer_(endpoint_of(socket_)) {}

Connection::~Connection() = default;

void Connection::start(Handlers handlers) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), h = std::move(handlers)]() mutable {
    self->handlers_ = std::move(h);
    self->last_heard_ = self->started_ = Clock::now();
    boost::system::error_code ec;
    self->socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    self->read_more();
    self->tick();
  });
}

void Connection::read_more() {
  reading_ = true;
  socket_.async_read_some(asio::buffer(read_buf_),
                          [self = shared_from_this()](const boost::system::error_code& ec, size_t n) { self->on_read(ec, n); });
}

void Connection::on_read(const boost::system::error_code& ec, size_t n) {
  reading_ = false;
  if (closed_) return;
  if (lingering_) {  // discard, until the peer closes too or the linger ends
    if (ec || Clock::now() > linger_until_) close_now(close_when_sent_);
    else read_more();
    return;
  }
  if (input_done_) return;
  if (ec) {
    close_now(ec == asio::error::eof ? "the peer closed the connection" : "read failed: " + ec.message());
    return;
  }
  try {
    reader_.feed(read_buf_.data(), n);
  } catch (const wire::WireError& e) {
    close_now(std::string("protocol error: ") + e.what());
    return;
  }
  while (auto f = reader_.next()) {
    last_heard_ = Clock::now();  // whole frames only: trickled bytes do not keep a connection alive
    if (f->type == wire::FrameType::heartbeat) continue;
    if (f->type == wire::FrameType::bye) {
      close_now("the peer said bye");
      return;
    }
    first_frame_seen_ = true;
    try {
      if (handlers_.on_frame) handlers_.on_frame(std::move(*f));
    } catch (const std::exception& e) {  // the learner or worker must not die of one peer's frame
      close_now(std::string("error handling a ") + wire::to_string(f->type) + " frame: " + e.what());
      return;
    }
    if (closed_ || input_done_) return;  // the handler refused or dropped this peer
  }
  read_more();
}

void Connection::send(wire::FrameType type, std::string payload) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), type, p = std::move(payload)]() mutable {
    if (self->closed_ || !self->close_when_sent_.empty()) return;
    try {
      self->out_.push_back(self->writer_.write(type, std::move(p)));
    } catch (const wire::WireError& e) {
      self->close_now(std::string("cannot send: ") + e.what());
      return;
    }
    self->write_next();
  });
}

void Connection::write_next() {
  if (writing_ || closed_) return;
  if (out_.empty()) {
    if (!close_when_sent_.empty() && !lingering_) linger();
    return;
  }
  writing_ = true;
  asio::async_write(socket_, asio::buffer(out_.front()), [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
    self->writing_ = false;
    if (self->closed_) return;
    if (ec) {
      self->close_now("write failed: " + ec.message());
      return;
    }
    self->out_.pop_front();
    self->write_next();
  });
}

// Everything is sent: shut our side and read (discarding) until the peer closes, for at most 2 s.
// Closing with its bytes unread would answer them with a reset, which can destroy the refusal
// we just sent before the peer reads it.
void Connection::linger() {
  lingering_ = true;
  linger_until_ = Clock::now() + std::chrono::seconds(2);
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  if (!reading_) read_more();
}

// Every heartbeat: send one, and close a connection that has been silent for too long.
void Connection::tick() {
  if (closed_) return;
  if (lingering_ && Clock::now() > linger_until_) {
    close_now(close_when_sent_);
    return;
  }
  const double alive = std::chrono::duration<double>(Clock::now() - started_).count();
  if (first_frame_s_ > 0 && !first_frame_seen_ && alive > first_frame_s_) {
    close_now("nothing but heartbeats for " + std::to_string(static_cast<int>(alive)) + " s");
    return;
  }
  const double silent = std::chrono::duration<double>(Clock::now() - last_heard_).count();
  if (silent > kMissedHeartbeats * heartbeat_s_) {
    close_now("no frame for " + std::to_string(static_cast<int>(silent)) + " s (" + std::to_string(kMissedHeartbeats) + " heartbeats missed)");
    return;
  }
  if (close_when_sent_.empty()) {
    out_.push_back(writer_.write(wire::FrameType::heartbeat));
    write_next();
  }
  timer_.expires_after(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(heartbeat_s_)));
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->tick();
  });
}

void Connection::close(const std::string& reason) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), reason] { self->close_now(reason); });
}

void Connection::close_after_sending(const std::string& reason) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), reason] {
    if (self->closed_) return;
    self->close_when_sent_ = reason.empty() ? "closed" : reason;
    self->write_next();
  });
}

void Connection::close_now(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  timer_.cancel();
  Handlers h = std::move(handlers_);  // dropped after: they may hold what holds this connection
  handlers_ = {};
  try {
    if (h.on_close) h.on_close(reason);
  } catch (const std::exception&) {
    // The owner's bookkeeping failed; the connection is closed either way.
  }
}

}  // namespace r1::rollout
