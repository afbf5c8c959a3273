// The ranks of a job: the launcher environments (torchrun, Slurm) and their mistakes; collectives
// between real processes on loopback; an unreachable master and a lost rank end within the timeout.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "dist/launch_env.h"
#include "tests/test_util.h"

extern char** environ;

using r1::dist::DistError;
using r1::dist::Launcher;
using r1::dist::read_launch_env;

namespace {

r1::dist::LaunchEnv from(const std::map<std::string, std::string>& vars) {
  return read_launch_env([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}


struct Rank {
  pid_t pid = 0;
  std::string err_path, out_path;
};

// Starts dist_worker WHAT as one rank with torchrun's variables (plus `extra`).
Rank spawn_rank(const r1::test::TempDir& dir, const std::string& what, int rank, int world, int port,
                const std::vector<std::string>& extra = {}) {
  Rank r;
  r.out_path = dir / ("rank" + std::to_string(rank) + ".out");
  r.err_path = dir / ("rank" + std::to_string(rank) + ".err");
  std::vector<std::string> env = {"RANK=" + std::to_string(rank), "WORLD_SIZE=" + std::to_string(world),
                                  "LOCAL_RANK=" + std::to_string(rank), "LOCAL_WORLD_SIZE=" + std::to_string(world),
                                  "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + std::to_string(port), "OMP_NUM_THREADS=1"};
  env.insert(env.end(), extra.begin(), extra.end());
  for (char** e = environ; *e; ++e) {
    std::string s(*e);
    if (s.rfind("RANK=", 0) && s.rfind("WORLD_SIZE=", 0) && s.rfind("MASTER_", 0) && s.rfind("OMP_NUM_THREADS=", 0)) env.push_back(s);
  }
  std::vector<char*> envp;
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, r.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, r.err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::string bin = R1_DIST_WORKER;
  std::vector<char*> argv = {bin.data(), const_cast<char*>(what.c_str()), nullptr};
  REQUIRE(posix_spawn(&r.pid, bin.c_str(), &fa, nullptr, argv.data(), envp.data()) == 0);
  posix_spawn_file_actions_destroy(&fa);
  return r;
}

// The rank's exit code, or -1 after `seconds` (then it is killed: no test leaves a process behind).
int wait_rank(const Rank& r, double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (waitpid(r.pid, &status, WNOHANG) == r.pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(r.pid, SIGKILL);
  waitpid(r.pid, &status, 0);
  return -1;
}

}  // namespace

TEST_CASE("launcher environments: torchrun, Slurm, none") {
  auto none = from({});
  CHECK(none.launcher == Launcher::none);
  CHECK_FALSE(none.distributed());
  auto t = from({{"RANK", "1"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"}, {"MASTER_ADDR", "10.0.0.7"},
                 {"MASTER_PORT", "29501"}, {"TORCHELASTIC_USE_AGENT_STORE", "True"}});
  CHECK(t.launcher == Launcher::torchrun);
  CHECK(t.rank == 1);
  CHECK(t.world_size == 4);
  CHECK(t.local_world_size == 2);
  CHECK(t.master_addr == "10.0.0.7");
  CHECK(t.master_port == 29501);
  CHECK(t.agent_store);
  CHECK(t.describe() == "rank 1 of 4 (torchrun, local 1 of 2), master 10.0.0.7:29501");
  auto s = from({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"}, {"SLURM_TASKS_PER_NODE", "4(x2)"},
                 {"SLURM_LAUNCH_NODE_IPADDR", "10.1.2.3"}});
  CHECK(s.launcher == Launcher::slurm);
  CHECK(s.rank == 5);
  CHECK(s.local_world_size == 4);
  CHECK(s.master_addr == "10.1.2.3");
  CHECK(s.master_port == 29500);
  CHECK(from({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_LAUNCH_NODE_IPADDR", "10.1.2.3"}, {"MASTER_ADDR", "node7"}}).master_addr ==
        "node7");
}

TEST_CASE("an inconsistent launcher environment is one line naming the variable") {
  using M = std::map<std::string, std::string>;
  CHECK_THROWS_WITH_AS(from(M{{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}),
                       "RANK=2 is not a rank of WORLD_SIZE=2 (ranks are 0..1)", DistError);
  CHECK_THROWS_WITH_AS(from(M{{"RANK", "x"}, {"WORLD_SIZE", "2"}}), "RANK=\"x\" is not an integer", DistError);
  CHECK_THROWS_WITH_AS(from(M{{"RANK", "0"}}), "RANK is set but WORLD_SIZE is not", DistError);
  CHECK_THROWS_WITH_AS(from(M{{"RANK", "0"}, {"WORLD_SIZE", "2"}}), "a job of several ranks needs MASTER_ADDR", DistError);
  CHECK_THROWS_WITH_AS(from(M{{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}}),
                       "MASTER_PORT=70000 is not a port (1..65535)", DistError);
  CHECK_THROWS_WITH_AS(from(M{{"RANK", "0"}, {"WORLD_SIZE", "0"}}), "WORLD_SIZE=0: a job has at least one rank", DistError);
  CHECK_THROWS_WITH_AS(from(M{{"SLURM_PROCID", "3"}, {"SLURM_NTASKS", "2"}, {"SLURM_LAUNCH_NODE_IPADDR", "h"}}),
                       "SLURM_PROCID=3 is not a rank of SLURM_NTASKS=2 (ranks are 0..1)", DistError);
}

TEST_CASE("two ranks on loopback: all-reduce in buckets, max and min, broadcast, barrier") {
  r1::test::TempDir dir;
  const int port = r1::test::free_loopback_port();
  Rank a = spawn_rank(dir, "collectives", 0, 2, port), b = spawn_rank(dir, "collectives", 1, 2, port);
  int ca = wait_rank(a, 60), cb = wait_rank(b, 60);
  INFO(r1::test::read_file(a.err_path) << r1::test::read_file(b.err_path));
  CHECK(ca == 0);
  CHECK(cb == 0);
  CHECK(r1::test::read_file(a.out_path) == "rank 0: collectives ok\n");
  CHECK(r1::test::read_file(b.out_path) == "rank 1: collectives ok\n");
}

TEST_CASE("an unreachable master and a lost rank end within the timeout, with the reason") {
  r1::test::TempDir dir;
  // Rank 1 of 2 with nobody hosting the store: the rendezvous gives up after its 2 s.
  auto t0 = std::chrono::steady_clock::now();
  Rank lone = spawn_rank(dir, "meet", 1, 2, r1::test::free_loopback_port(), {"R1_DIST_TIMEOUT=2"});
  int code = wait_rank(lone, 30);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(code == 2);
  CHECK(took < 15);
  CHECK(r1::test::read_file(lone.err_path).find("did not meet at 127.0.0.1:") != std::string::npos);
  // Rank 1 leaves after meeting: rank 0's next all-reduce fails instead of waiting for ever.
  const int port = r1::test::free_loopback_port();
  t0 = std::chrono::steady_clock::now();
  Rank a = spawn_rank(dir, "lose_rank", 0, 2, port, {"R1_DIST_TIMEOUT=5"}), b = spawn_rank(dir, "lose_rank", 1, 2, port, {"R1_DIST_TIMEOUT=5"});
  int cb = wait_rank(b, 30), ca = wait_rank(a, 30);
  took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(r1::test::read_file(a.err_path));
  CHECK(cb == 0);
  CHECK(ca == 2);
  CHECK(took < 25);
  CHECK(r1::test::read_file(a.err_path).find("rank 0: all-reduce of counts failed") != std::string::npos);
}

TEST_CASE("dist.backend: auto is NCCL on CUDA (when built with it) and Gloo on CPU; NCCL on CPU is refused with the reason") {
  r1::test::TempDir dir;
  Rank r = spawn_rank(dir, "backends", 0, 1, 29500);
  REQUIRE(wait_rank(r, 60) == 0);
  const std::string out = r1::test::read_file(r.out_path);
  const bool nccl = out.find("nccl built: yes") != std::string::npos;
  const std::string no_nccl = "error: dist.backend = \"nccl\": this r1 was built without NCCL (its LibTorch has no CUDA); use gloo";
  CHECK(out == std::string("auto on cpu: gloo\n") + "auto on cuda:0: " + (nccl ? "nccl" : "gloo") + "\n" +
                   "gloo on cpu: gloo\n"
                   "gloo on cuda:0: gloo\n"
                   "nccl on cpu: error: dist.backend = \"nccl\" carries CUDA tensors, but this run is on cpu (use gloo, or run.device = \"cuda\")\n" +
                   "nccl on cuda:0: " + (nccl ? "nccl" : no_nccl) + "\n" + "nccl built: " + (nccl ? "yes" : "no") + "\n");
}
