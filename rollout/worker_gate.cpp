#include "rollout/worker_gate.h"

#include "rollout/connection.h"

namespace r1::rollout {

namespace asio = boost::asio;

namespace {

constexpr uint32_t kHelloLimit = 16 << 10;  // bytes a connection may send before it is welcomed
constexpr int kMaxCandidates = 64;          // connections waiting to say hello

}  // namespace

struct WorkerGate::Io {
  asio::io_context context;
  asio::ip::tcp::acceptor acceptor{context};
  asio::steady_timer retry{context};
  asio::executor_work_guard<asio::io_context::executor_type> keep{context.get_executor()};
};

std::pair<std::string, uint16_t> parse_host_port(const std::string& text, const std::string& key) {
  const size_t colon = text.rfind(':');
  auto bad = [&](const std::string& why) { return ServiceError(key + " = \"" + text + "\": " + why + " (expected HOST:PORT, e.g. 127.0.0.1:0)"); };
  if (colon == std::string::npos || colon == 0) throw bad("no port");
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535)
    throw bad("\"" + port + "\" is not a port");
  return {host, static_cast<uint16_t>(std::stoi(port))};
}

WorkerGate::WorkerGate(Options options, Events events) : options_(std::move(options)), events_(std::move(events)), io_(std::make_unique<Io>()) {
  const auto [host, port] = parse_host_port(options_.listen, "rollout.listen");
  if (!(options_.heartbeat_s > 0)) throw ServiceError("rollout heartbeat_s must be > 0");
  if (wire::needs_token(host) && options_.expected.token.empty())
    throw ServiceError("rollout.listen = \"" + options_.listen +
                       "\" is reachable from other hosts: set R1_ROLLOUT_TOKEN (or rollout.token_file) to a shared token");
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) throw ServiceError("rollout.listen = \"" + options_.listen + "\": \"" + host + "\" is not an IP address");
  const asio::ip::tcp::endpoint endpoint(address, port);
  auto& a = io_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw ServiceError("rollout.listen = \"" + options_.listen + "\": " + ec.message());
  port_ = a.local_endpoint().port();
  accept_next();
  thread_ = std::thread([this] { io_->context.run(); });
}

// Stops the io thread without running anyone's handlers (the owner is going away); the sockets
// close as the connections are destroyed, before the io_context they live on.
WorkerGate::~WorkerGate() {
  asio::post(io_->context, [this] {
    boost::system::error_code ignored;
    io_->acceptor.close(ignored);
    io_->context.stop();
  });
  thread_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  workers_.clear();
}

void WorkerGate::log(const std::string& line) const {
  if (options_.log) options_.log(line);
}

void WorkerGate::accept_next() {
  io_->acceptor.async_accept([this](const boost::system::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !io_->acceptor.is_open()) return;
    if (ec) {  // out of descriptors, say: say so, and try again in a moment rather than spin
      log("rollout: accepting a connection failed: " + ec.message());
      io_->retry.expires_after(std::chrono::milliseconds(200));
      io_->retry.async_wait([this](const boost::system::error_code& e) {
        if (!e) accept_next();
      });
      return;
    }
    if (candidates_ >= kMaxCandidates) {
      boost::system::error_code ignored;
      log("rollout: refused a connection from " + socket.remote_endpoint(ignored).address().to_string() + ": " +
          std::to_string(kMaxCandidates) + " connections are already waiting to say hello");
      socket.close(ignored);
    } else {
      on_connection(std::make_shared<Connection>(std::move(socket), wire::FrameLimits{kHelloLimit}, options_.heartbeat_s));
    }
    accept_next();
  });
}

