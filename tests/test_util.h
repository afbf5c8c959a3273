// Helpers shared by the test suites: temporary folders, running the `r1` binary, and finding
// ../shared (tests that need it skip with a message when it is absent).
#pragma once

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace r1::test {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("r1test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read, closed).
inline int free_loopback_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0) port = ntohs(a.sin_port);
  close(s);
  return port;
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs `r1 ARGS` (already shell-quoted as needed) in `cwd`, capturing stdout and stderr.
inline CommandResult run_r1(const std::string& args, const std::string& cwd = ".", const std::string& stdin_text = "") {
  static int counter = 0;
  fs::path base = fs::temp_directory_path() / ("r1cmd-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  std::string out = base.string() + ".out", err = base.string() + ".err", in = base.string() + ".in";
  write_file(in, stdin_text);
  std::string cmd = "cd " + shell_quote(cwd) + " && " + shell_quote(R1_BINARY) + " " + args + " <" + shell_quote(in) +
                    " >" + shell_quote(out) + " 2>" + shell_quote(err);
  int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(out);
  r.err = read_file(err);
  fs::remove(out);
  fs::remove(err);
  fs::remove(in);
  return r;
}

inline int count_lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// ../shared (or $R1_SHARED); empty when absent.
inline std::string shared_dir() {
  const char* env = std::getenv("R1_SHARED");
  std::string dir = env && *env ? env : R1_SHARED_DEFAULT;
  return fs::exists(dir + "/datasets") ? dir : std::string();
}

}  // namespace r1::test

// Skips the rest of a test case when ../shared is missing (a user's clone has none).
#define R1_REQUIRE_SHARED(dir)                                                          \
  std::string dir = r1::test::shared_dir();                                             \
  if (dir.empty()) {                                                                    \
    MESSAGE("skipped: ../shared not found (set R1_SHARED to run this check)");          \
    return;                                                                             \
  }
