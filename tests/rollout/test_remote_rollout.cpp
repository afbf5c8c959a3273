// Rollout on workers over loopback, against the in-process engine: two workers (threads here, each
// with its own engine and its own copy of the model, fed the learner's weights over the wire) give
// the same completions for the same requests and seeds, before and after a weight update; a worker
// that takes groups and vanishes has them re-issued, and a worker that joins mid-call takes them.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "rollout/remote_rollout.h"
#include "rollout/rollout_worker.h"
#include "text/json_value.h"
#include "tests/policy/tiny_configs.h"
#include "tests/rollout/engine_fixture.h"

using namespace r1;
using namespace r1::rollout;

namespace {

using test::letter;

policy::CausalLM make_model(uint64_t seed) { return test::make_model(test::tiny_v3(), seed); }

std::vector<Request> requests() {
  std::vector<Request> reqs;
  for (int r = 0; r < 7; ++r)
    reqs.push_back({{static_cast<int32_t>(r + 1), static_cast<int32_t>(2 * r + 3), 5}, 3,
                    {.temperature = 1.0, .max_new_tokens = 4 + 3 * r, .seed = static_cast<uint64_t>(100 + r)}});
  return reqs;
}

// A worker thread with its own model (initialised differently: its weights must come from the learner).
struct WorkerThread {
  policy::CausalLM model;
  Engine engine;
  RolloutWorker worker;
  std::atomic<bool> stop{false};
  std::string error;
  std::thread thread;
  WorkerThread(uint16_t port, uint64_t seed, int64_t slots)
      : model(make_model(seed)), engine(model, {.max_batch_seqs = slots}, {}, letter),
        worker(&engine, {.connect = "127.0.0.1:" + std::to_string(port),
                        .hello = {.model_hash = "m", .tokenizer_hash = "t", .slots = slots, .name = "w" + std::to_string(seed)},
                        .heartbeat_s = 1.0, .retry_s = 0.1}) {
    thread = std::thread([this] {
      try {
        worker.run(stop);
      } catch (const std::exception& e) {
        error = e.what();
      }
    });
  }
  ~WorkerThread() {
    stop = true;
    thread.join();
  }
};

void check_same(const std::vector<Completion>& a, const std::vector<Completion>& b, int64_t version) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(b[i].request == a[i].request);
    CHECK(b[i].sample == a[i].sample);
    CHECK(b[i].tokens == a[i].tokens);
    CHECK(b[i].finish == a[i].finish);
    CHECK(b[i].weight_version == version);
    REQUIRE(b[i].policy_logprobs.size() == a[i].policy_logprobs.size());
    for (size_t t = 0; t < a[i].policy_logprobs.size(); ++t) CHECK(b[i].policy_logprobs[t] == doctest::Approx(a[i].policy_logprobs[t]).epsilon(1e-5));
  }
}

bool wait_until(const std::function<bool()>& ok, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!ok()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace

TEST_CASE("two workers give the in-process engine's completions, before and after a weight update") {
  auto learner = make_model(9);
  Engine local(learner, {.max_batch_seqs = 32}, {}, letter);
  RemoteRollout remote(learner, {.gate = {.listen = "127.0.0.1:0", .expected = {"m", "t", ""}}, .weight_chunk_bytes = 4096});
  WorkerThread a(remote.port(), 1, 6), b(remote.port(), 2, 6);
  REQUIRE(wait_until([&] { return remote.workers() == 2; }, 20));
  const auto reqs = requests();
  check_same(local.generate(reqs), remote.generate(reqs), 0);
  CHECK(a.worker.groups_served() + b.worker.groups_served() == 7);
  CHECK(a.worker.groups_served() > 0);  // both took part
  CHECK(b.worker.groups_served() > 0);

  {
    torch::NoGradGuard ng;
    for (auto& p : learner->parameters()) p.add_(torch::randn_like(p) * 0.05);
  }
  local.bump_weight_version();
  remote.sync_weights(learner);
  check_same(local.generate(reqs), remote.generate(reqs), 1);
  CHECK(remote.stats().groups_reissued == 0);
  CHECK(remote.stats().weight_bytes_sent > 0);
  CHECK(a.error.empty());
}

TEST_CASE("groups of a worker that vanishes are re-issued to one that joins mid-call; nothing is lost or counted twice") {
  auto learner = make_model(9);
  Engine local(learner, {.max_batch_seqs = 32}, {}, letter);
  // Weights in chunks over 16 KiB; heartbeats every 5 s, so the silent worker (which sends none) is
  // not dropped by the watchdog before it vanishes on purpose.
  RemoteRollout remote(learner, {.gate = {.listen = "127.0.0.1:0", .expected = {"m", "t", ""}, .heartbeat_s = 5}});
  // A worker that joins, takes every group and never answers: a raw socket.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(remote.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  wire::FrameWriter fw;
  const std::string hello = fw.write(wire::FrameType::hello, wire::to_payload(wire::Hello{.model_hash = "m", .tokenizer_hash = "t", .slots = 1000}));
  REQUIRE(::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(hello.size()));
  REQUIRE(wait_until([&] { return remote.workers() == 1; }, 20));

  std::vector<Completion> got;
  std::thread call([&] { got = remote.generate(requests()); });
  // Every group goes to the silent worker; read until all 7 requests have come. (CHECKs, not
  // REQUIREs, until `call` is joined: the late worker below is what lets it return.)
  wire::FrameReader fr;
  int requests_seen = 0;
  char buf[65536];
  while (requests_seen < 7) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    CHECK(n > 0);
    if (n <= 0) break;
    fr.feed(buf, static_cast<size_t>(n));
    while (auto f = fr.next()) requests_seen += f->type == wire::FrameType::request;
  }
  {
    WorkerThread late(remote.port(), 3, 8);  // joins while the call waits
    CHECK(wait_until([&] { return remote.workers() == 2; }, 20));
    close(fd);  // the silent worker vanishes: its 7 groups go to the late one
    call.join();
    CHECK(late.worker.groups_served() == 7);
  }
  check_same(local.generate(requests()), got, 0);
  CHECK(remote.stats().groups_reissued == 7);
}

