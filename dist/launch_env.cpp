#include "dist/launch_env.h"

#include <charconv>
#include <cstdlib>
#include <string_view>

namespace r1::dist {
namespace {

// An integer variable, or `fallback` when unset; DistError naming it when it is not a number.
int int_var(const std::function<const char*(const char*)>& get, const char* name, int fallback) {
  const char* v = get(name);
  if (!v) return fallback;
  std::string_view s(v);
  int out = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size())
    throw DistError(std::string(name) + "=\"" + v + "\" is not an integer");
  return out;
}

// Slurm's SLURM_TASKS_PER_NODE looks like "2(x3),1": the first node's count is this job's shape
// on every node when the tasks are spread evenly, which is what data parallelism launches.
int leading_count(const char* v) {
  if (!v) return -1;
  int out = 0;
  std::string_view s(v);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p != s.data() ? out : -1;
}

void check(const LaunchEnv& e, const char* rank_var, const char* size_var) {
  if (e.world_size < 1) throw DistError(std::string(size_var) + "=" + std::to_string(e.world_size) + ": a job has at least one rank");
  if (e.rank < 0 || e.rank >= e.world_size)
    throw DistError(std::string(rank_var) + "=" + std::to_string(e.rank) + " is not a rank of " + size_var + "=" +
                    std::to_string(e.world_size) + " (ranks are 0.." + std::to_string(e.world_size - 1) + ")");
  if (e.local_world_size < 1 || e.local_rank < 0 || e.local_rank >= e.local_world_size)
    throw DistError("local rank " + std::to_string(e.local_rank) + " is not one of " + std::to_string(e.local_world_size) +
                    " local ranks");
  if (e.master_port < 1 || e.master_port > 65535)
    throw DistError("MASTER_PORT=" + std::to_string(e.master_port) + " is not a port (1..65535)");
  if (e.distributed() && e.master_addr.empty()) throw DistError("a job of several ranks needs MASTER_ADDR");
}

}  // namespace

const char* to_string(Launcher l) {
  switch (l) {
    case Launcher::torchrun: return "torchrun";
    case Launcher::slurm: return "slurm";
    default: return "single process";
  }
}

std::string LaunchEnv::describe() const {
  return "rank " + std::to_string(rank) + " of " + std::to_string(world_size) + " (" + to_string(launcher) + ", local " +
         std::to_string(local_rank) + " of " + std::to_string(local_world_size) + "), master " + master_addr + ":" +
         std::to_string(master_port);
}

LaunchEnv read_launch_env(const std::function<const char*(const char*)>& get) {
  LaunchEnv e;
  const char* addr = get("MASTER_ADDR");
  if (get("RANK") || get("WORLD_SIZE")) {
    // torchrun (or any launcher with its contract): RANK and WORLD_SIZE come together.
    if (!get("RANK") || !get("WORLD_SIZE")) throw DistError(std::string(get("RANK") ? "RANK" : "WORLD_SIZE") + " is set but " +
                                                            (get("RANK") ? "WORLD_SIZE" : "RANK") + " is not");
    e.launcher = Launcher::torchrun;
    e.rank = int_var(get, "RANK", 0);
    e.world_size = int_var(get, "WORLD_SIZE", 1);
    e.local_rank = int_var(get, "LOCAL_RANK", e.rank);
    e.local_world_size = int_var(get, "LOCAL_WORLD_SIZE", e.world_size);
    e.master_addr = addr ? addr : "";
    e.master_port = int_var(get, "MASTER_PORT", 29500);
    const char* agent = get("TORCHELASTIC_USE_AGENT_STORE");
    e.agent_store = agent && (std::string_view(agent) == "True" || std::string_view(agent) == "true" || std::string_view(agent) == "1");
    check(e, "RANK", "WORLD_SIZE");
    return e;
  }
  if (get("SLURM_PROCID") && get("SLURM_NTASKS")) {
    e.launcher = Launcher::slurm;
    e.rank = int_var(get, "SLURM_PROCID", 0);
    e.world_size = int_var(get, "SLURM_NTASKS", 1);
    e.local_rank = int_var(get, "SLURM_LOCALID", 0);
    int per_node = get("SLURM_NTASKS_PER_NODE") ? int_var(get, "SLURM_NTASKS_PER_NODE", 1) : leading_count(get("SLURM_TASKS_PER_NODE"));
    e.local_world_size = per_node > 0 ? per_node : e.world_size;
    const char* node = get("SLURM_LAUNCH_NODE_IPADDR");
    e.master_addr = addr ? addr : node ? node : "";
    e.master_port = int_var(get, "MASTER_PORT", 29500);
    check(e, "SLURM_PROCID", "SLURM_NTASKS");
    return e;
  }
  return e;
}

LaunchEnv read_launch_env() {
  return read_launch_env([](const char* name) -> const char* { return std::getenv(name); });
}

}  // namespace r1::dist
