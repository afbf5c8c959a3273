// bench_sandbox: what isolation costs, as ratios measured in one run.
//  1. Runs per second of `python3 -c print(1)` and of a trivial compiled C++ binary, one at a
//     time: sandboxed (the pool with one worker: fresh PID namespace, wiped /work and IPC
//     objects, rlimits, capabilities dropped, the worker's seccomp filter, output through pipes)
//     over the same program spawned with no isolation at all (posix_spawn, stdout through a pipe,
//     wait). Sandboxed = run_now(), which waits on the calling thread as the plain loop does; the
//     C++ binary also through run()'s future one at a time (two more thread hand-offs per run, via
//     the pool's io thread), and as a stream of futures submitted at once (the reward stage's way).
//  2. HumanEval's 164 canonical solutions judged end to end with K = 2 sandboxes (needs ../shared).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "bench/bench_util.h"
#include "datasets/task.h"
#include "verifiers/code/sandbox_pool.h"

using namespace r1::verifiers::code;
using r1::bench::now_s;
namespace fs = std::filesystem;

namespace {

// Spawns argv with stdout on a pipe, reads it all, waits: the unsandboxed baseline.
bool spawn_plain(const std::vector<std::string>& args, const std::string& cwd) {
  int p[2];
  if (pipe(p) != 0) return false;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_addclose(&fa, p[0]);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::string old = fs::current_path();
  fs::current_path(cwd);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  fs::current_path(old);
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);
  char buf[256];
  while (read(p[0], buf, sizeof buf) > 0) {
  }
  close(p[0]);
  int st = 0;
  if (rc == 0) waitpid(pid, &st, 0);
  return rc == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// Runs per second of one program, plain and sandboxed, measured in alternating rounds of
// `round_s` each so that a noisy neighbour or a frequency change hits both sides alike.
// A way of running the request in the sandbox: runs `q` at least once, returns how many succeeded.
using SandboxedRuns = std::function<int64_t(SandboxPool&, const RunRequest&, int& failures)>;

int64_t counted(const RunResult& r, int& failures) {
  if (r.error.empty() && r.exit_code == 0 && r.stdout_data == "1\n") return 1;
  ++failures;
  return 0;
}

const SandboxedRuns kRunNow = [](SandboxPool& pool, const RunRequest& q, int& failures) {
  return counted(pool.run_now(q), failures);
};
const SandboxedRuns kFutureEach = [](SandboxPool& pool, const RunRequest& q, int& failures) {
  return counted(pool.run(q).get(), failures);
};
const SandboxedRuns kStream = [](SandboxPool& pool, const RunRequest& q, int& failures) {
  std::vector<std::future<RunResult>> runs;
  for (int i = 0; i < 64; ++i) runs.push_back(pool.run(q));
  int64_t n = 0;
  for (auto& f : runs) n += counted(f.get(), failures);
  return n;
};

// Runs per second of the plain program and of each sandboxed way, measured in alternating rounds
// of `seconds / 8` each so that a noisy neighbour or a frequency change hits all sides alike.
std::vector<double> interleaved_rates(const std::vector<std::string>& plain_argv, const std::string& cwd, SandboxPool& pool,
                                      const RunRequest& q, const std::vector<SandboxedRuns>& ways, double seconds,
                                      int& failures) {
  const int rounds = 8;
  const double round_s = seconds / rounds;
  spawn_plain(plain_argv, cwd);  // warm every path
  for (const auto& way : ways) way(pool, q, failures);
  std::vector<int64_t> n(ways.size() + 1, 0);
  std::vector<double> t(ways.size() + 1, 0);
  for (int k = 0; k < rounds; ++k) {
    double t0 = now_s();
    while (now_s() - t0 < round_s) n[0] += spawn_plain(plain_argv, cwd);
    t[0] += now_s() - t0;
    for (size_t i = 0; i < ways.size(); ++i) {
      t0 = now_s();
      while (now_s() - t0 < round_s) n[i + 1] += ways[i](pool, q, failures);
      t[i + 1] += now_s() - t0;
    }
  }
  std::vector<double> rates;
  for (size_t i = 0; i < n.size(); ++i) rates.push_back(n[i] / t[i]);
  return rates;
}

}  // namespace

