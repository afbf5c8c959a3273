// `r1 launch --nproc N [--nnodes M --node-rank K --master HOST:PORT] -- train RECIPE ...`: starts
// this machine's ranks of a data-parallel job with torchrun's environment contract (RANK,
// WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), for users without Python.
// Ctrl-C and SIGTERM go to every rank; when a rank fails the others are stopped, and the first
// failing rank's exit code is returned. `r1 launch --nproc N -- rollout worker --connect ...` starts
// N rollout workers the same way (they ignore the rank variables).
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>

#include "cli/cli_common.h"

namespace r1::cli {
namespace {

std::vector<pid_t> g_ranks;  // read by the signal handler

void forward_signal(int sig) {
  for (pid_t p : g_ranks)
    if (p > 0) kill(p, sig);
}

int free_loopback_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 29500;
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0) port = ntohs(a.sin_port);
  close(s);
  return port;
}

struct LaunchArgs {
  int nproc = 1, nnodes = 1, node_rank = 0;
  std::string master;  // HOST:PORT; default 127.0.0.1 and a free port (one node)
  std::vector<std::string> command;
};

pid_t start_rank(const Context& ctx, const LaunchArgs& a, const std::string& host, int port, int local) {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid != 0) return pid;
  const int world = a.nnodes * a.nproc, rank = a.node_rank * a.nproc + local;
  setenv("RANK", std::to_string(rank).c_str(), 1);
  setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
  setenv("LOCAL_RANK", std::to_string(local).c_str(), 1);
  setenv("LOCAL_WORLD_SIZE", std::to_string(a.nproc).c_str(), 1);
  setenv("GROUP_RANK", std::to_string(a.node_rank).c_str(), 1);
  setenv("MASTER_ADDR", host.c_str(), 1);
  setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
  unsetenv("TORCHELASTIC_USE_AGENT_STORE");  // rank 0 hosts the store
  // As torchrun: one OpenMP thread per rank unless the user chose (ranks share the cores).
  if (a.nproc > 1) setenv("OMP_NUM_THREADS", getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS") : "1", 1);
  std::vector<std::string> args = {"/proc/self/exe", "--db", ctx.db_path};
  if (ctx.quiet) args.push_back("--quiet");
  if (ctx.json) args.push_back("--json");
  args.insert(args.end(), a.command.begin(), a.command.end());
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  execv("/proc/self/exe", argv.data());
  std::perror("r1 launch: exec");
  _exit(127);
}

// Waits for every rank; after the first failure the others get SIGTERM (then SIGKILL after 10 s).
int wait_ranks(int nproc) {
  int first_failure = 0, left = nproc;
  auto kill_after = std::chrono::steady_clock::time_point::max();
  while (left > 0) {
    int status = 0;
    pid_t p = waitpid(-1, &status, WNOHANG);
    if (p <= 0) {
      if (std::chrono::steady_clock::now() > kill_after) forward_signal(SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    auto it = std::find(g_ranks.begin(), g_ranks.end(), p);
    if (it == g_ranks.end()) continue;
    const int local = static_cast<int>(it - g_ranks.begin());
    *it = -1;
    --left;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0 && first_failure == 0) {
      first_failure = code;
      std::cerr << "r1 launch: local rank " << local << " exited with " << code << "; stopping the others\n";
      forward_signal(SIGTERM);
      kill_after = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    }
  }
  return first_failure;
}

}  // namespace

void add_launch_command(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<LaunchArgs>();
  auto* c = app.add_subcommand("launch", "Start this machine's ranks of a data-parallel job (torchrun's environment, no Python): r1 launch --nproc N -- train RECIPE (or -- rollout worker ...)");
  c->add_option("--nproc", a->nproc, "ranks on this machine")->required()->check(CLI::Range(1, 1024));
  c->add_option("--nnodes", a->nnodes, "machines in the job")->check(CLI::Range(1, 100000));
  c->add_option("--node-rank", a->node_rank, "this machine's index, 0..nnodes-1");
  c->add_option("--master", a->master, "HOST:PORT of rank 0's rendezvous (default: 127.0.0.1 and a free port, one machine only)");
  c->add_option("command", a->command, "the r1 command every rank runs, after --")->required();
  c->callback([a, &ctx] {
    if (a->node_rank < 0 || a->node_rank >= a->nnodes)
      throw InputError("--node-rank " + std::to_string(a->node_rank) + " is not one of --nnodes " + std::to_string(a->nnodes) + " machines");
    std::string host = "127.0.0.1";
    int port = 0;
    if (a->master.empty()) {
      if (a->nnodes > 1) throw InputError("--nnodes " + std::to_string(a->nnodes) + ": every machine needs the same --master HOST:PORT");
      port = free_loopback_port();
    } else {
      const size_t colon = a->master.rfind(':');
      char* end = nullptr;
      long p = colon == std::string::npos ? 0 : std::strtol(a->master.c_str() + colon + 1, &end, 10);
      if (colon == std::string::npos || colon == 0 || !end || *end || p < 1 || p > 65535)
        throw InputError("--master " + a->master + ": expected HOST:PORT");
      host = a->master.substr(0, colon);
      port = static_cast<int>(p);
    }
    const bool train = !a->command.empty() && a->command[0] == "train";
    const bool workers = a->command.size() >= 2 && a->command[0] == "rollout" && a->command[1] == "worker";
    if (!train && !workers)
      throw InputError("r1 launch runs `train` or `rollout worker` on every rank (got '" + (a->command.empty() ? std::string() : a->command[0]) + "')");
    struct sigaction sa{};
    sa.sa_handler = forward_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    g_ranks.assign(static_cast<size_t>(a->nproc), 0);
    for (int local = 0; local < a->nproc; ++local) g_ranks[static_cast<size_t>(local)] = start_rank(ctx, *a, host, port, local);
    const int code = wait_ranks(a->nproc);
    if (code != 0) std::exit(code);
  });
}

}  // namespace r1::cli
