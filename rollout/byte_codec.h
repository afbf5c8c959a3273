// Fixed-width values and length-prefixed arrays in a byte string, and back with every read
// bounds-checked: the binary payloads between processes (rollout requests and results, weight
// chunks, sample records between ranks). Little-endian, as every host we build for. A payload
// that ends early, or claims more than it holds, is a WireError naming what was read:
// "request: prompt: 1152921504606846976 elements claimed, 12 bytes left".
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "rollout/wire.h"

namespace r1::rollout {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the payload formats are little-endian, as this host must be");

class ByteWriter {
 public:
  template <class T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    raw(&v, sizeof(T));
  }
  template <class T>
  void put_array(const std::vector<T>& v) {
    put<uint64_t>(v.size());
    if (!v.empty()) raw(v.data(), v.size() * sizeof(T));
  }
  void put_string(std::string_view v) {
    put<uint64_t>(v.size());
    raw(v.data(), v.size());
  }
  void raw(const void* p, size_t n) { s_.append(static_cast<const char*>(p), n); }
  std::string take() { return std::move(s_); }

 private:
  std::string s_;
};

class ByteReader {
 public:
  // `what` names the payload in errors ("request", "weights").
  ByteReader(std::string_view s, const char* what) : s_(s), what_(what) {}

  template <class T>
  T get(const char* field) {
    static_assert(std::is_trivially_copyable_v<T>);
    T v;
    std::memcpy(&v, raw(sizeof(T), field), sizeof(T));
    return v;
  }
  template <class T>
  std::vector<T> get_array(const char* field) {
    const uint64_t n = get<uint64_t>(field);
    if (n > (s_.size() - at_) / sizeof(T)) fail(field, std::to_string(n) + " elements claimed, " + std::to_string(s_.size() - at_) + " bytes left");
    std::vector<T> v(n);
    if (n > 0) std::memcpy(v.data(), raw(n * sizeof(T), field), n * sizeof(T));
    return v;
  }
  std::string get_string(const char* field) {
    const uint64_t n = get<uint64_t>(field);
    return std::string(raw(n, field), n);
  }
  // The next `n` bytes, in place.
  const char* raw(size_t n, const char* field) {
    if (s_.size() - at_ < n) fail(field, "the payload ends at byte " + std::to_string(s_.size()));
    const char* p = s_.data() + at_;
    at_ += n;
    return p;
  }
  bool at_end() const { return at_ == s_.size(); }
  void done() const {
    if (!at_end()) throw wire::WireError(std::string(what_) + ": " + std::to_string(s_.size() - at_) + " bytes after the last field");
  }
  [[noreturn]] void fail(const char* field, const std::string& why) const {
    throw wire::WireError(std::string(what_) + ": " + field + ": " + why);
  }

 private:
  std::string_view s_;
  const char* what_;
  size_t at_ = 0;
};

}  // namespace r1::rollout
