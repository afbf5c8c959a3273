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
    self->last_heard_ = Clock::now();
    boost::system::error_code ec;
    self->socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    self->read_more();
    self->tick();
  });
}

void Connection::read_more() {
  socket_.async_read_some(asio::buffer(read_buf_),
                          [self = shared_from_this()](const boost::system::error_code& ec, size_t n) { self->on_read(ec, n); });
}

void Connection::on_read(const boost::system::error_code& ec, size_t n) {
  if (closed_) return;
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
  last_heard_ = Clock::now();
  while (auto f = reader_.next()) {
    if (f->type == wire::FrameType::heartbeat) continue;
    if (f->type == wire::FrameType::bye) {
      close_now("the peer said bye");
      return;
    }
    if (handlers_.on_frame) handlers_.on_frame(std::move(*f));
    if (closed_) return;  // the handler closed it
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
    if (!close_when_sent_.empty()) close_now(close_when_sent_);
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

// Every heartbeat: send one, and close a connection that has been silent for too long.
void Connection::tick() {
  if (closed_) return;
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
  if (h.on_close) h.on_close(reason);
}

}  // namespace r1::rollout
