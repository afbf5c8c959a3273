// The rollout service's wire format and handshake: frames survive any split of the stream; garbage,
// corruption (every single-bit flip of a frame), oversized, truncated and out-of-order frames are
// refused with the reason; the handshake refuses another protocol, model, tokenizer or token.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "rollout/handshake.h"
#include "rollout/wire.h"

using namespace r1::rollout::wire;

namespace {

std::string all_byte_values(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 7 + 3);
  return s;
}

// Three frames as one connection writes them.
std::string sample_stream(std::vector<Frame>& sent) {
  FrameWriter w;
  sent = {{FrameType::hello, 0, to_payload(Hello{.model_hash = "m", .tokenizer_hash = "t", .slots = 8})},
          {FrameType::weights, 1, all_byte_values(100000)},
          {FrameType::heartbeat, 2, ""}};
  std::string bytes;
  for (const Frame& f : sent) bytes += w.write(f.type, f.payload);
  return bytes;
}

std::vector<Frame> drain(FrameReader& r) {
  std::vector<Frame> out;
  while (auto f = r.next()) out.push_back(std::move(*f));
  return out;
}

void check_same(const std::vector<Frame>& got, const std::vector<Frame>& sent) {
  REQUIRE(got.size() == sent.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].type == sent[i].type);
    CHECK(got[i].seq == i);
    CHECK(got[i].payload == sent[i].payload);
  }
}

