// The network side of `r1 serve`: Boost.Beast sessions on one Asio I/O thread; the routes and
// their SQLite queries run on a small thread pool so a slow SQL-box query never holds up another
// connection. Every read and write has a deadline (slow or silent clients are dropped), header and
// body sizes are limited, and a malformed request gets a 4xx and a closed connection.
#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>

#include "experiments/run_store.h"
#include "serve/routes.h"
#include "serve/server.h"

namespace r1::serve {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kHeaderLimit = 16 * 1024;
constexpr size_t kBodyLimit = 64 * 1024;
constexpr int kMaxLiveStreams = 64;
constexpr auto kWriteTimeout = std::chrono::seconds(30);
constexpr auto kPingEvery = std::chrono::seconds(15);

struct Shared {
  ServeOptions options;
  Api api;
  Router router;
  asio::thread_pool pool;
  std::atomic<int> live_streams{0};
  Shared(const ServeOptions& o)
      : options(o),
        api(o.db_path, ApiLimits{o.sql_time_limit_ms, o.sql_row_limit}),
        router(api, o.token),
        pool(static_cast<size_t>(std::max(1, o.workers))) {}
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Shared& shared)
      : stream_(std::move(socket)), shared_(shared), timer_(stream_.get_executor()) {}
  ~Session() {
    if (live_) --shared_.live_streams;
  }

  void start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
  }

 private:
  void read_request() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    // The whole request must arrive within the timeout: a client that trickles bytes is dropped.
    stream_.expires_after(std::chrono::milliseconds(shared_.options.request_timeout_ms));
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted)
      return close();
    if (ec == http::error::header_limit) return reply_error(431, "request header fields too large");
    if (ec == http::error::body_limit) return reply_error(413, "request body too large");
    if (ec) return reply_error(400, "malformed request: " + ec.message());
    http::request<http::string_body> req = parser_->release();
    Request r;
    r.method = std::string(req.method_string());
    if (!parse_target(std::string_view(req.target().data(), req.target().size()), r)) return reply_error(400, "malformed request target");
    r.authorization = std::string(req[http::field::authorization]);
    r.cookie = std::string(req[http::field::cookie]);
    r.body = std::move(req.body());
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    stream_.expires_never();
    asio::post(shared_.pool, [self = shared_from_this(), r = std::move(r)] {
      Router::Decision d = self->shared_.router.route(r);
      asio::post(self->stream_.get_executor(), [self, d = std::move(d)]() mutable { self->on_routed(std::move(d)); });
    });
  }

  void on_routed(Router::Decision d) {
    if (d.live) return start_live(*d.live);
    write(std::move(d.response), !keep_alive_);
  }

  void write(Response r, bool close_after) {
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), version_);
    res->set(http::field::server, "r1 serve");
    res->set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : security_headers()) res->set(k, v);
    for (const auto& [k, v] : r.headers) res->insert(k, v);
    res->body() = std::move(r.body);
    res->keep_alive(!close_after);
    res->prepare_payload();
    stream_.expires_after(kWriteTimeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res, close_after](beast::error_code ec, size_t) {
      if (ec || close_after) return self->close();
      self->read_request();
    });
  }

  void reply_error(int status, const std::string& message) {
    version_ = 11;
    write(json_error(status, message), /*close_after=*/true);
  }

  void close() {
    beast::error_code ec;
    timer_.cancel();
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

  // --- live stream: server-sent events from the run's new rows --------------------------------
  void start_live(LiveCursor cursor) {
    if (shared_.live_streams.fetch_add(1) >= kMaxLiveStreams) {
      --shared_.live_streams;
      return write(json_error(503, "too many live streams"), true);
    }
    live_ = true;
    cursor_ = std::move(cursor);
    std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n";
    for (const auto& [k, v] : security_headers()) head += k + ": " + v + "\r\n";
    head += "Connection: close\r\n\r\nretry: 1000\n\n";
    write_event(std::move(head));
  }

  void write_event(std::string text) {
    auto buf = std::make_shared<std::string>(std::move(text));
    stream_.expires_after(kWriteTimeout);
    last_write_ = std::chrono::steady_clock::now();
    asio::async_write(stream_, asio::buffer(*buf), [self = shared_from_this(), buf](beast::error_code ec, size_t) {
      if (ec) return self->close();
      self->stream_.expires_never();
      self->schedule_poll();
    });
  }

  void schedule_poll() {
    timer_.expires_after(std::chrono::milliseconds(shared_.options.live_poll_ms));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      asio::post(self->shared_.pool, [self, cursor = self->cursor_]() mutable {
        std::string text;
        try {
          text = self->shared_.router.api().live_poll(cursor);
        } catch (const std::exception& e) {
          text = "event: error\ndata: " + one_line(e.what()) + "\n\n";
        }
        asio::post(self->stream_.get_executor(), [self, cursor, text = std::move(text)]() mutable {
          self->cursor_ = cursor;
          if (text.empty() && std::chrono::steady_clock::now() - self->last_write_ > kPingEvery) text = ": ping\n\n";
          if (text.empty()) return self->schedule_poll();
          self->write_event(std::move(text));
        });
      });
    });
  }

  // An error message as one SSE data line (no newlines can break the event's framing).
  static std::string one_line(std::string s) {
    for (char& c : s)
      if (c == '\n' || c == '\r') c = ' ';
    return s;
  }

  beast::tcp_stream stream_;
  Shared& shared_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = false;
  unsigned version_ = 11;
  bool live_ = false;
  LiveCursor cursor_;
  std::chrono::steady_clock::time_point last_write_;
};