int main() {
  const double secs = 4.0;
  auto dir = fs::temp_directory_path() / ("bench_sandbox-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "main.cpp") << "#include <cstdio>\nint main(){ std::puts(\"1\"); }\n";
  if (std::system(("g++ -O2 -o " + (dir / "main").string() + " " + (dir / "main.cpp").string()).c_str()) != 0) {
    std::fprintf(stderr, "bench_sandbox: g++ failed\n");
    return 1;
  }
  std::ifstream bin(dir / "main", std::ios::binary);
  std::string binary((std::istreambuf_iterator<char>(bin)), std::istreambuf_iterator<char>());

  SandboxPool one(PoolOptions{.workers = 1});
  if (!one.isolation_error().empty()) {
    std::fprintf(stderr, "bench_sandbox: the sandbox cannot isolate here: %s\n", one.isolation_error().c_str());
    return 1;
  }
  int failures = 0;
  std::vector<std::string> py = {"/usr/bin/python3", "-I", "-B", "-c", "print(1)"};
  RunRequest pq;
  pq.argv = py;
  auto pyr = interleaved_rates(py, dir, one, pq, {kRunNow}, secs, failures);
  RunRequest cq;
  cq.argv = {"./main"};
  cq.files["main"] = binary;
  cq.executable = {"main"};
  auto cr = interleaved_rates({(dir / "main").string()}, dir, one, cq, {kRunNow, kFutureEach, kStream}, secs, failures);
  double py_plain = pyr[0], py_box = pyr[1], cpp_plain = cr[0], cpp_box = cr[1];

  std::printf("bench_sandbox: %.0f s per side in 8 alternating rounds, one worker\n\n", secs);
  std::printf("  %-48s %12s %13s %8s\n", "program (sandboxed how)", "plain run/s", "sandbox run/s", "ratio");
  auto row = [](const char* what, double plain, double box) {
    std::printf("  %-48s %12.1f %13.1f %7.1f%%\n", what, plain, box, 100 * box / plain);
  };
  row("python3 -c print(1) (run_now)", py_plain, py_box);
  row("trivial C++ binary, shipped per run (run_now)", cpp_plain, cpp_box);
  row("  the same, run().get() one at a time", cpp_plain, cr[2]);
  row("  the same, 64 futures submitted at once", cpp_plain, cr[3]);
  if (failures) std::printf("  (%d sandboxed runs failed)\n", failures);

  double he_s = -1;
  int he_ac = 0;
  std::string shared = r1::bench::shared_dir();
  if (fs::exists(shared + "/datasets/humaneval")) {
    r1::datasets::DataConfig c;
    c.dataset = "humaneval";
    auto tasks = r1::datasets::load_tasks(c, shared, 1);
    SandboxPool two(PoolOptions{.workers = 2});
    double t0 = now_s();
    std::vector<std::future<JudgeResult>> fs_;
    for (const auto& t : tasks) {
      auto j = nlohmann::json::parse(t.tests_json);
      Submission s;
      s.id = t.id;
      s.lang = "python";
      s.code = j.value("prompt", std::string()) + t.answer;
      s.test_code = j.value("test_code", std::string());
      s.entry_point = j.value("entry_point", std::string());
      s.limits.cpu_s = 5;
      fs_.push_back(two.judge(s));
    }
    for (auto& f : fs_) he_ac += f.get().verdict == Verdict::AC;
    he_s = now_s() - t0;
    std::printf("\n  HumanEval canonical solutions, K = 2: %d/%zu AC in %.2f s (%.1f problems/s)\n", he_ac, tasks.size(), he_s,
                tasks.size() / he_s);
  } else {
    std::printf("\n  HumanEval: skipped (../shared not found; set R1_SHARED)\n");
  }
  fs::remove_all(dir);
  std::printf(
      "\nRESULT python_ratio=%.3f cpp_ratio=%.3f humaneval_s=%.2f python_runs_s=%.1f cpp_runs_s=%.1f humaneval_ac=%d "
      "cpp_future_ratio=%.3f cpp_stream_ratio=%.3f\n",
      py_box / py_plain, cpp_box / cpp_plain, he_s, py_box, cpp_box, he_ac, cr[2] / cpp_plain, cr[3] / cpp_plain);
  return 0;
}
