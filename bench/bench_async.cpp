// bench_async: what asynchronous GRPO gives on this machine, and what weight sync costs.
//   1. GRPO steps per minute of the demo-size policy (demo-v3.json, B = 8 x G = 8, 48 new tokens)
//      on the same two cores: in process with 2 threads; with one `r1 rollout worker` process,
//      synchronous (rollout.max_staleness = 0) and asynchronous (k = 1), learner and worker one
//      thread each. Each mode's mean reward over its last 4 steps (the same number of samples in
//      every mode) says whether sampling ahead learns worse per sample. Then k = 1 with in-flight
//      weight updates, and k = 1 with the learner on both cores (the worker's thread beside it
//      is mostly idle), which is not the setting but what this machine does best.
//   2. Weight sync (dense-20m.json, 80 MB of fp32 weights) over the rollout service's connection
//      and by c10d (Gloo) broadcast: bytes per second from sync_weights() until a worker samples
//      with them, against the raw bytes per second of a loopback TCP socket in the same process.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "experiments/run_store.h"
#include "policy/transformer.h"
#include "rollout/remote_rollout.h"
#include "rollout/rollout_worker.h"

namespace {

const std::string kSource = R1_SOURCE_DIR;
const int kSteps = 12;

struct Mode {
  const char* name;
  int learner_threads;
  int worker = -1;  // -1: in process; else rollout.max_staleness
  bool inflight = false;
};

struct ModeResult {
  double step_s = -1, reward_last = 0, learn_s = 0, rollout_s = 0;  // rollout_s: the learner waiting for completions
};

std::string train_sets(const std::string& out, int threads) {
  return " --set run.steps=" + std::to_string(kSteps) +
         " --set run.eval_every=0 --set run.checkpoint_every=0 --set rl.beta=0 --set rl.mu=1 --set rl.n_minibatches=1"
         " --set rl.prompts_per_step=8 --set rollout.max_new_tokens=48 --set rl.is_correction=tis --set run.out_dir=" + out +
         " --set model.init=" + kSource + "/experiments/recipes/models/demo-v3.json --set run.threads=" + std::to_string(threads);
}

// Mean time/step_s over steps 2.. and the mean reward of the last 4 steps, from the run's store.
ModeResult read_run(const std::string& db) {
  ModeResult r;
  auto store = r1::experiments::RunStore::open(db);
  auto rs = store.query("SELECT (SELECT AVG(value) FROM metrics WHERE key = 'time/step_s' AND step >= 2), "
                        "(SELECT AVG(value) FROM metrics WHERE key = 'reward' AND step > " + std::to_string(kSteps - 4) + "), "
                        "(SELECT AVG(value) FROM metrics WHERE key = 'time/learn_s' AND step >= 2), "
                        "(SELECT AVG(value) FROM metrics WHERE key = 'time/rollout_s' AND step >= 2)");
  if (std::holds_alternative<std::monostate>(rs.rows[0][0])) return r;
  auto num = [&](size_t i) { return std::stod(r1::experiments::cell_text(rs.rows[0][i])); };
  r.step_s = num(0);
  r.reward_last = num(1);
  r.learn_s = num(2);
  r.rollout_s = num(3);
  return r;
}

ModeResult run_mode(const std::string& dir, const Mode& m) {
  const std::string db = dir + "/" + m.name + ".db", recipe = kSource + "/experiments/recipes/smoke.toml";
  std::string cmd = "OMP_NUM_THREADS=" + std::to_string(m.learner_threads) + " " + R1_BINARY + " -q --db " + db + " train " + recipe +
                    train_sets(dir + "/o-" + m.name, m.learner_threads);
  if (m.worker < 0) {
    if (std::system((cmd + " > /dev/null 2>&1").c_str()) != 0) return {};
    return read_run(db);
  }
  // The learner on a fixed loopback port, one worker process beside it (one thread each).
  const int port = 31000 + static_cast<int>(getpid() % 1000) * 8 + m.worker * 4 + (m.learner_threads - 1) * 2 + (m.inflight ? 1 : 0);
  const std::string at = "127.0.0.1:" + std::to_string(port);
  cmd += " --set rollout.backend=remote --set rollout.listen=" + at + " --set rollout.max_staleness=" + std::to_string(m.worker) +
         (m.inflight ? " --set rollout.inflight_update=true" : "");
  std::fflush(stdout);
  pid_t worker = fork();
  if (worker == 0) {
    setenv("OMP_NUM_THREADS", "1", 1);
    if (!freopen("/dev/null", "w", stderr)) _exit(127);
    execl(R1_BINARY, R1_BINARY, "rollout", "worker", "--connect", at.c_str(), "--threads", "1", static_cast<char*>(nullptr));
    _exit(127);
  }
  const int rc = std::system((cmd + " > /dev/null 2>&1").c_str());
  kill(worker, SIGINT);
  int status = 0;
  waitpid(worker, &status, 0);
  return rc == 0 ? read_run(db) : ModeResult{};
}

// Raw loopback: bytes per second through one TCP connection on 127.0.0.1 (a writer and a reader thread).
double loopback_bytes_per_s(size_t total) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return 0;
  int out = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(out, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 0;
  int in = accept(listener, nullptr, nullptr);
  std::vector<char> buf(1 << 20, 'x');
  const double t0 = r1::bench::now_s();
  std::thread writer([&] {
    for (size_t sent = 0; sent < total;) {
      const ssize_t n = send(out, buf.data(), std::min(buf.size(), total - sent), MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
  });
  std::vector<char> rbuf(1 << 20);
  size_t got = 0;
  while (got < total) {
    const ssize_t n = recv(in, rbuf.data(), rbuf.size(), 0);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  const double dt = r1::bench::now_s() - t0;
  writer.join();
  close(out);
  close(in);
  close(listener);
  return got / dt;
}

struct SyncResult {
  double bytes = 0, seconds = 0, encode_s = 0;
};

// Weight versions through the rollout service to a worker thread: from sync_weights() until a
// one-token request sampled with the new version returns, minus that request's own time.
SyncResult weight_sync(int rounds, bool c10d) {
  using namespace r1;
  torch::manual_seed(1);
  policy::CausalLM learner(policy::ModelConfig::load(kSource + "/experiments/recipes/models/dense-20m.json"));
  learner->init_weights(1);
  policy::CausalLM copy(learner->config());
  static const std::string empty;
  auto text = [](int32_t) -> const std::string& { return empty; };
  rollout::Engine engine(copy, {.max_batch_seqs = 1}, {}, text);
  rollout::RemoteRollout remote(learner, {.gate = {.listen = "127.0.0.1:0", .expected = {"m", "t", ""}}, .c10d_workers = c10d ? 1 : 0});
  rollout::RolloutWorker worker(&engine, {.connect = "127.0.0.1:" + std::to_string(remote.port()), .hello = {.model_hash = "m", .tokenizer_hash = "t"}});
  std::atomic<bool> stop{false};
  std::thread t([&] { worker.run(stop); });
  const std::vector<rollout::Request> one = {{{1, 2, 3}, 1, {.temperature = 0, .max_new_tokens = 1}}};
  remote.generate(one);  // joined, version 0 in place
  double request_s = 1e300, sync_s = 0;
  for (int i = 0; i < 3; ++i) {
    const double t0 = bench::now_s();
    remote.generate(one);
    request_s = std::min(request_s, bench::now_s() - t0);
  }
  SyncResult r;
  for (int i = 0; i < rounds; ++i) {
    const double t0 = bench::now_s();
    remote.sync_weights(learner);
    remote.generate(one);
    sync_s += bench::now_s() - t0 - request_s;
    r.encode_s += remote.stats().last_sync_s;
  }
  stop = true;
  t.join();
  r.bytes = static_cast<double>(remote.stats().last_sync_bytes);
  r.seconds = sync_s / rounds;
  r.encode_s /= rounds;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc > 1 && std::string(argv[1]) == "--weight-sync-only") {  // part 2 alone, for quick iteration
    const double raw = loopback_bytes_per_s(size_t{1} << 30);
    const SyncResult sync = weight_sync(5, false), bcast = weight_sync(5, true);
    std::printf("weight sync %.1f MB: connection %.3f s (encode %.3f s) %.3f GB/s, c10d broadcast %.3f s %.3f GB/s; loopback %.3f GB/s\n",
                sync.bytes / 1e6, sync.seconds, sync.encode_s, sync.bytes / sync.seconds / 1e9, bcast.seconds, bcast.bytes / bcast.seconds / 1e9, raw / 1e9);
    return 0;
  }
  const fs::path dir = fs::temp_directory_path() / ("bench_async-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::vector<Mode> modes = {{"in_process_2threads", 2, -1},
                                   {"worker_sync_k0", 1, 0},
                                   {"worker_async_k1", 1, 1},
                                   {"worker_async_k1_inflight", 1, 1, true},
                                   {"async_k1_learner_2t", 2, 1}};
  std::vector<ModeResult> results;
  std::printf("GRPO, demo-v3 policy, B = 8 x G = 8, 48 new tokens, %d steps (mean over steps 2..%d), 2 cores:\n", kSteps, kSteps);
  std::printf("%-26s %10s %12s %10s %14s %22s\n", "mode", "s/step", "steps/min", "learn s", "rollout wait s", "reward (last 4 steps)");
  for (const Mode& m : modes) {
    results.push_back(run_mode(dir.string(), m));
    const ModeResult& r = results.back();
    std::printf("%-26s %10.3f %12.1f %10.3f %14.3f %22.4f\n", m.name, r.step_s, r.step_s > 0 ? 60 / r.step_s : 0, r.learn_s, r.rollout_s,
                r.reward_last);
    std::fflush(stdout);
  }
  fs::remove_all(dir);
  auto per_min = [&](size_t i) { return results[i].step_s > 0 ? 60 / results[i].step_s : 0; };
  const double best_sync = std::max(per_min(0), per_min(1)), async = per_min(2);
  // Overlap can hide the shorter of rollout and learning, no more: the synchronous worker's step
  // over the longer of the two is the most sampling ahead could give here.
  const ModeResult& sw = results[1];
  const double ceiling = std::max(sw.learn_s, sw.rollout_s) > 0 ? sw.step_s / std::max(sw.learn_s, sw.rollout_s) : 0;
  std::printf("async k=1 vs the synchronous worker %.3f (overlap ceiling here %.3f: the step is %.0f%% learning); vs best sync %.3f\n",
              per_min(1) > 0 ? async / per_min(1) : 0, ceiling, sw.step_s > 0 ? 100 * sw.learn_s / sw.step_s : 0, best_sync > 0 ? async / best_sync : 0);

  const double raw = loopback_bytes_per_s(size_t{1} << 30);
  const SyncResult sync = weight_sync(5, false), bcast = weight_sync(5, true);
  const double sync_bps = sync.seconds > 0 ? sync.bytes / sync.seconds : 0, bcast_bps = bcast.seconds > 0 ? bcast.bytes / bcast.seconds : 0;
  std::printf("\nweight sync, dense-20m (%.1f MB a version) to one worker: on the connection %.3f s (encode %.3f s) = %.2f GB/s, "
              "by c10d (Gloo) broadcast %.3f s = %.2f GB/s; loopback raw %.2f GB/s (%.3f, %.3f)\n",
              sync.bytes / 1e6, sync.seconds, sync.encode_s, sync_bps / 1e9, bcast.seconds, bcast_bps / 1e9, raw / 1e9, raw > 0 ? sync_bps / raw : 0,
              raw > 0 ? bcast_bps / raw : 0);
  std::printf("RESULT steps_per_min_in_process_2t=%.2f steps_per_min_worker_sync=%.2f steps_per_min_worker_async_k1=%.2f "
              "async_vs_best_sync=%.3f reward_in_process=%.4f reward_sync=%.4f reward_async_k1=%.4f weight_sync_gbps=%.3f "
              "loopback_gbps=%.3f weight_sync_vs_loopback=%.3f async_vs_sync_worker=%.3f overlap_ceiling=%.3f "
              "steps_per_min_async_k1_inflight=%.2f steps_per_min_async_k1_learner_2t=%.2f reward_async_k1_inflight=%.4f c10d_weight_sync_gbps=%.3f\n",
              per_min(0), per_min(1), async, best_sync > 0 ? async / best_sync : 0, results[0].reward_last, results[1].reward_last,
              results[2].reward_last, sync_bps / 1e9, raw / 1e9, raw > 0 ? sync_bps / raw : 0, per_min(1) > 0 ? async / per_min(1) : 0, ceiling, per_min(3), per_min(4), results[3].reward_last, bcast_bps / 1e9);
  return results[0].step_s > 0 && results[1].step_s > 0 && results[2].step_s > 0 && results[3].step_s > 0 && results[4].step_s > 0 ? 0 : 1;
}