TEST_CASE("batches in flight: each group is sampled with the version current when it reached a worker, even across a weight update") {
  auto learner = make_model(9);
  Engine local(learner, {.max_batch_seqs = 32}, {}, letter);
  RemoteRollout remote(learner, {.gate = {.listen = "127.0.0.1:0", .expected = {"m", "t", ""}}, .weight_chunk_bytes = 4096});
  WorkerThread a(remote.port(), 1, 64);
  REQUIRE(wait_until([&] { return remote.workers() == 1; }, 20));
  const auto reqs = requests();
  const auto before = local.generate(reqs);
  const int64_t first = remote.submit(reqs);  // every group fits the worker's slots: handed over now, at version 0
  {
    torch::NoGradGuard ng;
    for (auto& p : learner->parameters()) p.add_(torch::randn_like(p) * 0.05);
  }
  local.bump_weight_version();
  remote.sync_weights(learner);  // reaches the worker while it may still hold version-0 requests
  const int64_t second = remote.submit(reqs);
  check_same(local.generate(reqs), remote.collect(second), 1);
  check_same(before, remote.collect(first), 0);
  CHECK(a.error.empty());
  const auto st = remote.stats();
  CHECK(st.worker_online_s > 0);
  CHECK(st.worker_busy_s > 0);
  CHECK(st.worker_busy_s <= st.worker_online_s);
}

TEST_CASE("a worker without a model is welcomed with the learner's files, builds its engine from them and presents their hashes") {
  auto learner = make_model(9);
  Engine local(learner, {.max_batch_seqs = 32}, {}, letter);
  const std::string config = text::to_json(learner->config().to_json());
  RemoteRollout remote(learner, {.gate = {.listen = "127.0.0.1:0", .expected = {"m", "t", ""},
                                          .model = wire::ModelFiles{config, "{\"model\": {}}", "{}"}}});
  policy::CausalLM adopted{nullptr};
  std::unique_ptr<Engine> engine;
  wire::ModelFiles seen;
  RolloutWorker worker(nullptr, {.connect = "127.0.0.1:" + std::to_string(remote.port()), .hello = {.slots = 8}, .retry_s = 0.1,
                                 .adopt = [&](const wire::ModelFiles& files, wire::Hello& hello) -> Engine& {
                                   seen = files;
                                   adopted = policy::CausalLM(policy::ModelConfig::from_json(text::parse_json(files.config_json, "config"), "config"));
                                   engine = std::make_unique<Engine>(adopted, EngineConfig{.max_batch_seqs = 8}, std::vector<int32_t>{}, letter);
                                   hello.model_hash = "m";
                                   hello.tokenizer_hash = "t";
                                   return *engine;
                                 }});
  std::atomic<bool> stop{false};
  std::string error;
  std::thread t([&] {
    try {
      worker.run(stop);
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  const auto got = remote.generate(requests());  // waits for the worker to join and take its weights
  stop = true;
  t.join();
  CHECK(error.empty());
  CHECK(seen.config_json == config);
  CHECK(seen.tokenizer_json == "{\"model\": {}}");
  check_same(local.generate(requests()), got, 0);
}

TEST_CASE("in-flight weight updates: a worker swaps in new weights between decode steps, and each token records the version that produced it") {
  auto learner = make_model(9);
  RemoteRollout remote(learner, {.gate = {.listen = "127.0.0.1:0", .expected = {"m", "t", ""}, .inflight_update = true}, .weight_chunk_bytes = 4096});
  WorkerThread a(remote.port(), 1, 64);
  REQUIRE(wait_until([&] { return remote.workers() == 1; }, 20));
  std::vector<Request> reqs;
  for (int r = 0; r < 4; ++r)  // long enough that the new version lands mid-way
    reqs.push_back({{static_cast<int32_t>(r + 1), 5}, 4, {.temperature = 1.0, .max_new_tokens = 96, .seed = static_cast<uint64_t>(7 + r)}});
  const int64_t ticket = remote.submit(reqs);  // handed out at version 0
  {
    torch::NoGradGuard ng;
    for (auto& p : learner->parameters()) p.add_(torch::randn_like(p) * 0.05);
  }
  remote.sync_weights(learner);  // version 1, sent while the worker decodes
  const auto got = remote.collect(ticket);
  REQUIRE(got.size() == 16);
  int switched = 0;
  for (const auto& c : got) {
    CHECK(c.weight_version == 0);  // the version each completion started with
    REQUIRE(c.token_versions.size() == c.tokens.size());
    for (size_t t = 0; t < c.token_versions.size(); ++t) {
      CHECK(c.token_versions[t] >= 0);
      CHECK(c.token_versions[t] <= 1);
      if (t > 0) CHECK(c.token_versions[t] >= c.token_versions[t - 1]);  // a version never goes back
    }
    switched += !c.token_versions.empty() && c.token_versions.back() == 1;
  }
  CHECK(switched > 0);  // the swap happened mid-completion, not after the batch
  CHECK(a.error.empty());
  // Later requests are sampled with version 1 from their first token.
  for (const auto& c : remote.generate(reqs)) {
    CHECK(c.weight_version == 1);
    for (int64_t v : c.token_versions) CHECK(v == 1);
  }
}
