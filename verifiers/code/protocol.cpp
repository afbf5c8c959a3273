// Encoding of run requests and results, and blocking frame I/O for the worker.
#include "verifiers/code/protocol.h"

#include <errno.h>
#include <unistd.h>

#include <map>
#include <vector>

namespace r1::verifiers::code::wire {

namespace {

// Each message's fields are listed once; `Encode` and `Decode` walk the same list, so the two
// sides cannot drift apart.
struct Encode {
  Writer w;
  void operator()(const std::string& s) { w.str(s); }
  void operator()(double v) { w.f64(v); }
  void operator()(int64_t v) { w.i64(v); }
  void operator()(int v) { w.i64(v); }
  void operator()(bool v) { w.u64(v); }
  void operator()(const std::vector<std::string>& v) {
    w.u64(v.size());
    for (const auto& s : v) w.str(s);
  }
  void operator()(const std::map<std::string, std::string>& m) {
    w.u64(m.size());
    for (const auto& [k, v] : m) w.str(k), w.str(v);
  }
};

struct Decode {
  Reader r;
  static constexpr uint64_t kMaxEntries = 1u << 20;
  void operator()(std::string& s) { s = r.str(); }
  void operator()(double& v) { v = r.f64(); }
  void operator()(int64_t& v) { v = r.i64(); }
  void operator()(int& v) { v = static_cast<int>(r.i64()); }
  void operator()(bool& v) { v = r.u64() != 0; }
  void operator()(std::vector<std::string>& v) {
    uint64_t n = r.u64();
    if (n > kMaxEntries) throw std::runtime_error("sandbox protocol: list too long");
    v.clear();
    for (uint64_t i = 0; i < n; ++i) v.push_back(r.str());
  }
  void operator()(std::map<std::string, std::string>& m) {
    uint64_t n = r.u64();
    if (n > kMaxEntries) throw std::runtime_error("sandbox protocol: map too long");
    m.clear();
    for (uint64_t i = 0; i < n; ++i) {
      std::string k = r.str();
      m[k] = r.str();
    }
  }
};

template <class Walk, class L>
void limits_fields(Walk& f, L& l) {
  f(l.cpu_s), f(l.wall_s), f(l.memory_bytes), f(l.processes), f(l.file_size_bytes), f(l.open_files), f(l.output_bytes);
}

template <class Walk, class Q>
void request_fields(Walk& f, Q& q) {
  f(q.argv), f(q.files), f(q.executable), f(q.stdin_data);
  limits_fields(f, q.limits);
  f(q.return_files);
}

template <class Walk, class X>
void result_fields(Walk& f, X& x) {
  f(x.exit_code), f(x.signal), f(x.cpu_s), f(x.wall_s), f(x.memory_bytes), f(x.wall_timeout), f(x.output_limit);
  f(x.stdout_data), f(x.stderr_data), f(x.files), f(x.error);
}

}  // namespace

std::string encode(const RunRequest& q) {
  Encode e;
  request_fields(e, q);
  return e.w.frame();
}

RunRequest decode_request(const std::string& body) {
  Decode d{Reader(body)};
  RunRequest q;
  request_fields(d, q);
  return q;
}

std::string encode(const RunResult& x) {
  Encode e;
  result_fields(e, x);
  return e.w.frame();
}

RunResult decode_result(const std::string& body) {
  Decode d{Reader(body)};
  RunResult x;
  result_fields(d, x);
  return x;
}

bool write_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

namespace {

bool read_exact(int fd, char* p, size_t n) {
  size_t off = 0;
  while (off < n) {
    ssize_t k = ::read(fd, p + off, n - off);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    off += static_cast<size_t>(k);
  }
  return true;
}

}  // namespace

bool read_frame(int fd, std::string& body) {
  uint64_t n = 0;
  if (!read_exact(fd, reinterpret_cast<char*>(&n), 8)) return false;
  if (n > (1ull << 31)) return false;
  body.resize(n);
  return read_exact(fd, body.data(), n);
}

}  // namespace r1::verifiers::code::wire
