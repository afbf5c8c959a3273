// The learner's door for rollout workers, over real loopback sockets: a worker's hello is
// welcomed; garbage, a wrong token, another protocol, model or tokenizer, or a first frame that is
// not hello is refused with the reason (sent to the worker and logged) and closes that connection
// only; a broken frame or silence closes a joined worker, which is reported as having left.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rollout/handshake.h"
#include "rollout/wire.h"
#include "rollout/worker_gate.h"

using namespace r1::rollout;
using namespace r1::rollout::wire;

namespace {

const std::string kModel(64, 'a'), kTokenizer(64, 'b');

// A worker's end as plain blocking POSIX calls, with a receive timeout.
struct Client {
  int fd = -1;
  FrameWriter writer;
  FrameReader reader;
  explicit Client(uint16_t port) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Client() { close(fd); }
  void raw(const std::string& bytes) { REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())); }
  void send(FrameType t, const std::string& payload = {}) { raw(writer.write(t, payload)); }
  // The next frame that is not a heartbeat; nullopt when the gate closed the connection. Nothing
  // for 5 s fails the test (a gate that neither answers nor closes).
  std::optional<Frame> next(int* heartbeats = nullptr) {
    for (;;) {
      while (auto f = reader.next()) {
        if (f->type != FrameType::heartbeat) return f;
        if (heartbeats) ++*heartbeats;
      }
      char buf[4096];
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n < 0) FAIL("the gate neither answered nor closed within 5 s");
      if (n <= 0) return std::nullopt;
      reader.feed(buf, static_cast<size_t>(n));
    }
  }
};

Hello good_hello(const std::string& token = "secret") {
  return Hello{.model_hash = kModel, .tokenizer_hash = kTokenizer, .token = token, .slots = 16, .name = "test-worker"};
}

// What the gate reported, waited for from the test's thread.
struct Seen {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> log, events;
  void add(std::vector<std::string>& to, const std::string& s) {
    std::lock_guard<std::mutex> l(m);
    to.push_back(s);
    cv.notify_all();
  }
  bool wait_for(std::vector<std::string>& in, const std::string& part) {
    std::unique_lock<std::mutex> l(m);
    return cv.wait_for(l, std::chrono::seconds(10), [&] {
      for (const auto& s : in)
        if (s.find(part) != std::string::npos) return true;
      return false;
    });
  }
};

std::unique_ptr<WorkerGate> make_gate(Seen& seen, double heartbeat_s, double hello_within_s = 10) {
  WorkerGate::Options o;
  o.expected = {kModel, kTokenizer, "secret"};
  o.heartbeat_s = heartbeat_s;
  o.hello_within_s = hello_within_s;
  o.weight_version = [] { return int64_t{7}; };
  o.log = [&seen](const std::string& s) { seen.add(seen.log, s); };
  WorkerGate::Events e;
  e.on_join = [&seen](int64_t id, const Hello& h) { seen.add(seen.events, "join " + std::to_string(id) + " " + h.name); };
  e.on_frame = [&seen](int64_t id, Frame f) { seen.add(seen.events, "frame " + std::to_string(id) + " " + to_string(f.type) + " " + f.payload); };
  e.on_leave = [&seen](int64_t id, const std::string& why) { seen.add(seen.events, "leave " + std::to_string(id) + " " + why); };
  return std::make_unique<WorkerGate>(o, e);
}

std::string refusal_of(Client& c) {
  auto f = c.next();
  REQUIRE(f);
  CHECK(f->type == FrameType::refuse);
  CHECK_FALSE(c.next());  // and then the gate closes
  return f->payload;
}

}  // namespace

