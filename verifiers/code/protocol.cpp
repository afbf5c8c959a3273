// Encoding of run requests and results, and blocking frame I/O for the worker.
#include "verifiers/code/protocol.h"

#include <errno.h>
#include <unistd.h>

namespace r1::verifiers::code::wire {

namespace {

void put_limits(Writer& w, const Limits& l) {
  w.f64(l.cpu_s);
  w.f64(l.wall_s);
  w.i64(l.memory_bytes);
  w.i64(l.processes);
  w.i64(l.file_size_bytes);
  w.i64(l.open_files);
  w.i64(l.output_bytes);
}

Limits get_limits(Reader& r) {
  Limits l;
  l.cpu_s = r.f64();
  l.wall_s = r.f64();
  l.memory_bytes = r.i64();
  l.processes = r.i64();
  l.file_size_bytes = r.i64();
  l.open_files = r.i64();
  l.output_bytes = r.i64();
  return l;
}

void put_list(Writer& w, const std::vector<std::string>& v) {
  w.u64(v.size());
  for (const auto& s : v) w.str(s);
}

std::vector<std::string> get_list(Reader& r) {
  uint64_t n = r.u64();
  if (n > (1u << 20)) throw std::runtime_error("sandbox protocol: list too long");
  std::vector<std::string> v;
  for (uint64_t i = 0; i < n; ++i) v.push_back(r.str());
  return v;
}

void put_map(Writer& w, const std::map<std::string, std::string>& m) {
  w.u64(m.size());
  for (const auto& [k, v] : m) {
    w.str(k);
    w.str(v);
  }
}

std::map<std::string, std::string> get_map(Reader& r) {
  uint64_t n = r.u64();
  if (n > (1u << 20)) throw std::runtime_error("sandbox protocol: map too long");
  std::map<std::string, std::string> m;
  for (uint64_t i = 0; i < n; ++i) {
    std::string k = r.str();
    m[k] = r.str();
  }
  return m;
}

}  // namespace

std::string encode(const RunRequest& q) {
  Writer w;
  put_list(w, q.argv);
  put_map(w, q.files);
  put_list(w, q.executable);
  w.str(q.stdin_data);
  put_limits(w, q.limits);
  put_list(w, q.return_files);
  return w.frame();
}

RunRequest decode_request(const std::string& body) {
  Reader r(body);
  RunRequest q;
  q.argv = get_list(r);
  q.files = get_map(r);
  q.executable = get_list(r);
  q.stdin_data = r.str();
  q.limits = get_limits(r);
  q.return_files = get_list(r);
  return q;
}

std::string encode(const RunResult& x) {
  Writer w;
  w.i64(x.exit_code);
  w.i64(x.signal);
  w.f64(x.cpu_s);
  w.f64(x.wall_s);
  w.i64(x.memory_bytes);
  w.u64(x.wall_timeout);
  w.u64(x.output_limit);
  w.str(x.stdout_data);
  w.str(x.stderr_data);
  put_map(w, x.files);
  w.str(x.error);
  return w.frame();
}

RunResult decode_result(const std::string& body) {
  Reader r(body);
  RunResult x;
  x.exit_code = static_cast<int>(r.i64());
  x.signal = static_cast<int>(r.i64());
  x.cpu_s = r.f64();
  x.wall_s = r.f64();
  x.memory_bytes = r.i64();
  x.wall_timeout = r.u64() != 0;
  x.output_limit = r.u64() != 0;
  x.stdout_data = r.str();
  x.stderr_data = r.str();
  x.files = get_map(r);
  x.error = r.str();
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
