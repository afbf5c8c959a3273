// libFuzzer target: arbitrary bytes as a rollout connection's stream, fed in pieces whose sizes the
// input's first bytes choose, through the frame reader and the handshake parsers. Whatever comes
// in, the reader either hands out frames that re-encode to exactly the bytes they came from, or
// throws WireError; it never crashes, reads out of bounds or holds more than one frame's bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "rollout/handshake.h"
#include "rollout/wire.h"

using namespace r1::rollout::wire;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t piece = 1 + data[0] % 64;  // 1..64 bytes per feed()
  const FrameLimits limits{static_cast<uint32_t>(64 + data[1] * 16)};
  const std::string stream(reinterpret_cast<const char*>(data + 2), size - 2);
  FrameReader reader(limits);
  std::string reencoded;
  try {
    for (size_t at = 0; at < stream.size(); at += piece) {
      reader.feed(stream.data() + at, std::min(piece, stream.size() - at));
      while (auto f = reader.next()) {
        if (f->payload.size() > limits.max_payload) __builtin_trap();
        reencoded += encode(*f, limits);
        try {
          if (f->type == FrameType::hello) (void)refusal(hello_from(f->payload), Expected{"m", "t", "token"});
          if (f->type == FrameType::welcome) (void)welcome_from(f->payload);
        } catch (const WireError&) {
        }
      }
    }
    reader.finish();
    if (reencoded != stream) __builtin_trap();  // a whole, valid stream: read exactly as written
  } catch (const WireError&) {
    if (stream.compare(0, reencoded.size(), reencoded) != 0) __builtin_trap();  // the frames before the error were read exactly
  }
  return 0;
}