// The error a stream ends with: thrown by feed(), or by finish() when the stream stops inside a
// frame; "" when it was read as valid frames.
std::string error_of(const std::string& bytes, std::vector<Frame>* frames = nullptr, FrameLimits limits = {}) {
  FrameReader r(limits);
  try {
    r.feed(bytes);
    auto got = drain(r);
    if (frames) *frames = got;
    r.finish();
  } catch (const WireError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("CRC-32C matches the standard check value") {
  CHECK(crc32c("123456789", 9) == 0xE3069283u);
  CHECK(crc32c("6789", 4, crc32c("12345", 5)) == 0xE3069283u);  // continued over two calls
  CHECK(crc32c_portable("123456789", 9) == 0xE3069283u);
  // The instruction path (8 bytes at a time, then the tail) and the table agree at every length
  // and alignment, continued or not.
  std::string bytes(1031, '\0');
  uint32_t x = 12345;
  for (auto& c : bytes) c = static_cast<char>((x = x * 1103515245u + 12345u) >> 16);
  for (size_t start : {0, 1, 3, 7})
    for (size_t n : {0, 1, 7, 8, 9, 15, 16, 17, 1000}) {
      CHECK(crc32c(bytes.data() + start, n) == crc32c_portable(bytes.data() + start, n));
      CHECK(crc32c(bytes.data() + start, n, 0xdeadbeefu) == crc32c_portable(bytes.data() + start, n, 0xdeadbeefu));
    }
}

TEST_CASE("frames come out whole and in order however the stream is split") {
  std::vector<Frame> sent;
  const std::string bytes = sample_stream(sent);
  SUBCASE("at once") {
    FrameReader r;
    r.feed(bytes);
    check_same(drain(r), sent);
    r.finish();
    CHECK(r.frames_read() == 3);
  }
  SUBCASE("byte by byte, taking frames as they come") {
    FrameReader r;
    std::vector<Frame> got;
    for (char c : bytes) {
      r.feed(&c, 1);
      while (auto f = r.next()) got.push_back(std::move(*f));
    }
    check_same(got, sent);
  }
  SUBCASE("random splits") {
    std::mt19937 rng(7);
    for (int round = 0; round < 20; ++round) {
      FrameReader r;
      size_t at = 0;
      while (at < bytes.size()) {
        const size_t n = std::min<size_t>(bytes.size() - at, 1 + rng() % 5000);
        r.feed(bytes.data() + at, n);
        at += n;
      }
      check_same(drain(r), sent);
    }
  }
}

TEST_CASE("every single-bit flip of a frame is refused, never read as a frame") {
  FrameWriter w;
  const std::string frame = w.write(FrameType::request, "{\"group\": 3}");
  int refused_at_feed = 0, truncated = 0;
  for (size_t bit = 0; bit < frame.size() * 8; ++bit) {
    std::string bad = frame;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    std::vector<Frame> got;
    const std::string err = error_of(bad, &got);
    INFO("bit " << bit << ": " << err);
    CHECK(got.empty());
    CHECK(!err.empty());
    (err.find("ended inside") != std::string::npos ? truncated : refused_at_feed)++;
  }
  CHECK(truncated > 0);  // a larger length: the reader waits for bytes that never come
  CHECK(refused_at_feed > truncated);
}

TEST_CASE("garbage, oversized, truncated, out-of-order and repeated frames: one line each") {
  CHECK(error_of("GET / HTTP/1.1\r\nHost: x\r\n\r\n") == "not a rollout frame (magic 0x20544547)");
  // The length is judged from the header alone: nothing of the payload need arrive.
  FrameWriter big;
  const std::string frame = big.write(FrameType::weights, std::string(2048, 'w'));
  CHECK(error_of(frame.substr(0, kHeaderBytes), nullptr, FrameLimits{1024}) == "a frame of 2048 bytes is over the limit of 1024");
  CHECK_THROWS_WITH_AS(FrameWriter(FrameLimits{1024}).write(FrameType::weights, std::string(2048, 'w')),
                       "a weights frame of 2048 bytes is over the limit of 1024", WireError);
  CHECK(error_of(frame.substr(0, 100)) == "the stream ended inside frame 0 (100 of 2072 bytes)");
  CHECK(error_of(frame.substr(0, 10)) == "the stream ended inside frame 0 (10 of 24 bytes)");

  FrameWriter w;
  const std::string f0 = w.write(FrameType::heartbeat), f1 = w.write(FrameType::heartbeat), f2 = w.write(FrameType::heartbeat);
  std::vector<Frame> got;
  CHECK(error_of(f0 + f2, &got) == "frame 2 arrived where frame 1 was expected");
  CHECK(error_of(f0 + f0) == "frame 0 arrived where frame 1 was expected");
  CHECK(error_of(f1) == "frame 1 arrived where frame 0 was expected");
  CHECK(error_of(f0 + f1 + f2).empty());

  std::string unknown = f0;
  unknown[4] = 99;
  CHECK(error_of(unknown) == "unknown frame type 99");
  std::string reserved = f0;
  reserved[6] = 1;
  CHECK(error_of(reserved) == "reserved header bytes are not zero");

  // After an error the reader takes nothing more.
  FrameReader r;
  CHECK_THROWS_AS(r.feed("garbage, and more of it"), WireError);
  CHECK_THROWS_WITH_AS(r.feed(f0), "the stream already broke the protocol", WireError);
}

TEST_CASE("handshake: hello and welcome round-trip; the learner refuses another protocol, model, tokenizer or token") {
  Hello h{.model_hash = "aaaaaaaaaaaaaaaa1", .tokenizer_hash = "bbbbbbbbbbbbbbbb2", .token = "s3cret", .slots = 64, .threads = 2,
          .device = "cpu", .name = "node3:4242"};
  const Hello back = hello_from(to_payload(h));
  CHECK(back.protocol == kProtocolVersion);
  CHECK(back.model_hash == h.model_hash);
  CHECK(back.tokenizer_hash == h.tokenizer_hash);
  CHECK(back.token == "s3cret");
  CHECK(back.slots == 64);
  CHECK(back.threads == 2);
  CHECK(back.name == "node3:4242");
  const Welcome w = welcome_from(to_payload(Welcome{.worker_id = 3, .weight_version = 17, .heartbeat_s = 0.5}));
  CHECK(w.worker_id == 3);
  CHECK(w.weight_version == 17);
  CHECK(w.heartbeat_s == 0.5);
  CHECK(!w.model);
  const Welcome with_model = welcome_from(to_payload(Welcome{.worker_id = 4, .model = ModelFiles{"{\"hidden_size\": 8}", "{\"model\": {}}", "{}"}}));
  REQUIRE(with_model.model);
  CHECK(with_model.model->config_json == "{\"hidden_size\": 8}");
  CHECK(with_model.model->tokenizer_json == "{\"model\": {}}");
  CHECK(with_model.model->tokenizer_config_json == "{}");
  CHECK_THROWS_WITH_AS(welcome_from("{\"protocol\": 1, \"worker_id\": 1, \"weight_version\": 0, \"heartbeat_s\": 1, \"model\": 3}"),
                       "welcome: \"model\" is not an object", WireError);
  CHECK_THROWS_WITH_AS(welcome_from("{\"protocol\": 1, \"worker_id\": 1, \"weight_version\": 0, \"heartbeat_s\": 1, \"model\": {}}"),
                       "welcome.model: \"config_json\" is missing or not a string", WireError);

  const Expected ok{.model_hash = h.model_hash, .tokenizer_hash = h.tokenizer_hash, .token = "s3cret"};
  CHECK(refusal(h, ok).empty());
  CHECK(refusal(h, Expected{h.model_hash, h.tokenizer_hash, ""}).empty());  // loopback: no token asked
  Hello fresh = h;  // no model yet: it takes the learner's, so no hash can differ (the token still counts)
  fresh.model_hash = fresh.tokenizer_hash = "";
  CHECK(wants_model(fresh));
  CHECK(refusal(fresh, ok).empty());
  fresh.token = "guess";
  CHECK(refusal(fresh, ok) == "wrong token (set R1_ROLLOUT_TOKEN, or --token-file, to the service's)");
  Hello old = h;
  old.protocol = 0;
  CHECK(refusal(old, ok) == "protocol version 0, but this learner speaks version 2");
  CHECK(refusal(h, Expected{"cccccccccccccccc", h.tokenizer_hash, "s3cret"}) == "model config aaaaaaaaaaaa differs from the learner's cccccccccccc");
  CHECK(refusal(h, Expected{h.model_hash, "dddd", "s3cret"}) == "tokenizer bbbbbbbbbbbb differs from the learner's dddd");
  for (const char* wrong : {"s3cre", "s3cret!", "S3cret", ""}) {
    Hello t = h;
    t.token = wrong;
    CHECK(refusal(t, ok) == "wrong token (set R1_ROLLOUT_TOKEN, or --token-file, to the service's)");
  }
}

TEST_CASE("handshake payloads that are not what they claim: the key and what is wrong with it") {
  CHECK_THROWS_WITH_AS(hello_from("[1, 2]"), "hello: not a JSON object", WireError);
  CHECK_THROWS_AS(hello_from("{\"protocol\": 1, "), WireError);  // not JSON at all
  auto hello_with_slots = [](const std::string& slots) {
    return "{\"protocol\": 1, \"model_hash\": \"m\", \"tokenizer_hash\": \"t\", \"token\": \"\", \"slots\": " + slots +
           ", \"threads\": 1, \"device\": \"cpu\", \"name\": \"w\"}";
  };
  CHECK(hello_from(hello_with_slots("4")).slots == 4);
  CHECK_THROWS_WITH_AS(hello_from(hello_with_slots("\"4\"")), "hello: \"slots\" is missing or not an integer", WireError);
  CHECK_THROWS_WITH_AS(hello_from(hello_with_slots("0")), "hello: slots 0 (a worker decodes at least one sequence)", WireError);
  CHECK_THROWS_WITH_AS(hello_from("{\"protocol\": 1}"), "hello: \"model_hash\" is missing or not a string", WireError);
  CHECK_THROWS_WITH_AS(welcome_from("{\"protocol\": -1}"), "welcome: protocol -1 is not a version", WireError);
  CHECK_THROWS_WITH_AS(hello_from(std::string(100000, '[')), doctest::Contains("nesting deeper than 512 levels"), WireError);
}

TEST_CASE("a service on loopback needs no token; any other address does") {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "localhost", "::1"}) CHECK_FALSE(needs_token(host));
  for (const char* host : {"0.0.0.0", "10.0.0.5", "node7", "127.evil.example", "::"}) CHECK(needs_token(host));
}