// Until its Hello is accepted a connection is only a candidate: its frames go to the handshake.
void WorkerGate::on_connection(std::shared_ptr<Connection> c) {
  std::weak_ptr<Connection> weak = c;
  auto joined = std::make_shared<int64_t>(0);  // its worker id, once accepted
  ++candidates_;
  c->expect_first_frame_within(options_.hello_within_s);
  c->start({.on_frame =
                [this, weak, joined](wire::Frame f) {
                  auto conn = weak.lock();
                  if (!conn) return;
                  if (*joined == 0) {
                    --candidates_;
                    wire::Hello hello;
                    *joined = on_first_frame(conn, std::move(f), hello);
                    if (*joined == 0) {
                      *joined = -1;  // refused: its remaining frames are not read
                      return;
                    }
                    // After *joined is set: if the owner's handler throws, the connection closes
                    // and on_close below takes the worker back out.
                    if (events_.on_join) events_.on_join(*joined, hello);
                    return;
                  }
                  if (f.type == wire::FrameType::hello) {
                    conn->stop_reading();
                    conn->close("protocol error: a second hello");
                    return;
                  }
                  if (events_.on_frame) events_.on_frame(*joined, std::move(f));
                },
            .on_close =
                [this, weak, joined](const std::string& reason) {
                  if (*joined == 0) --candidates_;
                  if (*joined <= 0) {
                    auto conn = weak.lock();
                    if (reason.rfind("refused", 0) != 0)  // a refusal was logged as it was sent
                      log("rollout: connection from " + (conn ? conn->peer() : std::string("?")) + " closed before joining: " + reason);
                    return;
                  }
                  {
                    std::lock_guard<std::mutex> lock(mutex_);
                    workers_.erase(*joined);
                  }
                  log("rollout: worker " + std::to_string(*joined) + " left: " + reason);
                  if (events_.on_leave) events_.on_leave(*joined, reason);
                }});
}

int64_t WorkerGate::on_first_frame(const std::shared_ptr<Connection>& c, wire::Frame f, wire::Hello& hello) {
  auto refuse = [&](const std::string& why) -> int64_t {
    log("rollout: refused " + c->peer() + ": " + why);
    c->stop_reading();  // whatever else it sent (another hello, a guess at the token) is not read
    c->send(wire::FrameType::refuse, why);
    c->close_after_sending("refused: " + why);
    return 0;
  };
  if (f.type != wire::FrameType::hello) return refuse(std::string("the first frame must be hello, not ") + wire::to_string(f.type));
  try {
    hello = wire::hello_from(f.payload);
  } catch (const wire::WireError& e) {
    return refuse(e.what());
  }
  if (const std::string why = wire::refusal(hello, options_.expected); !why.empty()) return refuse(why);
  wire::Welcome w;
  w.worker_id = next_id_++;
  w.weight_version = options_.weight_version ? options_.weight_version() : 0;
  w.heartbeat_s = options_.heartbeat_s;
  w.inflight_update = options_.inflight_update;
  if (wire::wants_model(hello)) {
    if (!options_.model) return refuse("this learner sends no model: start the worker with the learner's model hashes");
    w.model = options_.model;
  }
  if (options_.admit)
    if (const std::string why = options_.admit(hello, w); !why.empty()) return refuse(why);
  c->send(wire::FrameType::welcome, wire::to_payload(w));  // queued before anyone else can send to it
  c->set_limits(options_.limits);
  const int64_t id = w.worker_id;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    workers_[id] = c;
  }
  log("rollout: worker " + std::to_string(id) + " (" + hello.name + ", " + c->peer() + ", " + std::to_string(hello.slots) + " slots) joined");
  return id;
}

void WorkerGate::send(int64_t worker, wire::FrameType type, std::string payload) {
  std::shared_ptr<Connection> c;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = workers_.find(worker);
    if (it == workers_.end()) return;
    c = it->second;
  }
  c->send(type, std::move(payload));
}

void WorkerGate::drop(int64_t worker, const std::string& reason) {
  std::shared_ptr<Connection> c;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = workers_.find(worker);
    if (it == workers_.end()) return;
    c = it->second;
  }
  c->close(reason);
}

size_t WorkerGate::workers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return workers_.size();
}

}  // namespace r1::rollout