tcp::endpoint resolve(asio::io_context& ioc, const std::string& host, int port) {
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (!ec) return {addr, static_cast<unsigned short>(port)};
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty()) throw ServeError("--host " + host + ": cannot resolve (" + ec.message() + ")");
  return *results.begin();
}

}  // namespace

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  return !ec && addr.is_loopback();
}

struct Server::Impl {
  // Declared before the io_context: sessions still queued in it are destroyed with it, and they
  // refer to the shared state.
  std::unique_ptr<Shared> shared;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  std::optional<asio::signal_set> signals;

  void accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) std::make_shared<Session>(std::move(socket), *shared)->start();
      accept();
    });
  }
};

Server::Server(ServeOptions options) : impl_(std::make_unique<Impl>()) {
  if (!is_loopback_host(options.host) && options.token.empty())
    throw ServeError("--host " + options.host + " is not a loopback address: set --token (or R1_SERVE_TOKEN) so that only holders of it can read the store");
  if (options.port < 0 || options.port > 65535) throw ServeError("--port must be in [0, 65535]");
  // The store must exist and be at the current schema (an older one is migrated once, as every
  // r1 command does); from here on only read-only connections are opened.
  try {
    experiments::RunStore::Options o;
    o.create = false;
    experiments::RunStore::open(options.db_path, o);
  } catch (const std::exception& e) {
    throw ServeError(e.what());
  }
  impl_->shared = std::make_unique<Shared>(options);
  tcp::endpoint ep = resolve(impl_->ioc, options.host, options.port);
  beast::error_code ec;
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw ServeError("cannot listen on " + options.host + ":" + std::to_string(options.port) + ": " + ec.message());
  if (options.handle_signals) {
    impl_->signals.emplace(impl_->ioc, SIGINT, SIGTERM);
    impl_->signals->async_wait([this](beast::error_code, int) { stop(); });
  }
}

Server::~Server() {
  stop();
  impl_->shared->pool.join();
}

int Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::run() {
  asio::post(impl_->shared->pool, [this] { impl_->shared->api.warm_up(); });
  impl_->accept();
  impl_->ioc.run();
}

void Server::stop() {
  impl_->shared->api.stop_warm_up();
  impl_->ioc.stop();
  impl_->shared->pool.stop();
}

}  // namespace r1::serve