TEST_CASE("a worker is welcomed; garbage and wrong hellos are refused with the reason, closing only their own connection") {
  Seen seen;
  auto gate = make_gate(seen, 5.0);
  Client a(gate->port());
  a.send(FrameType::hello, to_payload(good_hello()));
  auto w = a.next();
  REQUIRE(w);
  REQUIRE(w->type == FrameType::welcome);
  const Welcome welcome = welcome_from(w->payload);
  CHECK(welcome.worker_id == 1);
  CHECK(welcome.weight_version == 7);
  CHECK(seen.wait_for(seen.events, "join 1 test-worker"));

  {
    Client b(gate->port());
    b.raw("GET / HTTP/1.1\r\nHost: learner\r\n\r\n");
    CHECK_FALSE(b.next());
    CHECK(seen.wait_for(seen.log, "closed before joining: protocol error: not a rollout frame (magic 0x20544547)"));
  }
  {
    Client c(gate->port());
    c.send(FrameType::hello, to_payload(good_hello("guess")));
    CHECK(refusal_of(c) == "wrong token (set R1_ROLLOUT_TOKEN, or --token-file, to the service's)");
    CHECK(seen.wait_for(seen.log, ": wrong token"));
  }
  {
    Client d(gate->port());
    Hello h = good_hello();
    h.protocol = 1;  // an older worker
    d.send(FrameType::hello, to_payload(h));
    CHECK(refusal_of(d) == "protocol version 1, but this learner speaks version 2");
  }
  {
    Client e(gate->port());
    Hello h = good_hello();
    h.model_hash = std::string(64, 'c');
    e.send(FrameType::hello, to_payload(h));
    CHECK(refusal_of(e) == "model config cccccccccccc differs from the learner's aaaaaaaaaaaa");
  }
  {
    Client f(gate->port());
    f.send(FrameType::request, "{}");
    CHECK(refusal_of(f) == "the first frame must be hello, not request");
  }
  {
    // A wrong hello and a right one in one write: refused, and the second is never read.
    Client g(gate->port());
    std::string two = g.writer.write(FrameType::hello, to_payload(good_hello("guess")));
    two += g.writer.write(FrameType::hello, to_payload(good_hello()));
    g.raw(two);
    CHECK(refusal_of(g).find("wrong token") == 0);
  }
  {
    // Before its welcome a connection may send 16 KiB: a depth bomb well under that is refused by the
    // JSON reader, a larger hello by the frame reader.
    Client h(gate->port());
    h.send(FrameType::hello, std::string(8000, '[') + std::string(8000, ']'));
    CHECK(refusal_of(h).find("nesting deeper than 512 levels") != std::string::npos);
    Client big(gate->port());
    big.send(FrameType::hello, std::string(20000, ' '));
    CHECK_FALSE(big.next());
    CHECK(seen.wait_for(seen.log, "protocol error: a frame of 20000 bytes is over the limit of 16384"));
  }
  // The first worker is still there and heard.
  CHECK(gate->workers() == 1);
  a.send(FrameType::result, "completions of group 3");
  CHECK(seen.wait_for(seen.events, "frame 1 result completions of group 3"));
  gate->send(1, FrameType::request, "group 4");
  auto r = a.next();
  REQUIRE(r);
  CHECK(r->type == FrameType::request);
  CHECK(r->payload == "group 4");
  // A corrupted frame from it: it leaves, with the reason.
  std::string bad = a.writer.write(FrameType::result, "x");
  bad.back() = 'y';
  a.raw(bad);
  CHECK_FALSE(a.next());
  CHECK(seen.wait_for(seen.events, "leave 1 protocol error: frame 2 fails its checksum"));
  CHECK(gate->workers() == 0);
}

TEST_CASE("silence closes a connection after 5 heartbeats, heartbeats without a hello after hello_within_s; a second hello is a protocol error") {
  Seen seen;
  auto gate = make_gate(seen, 0.2);
  {
    Client quiet(gate->port());
    const auto t0 = std::chrono::steady_clock::now();
    int heartbeats = 0;
    CHECK_FALSE(quiet.next(&heartbeats));
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(took > 0.9);
    CHECK(took < 8.0);  // 1 s and a tick, with room for a loaded machine
    CHECK(heartbeats >= 3);  // the gate's own heartbeats came meanwhile
    CHECK(seen.wait_for(seen.log, "heartbeats missed"));
  }
  {
    Seen seen_b;
    auto patient = make_gate(seen_b, 0.2, 1.0);
    Client beating(patient->port());
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 100 && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(6); ++i) {
      if (::send(beating.fd, beating.writer.write(FrameType::heartbeat).data(), kHeaderBytes, MSG_NOSIGNAL) < 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(seen_b.wait_for(seen_b.log, "closed before joining: nothing but heartbeats for"));
  }
  auto calm = make_gate(seen, 5.0);  // the rest needs no watchdog racing a loaded machine
  Client twice(calm->port());
  twice.send(FrameType::hello, to_payload(good_hello()));
  REQUIRE(twice.next());
  twice.send(FrameType::hello, to_payload(good_hello()));
  CHECK_FALSE(twice.next());
  CHECK(seen.wait_for(seen.events, "leave 1 protocol error: a second hello"));
}

TEST_CASE("rollout.listen: a non-loopback address needs a token; a bad address is one line naming the key") {
  Seen seen;
  WorkerGate::Options o;
  o.listen = "0.0.0.0:0";
  CHECK_THROWS_WITH_AS(WorkerGate(o, {}),
                       "rollout.listen = \"0.0.0.0:0\" is reachable from other hosts: set R1_ROLLOUT_TOKEN (or rollout.token_file) to a shared token",
                       ServiceError);
  o.listen = "127.0.0.1";
  CHECK_THROWS_WITH_AS(WorkerGate(o, {}), "rollout.listen = \"127.0.0.1\": no port (expected HOST:PORT, e.g. 127.0.0.1:0)", ServiceError);
  o.listen = "127.0.0.1:99999";
  CHECK_THROWS_WITH_AS(WorkerGate(o, {}), "rollout.listen = \"127.0.0.1:99999\": \"99999\" is not a port (expected HOST:PORT, e.g. 127.0.0.1:0)",
                       ServiceError);
  o.listen = "learner-host:7000";
  o.expected.token = "t";
  CHECK_THROWS_WITH_AS(WorkerGate(o, {}), "rollout.listen = \"learner-host:7000\": \"learner-host\" is not an IP address", ServiceError);
  const auto [host, port] = parse_host_port("[::1]:7000", "k");
  CHECK(host == "::1");
  CHECK(port == 7000);
}
