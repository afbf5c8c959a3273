// The pool <-> worker wire format: a frame is a little-endian u64 length, then the body; bodies
// are flat sequences of u64, f64 and length-prefixed byte strings. Binary-safe (compiled
// programs travel in it) and small enough for the worker to stay a tiny process.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "verifiers/code/sandbox.h"

namespace r1::verifiers::code::wire {

class Writer {
 public:
  void u64(uint64_t v) { out_.append(reinterpret_cast<const char*>(&v), 8); }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f64(double v) { out_.append(reinterpret_cast<const char*>(&v), 8); }
  void str(const std::string& s) {
    u64(s.size());
    out_ += s;
  }
  std::string frame() const {  // length + body
    std::string f(8, '\0');
    uint64_t n = out_.size();
    f.replace(0, 8, reinterpret_cast<const char*>(&n), 8);
    return f + out_;
  }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(const std::string& body) : s_(body) {}
  uint64_t u64() {
    need(8);
    uint64_t v;
    std::memcpy(&v, s_.data() + pos_, 8);
    pos_ += 8;
    return v;
  }
  int64_t i64() { return static_cast<int64_t>(u64()); }
  double f64() {
    need(8);
    double v;
    std::memcpy(&v, s_.data() + pos_, 8);
    pos_ += 8;
    return v;
  }
  std::string str() {
    uint64_t n = u64();
    need(n);
    std::string v = s_.substr(pos_, n);
    pos_ += n;
    return v;
  }

 private:
  void need(uint64_t n) const {
    if (n > s_.size() - pos_) throw std::runtime_error("sandbox protocol: truncated message");
  }
  const std::string& s_;
  size_t pos_ = 0;
};

std::string encode(const RunRequest& r);
RunRequest decode_request(const std::string& body);
std::string encode(const RunResult& r);
RunResult decode_result(const std::string& body);

// Blocking whole-frame I/O on a file descriptor (the worker's side). False on EOF or error.
bool read_frame(int fd, std::string& body);
bool write_all(int fd, const std::string& data);

}  // namespace r1::verifiers::code::wire
