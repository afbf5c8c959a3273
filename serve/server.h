// `r1 serve`: the run store as a live dashboard. An HTTP server (Boost.Beast on Boost.Asio) that
// answers JSON endpoints and the embedded web pages from read-only SQLite connections, while runs
// keep writing to the same store (WAL).
//
//   serve::Server server({.db_path = "runs/r1.db", .port = 0});
//   std::cout << server.port();   // the port chosen
//   server.run();                 // until stop() or SIGINT/SIGTERM (with handle_signals)
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

namespace r1::serve {

// A problem with the options (address, token, store), before anything is served.
class ServeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ServeOptions {
  std::string db_path = "runs/r1.db";
  std::string host = "127.0.0.1";
  int port = 8000;                // 0: any free port (see Server::port())
  std::string token;              // required for any address other than loopback
  int workers = 2;                // threads answering requests (queries); the network has one
  int request_timeout_ms = 10000; // a client that has not sent its request by then is dropped
  int sql_time_limit_ms = 2000;   // the SQL box's progress-handler limit
  size_t sql_row_limit = 1000;    // the SQL box's most rows
  int live_poll_ms = 500;         // how often a live stream looks for new rows
  bool handle_signals = false;    // stop on SIGINT / SIGTERM
};

bool is_loopback_host(const std::string& host);

class Server {
 public:
  // Checks the options and the store, and binds the address: throws ServeError.
  explicit Server(ServeOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const;
  void run();   // serves until stop()
  void stop();  // from any thread

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace r1::serve
