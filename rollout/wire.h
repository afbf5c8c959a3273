// The rollout service's wire format: how the learner and `r1 rollout worker` processes talk over
// TCP. Every message is one frame, a fixed header and a payload:
//
//   offset  size  field
//   0       4     magic "R1RW"
//   4       1     type (FrameType)
//   5       3     reserved, zero
//   8       8     seq: 0, 1, 2, ... per direction of a connection (a gap or repeat is refused)
//   16      4     payload length (bounded: FrameLimits::max_payload)
//   20      4     CRC-32C of bytes 0..19 and the payload
//
// all little-endian. FrameReader takes bytes as they arrive (any split) and hands out whole
// frames; anything else (garbage, a corrupted or oversized frame, frames out of order) is a
// WireError naming what was wrong, after which the connection is closed and nothing else is
// affected. The handshake's messages are JSON payloads; weights and completions go as bytes.
// No torch here: the parser is a fuzz target (fuzz/fuzz_rollout_frames.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace r1::rollout::wire {

// A peer broke the protocol: the connection it came on is closed with this reason.
class WireError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Version 2 (model files in the welcome, per-token versions in results, weights_c10d). A peer
// speaking another version is refused at the handshake, with both numbers.
constexpr uint32_t kProtocolVersion = 2;
constexpr size_t kHeaderBytes = 24;

enum class FrameType : uint8_t {
  hello = 1,      // worker -> learner: who it is, what it serves (Hello)
  welcome = 2,    // learner -> worker: accepted (Welcome)
  refuse = 3,     // learner -> worker: not accepted, with the reason; the learner then closes
  heartbeat = 4,  // both ways, empty: the peer is alive
  weights = 5,    // learner -> worker: a chunk of a weight version
  request = 6,    // learner -> worker: a group to sample
  result = 7,     // worker -> learner: a group's completions
  bye = 8,        // either way: closing on purpose
  weights_c10d = 9,  // learner -> worker: the version (8 bytes) that follows as a c10d broadcast
};
const char* to_string(FrameType t);

struct Frame {
  FrameType type = FrameType::heartbeat;
  uint64_t seq = 0;
  std::string payload;
};

struct FrameLimits {
  uint32_t max_payload = 64u << 20;  // a weights chunk is at most this; anything larger is refused
};

// CRC-32C (Castagnoli), as iSCSI and ext4 use; `crc` continues an earlier call's value.
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);
// The same by table lookups alone (what crc32c() uses without SSE4.2); for tests to compare.
uint32_t crc32c_portable(const void* data, size_t n, uint32_t crc = 0);

// The frame's bytes, header first. Throws WireError when the payload is over `limits`.
std::string encode(const Frame& frame, const FrameLimits& limits = {});

// Frames out of a byte stream, in order. Holds the bytes of at most one unfinished frame, and the
// whole frames of the last feed() until next() takes them.
class FrameReader {
 public:
  explicit FrameReader(FrameLimits limits = {}) : limits_(limits) {}

  // Takes the next bytes of the stream (any number, split anywhere). Throws WireError at the first
  // byte that cannot be part of a valid frame; the reader is then spent.
  void feed(const char* data, size_t n);
  void feed(std::string_view bytes) { feed(bytes.data(), bytes.size()); }
  // The next whole frame, if one has arrived.
  std::optional<Frame> next();
  // The stream ended: throws WireError when it stopped inside a frame (a truncated frame).
  void finish() const;
  uint64_t frames_read() const { return expected_seq_; }
  // From the next frame on (a connection allows larger frames once its peer is known).
  void set_limits(FrameLimits limits) { limits_ = limits; }

 private:
  void check_header();

  FrameLimits limits_;
  std::string buffer_;         // bytes of the frame being read
  std::deque<Frame> whole_;    // read, not yet taken
  uint32_t payload_len_ = 0;
  bool header_checked_ = false;
  bool spent_ = false;
  uint64_t expected_seq_ = 0;
};

// Numbers a connection's outgoing frames (seq 0, 1, 2, ...) and encodes them.
class FrameWriter {
 public:
  explicit FrameWriter(FrameLimits limits = {}) : limits_(limits) {}
  std::string write(FrameType type, std::string payload = {});
  void set_limits(FrameLimits limits) { limits_ = limits; }

 private:
  FrameLimits limits_;
  uint64_t seq_ = 0;
};

}  // namespace r1::rollout::wire
