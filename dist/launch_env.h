// Where this process stands among the ranks of a job, read from its launcher's environment:
// torchrun (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) or Slurm's
// srun (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE, with the master from
// MASTER_ADDR or SLURM_LAUNCH_NODE_IPADDR). No launcher: one rank.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>

namespace r1::dist {

// The job cannot start as configured (the environment, the rendezvous, a lost rank): one line
// naming the variable, the address or the rank.
class DistError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Launcher { none, torchrun, slurm };
const char* to_string(Launcher l);

struct LaunchEnv {
  Launcher launcher = Launcher::none;
  int rank = 0, world_size = 1;
  int local_rank = 0, local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // torchrun's agent already hosts the TCPStore at MASTER_ADDR:MASTER_PORT
  // (TORCHELASTIC_USE_AGENT_STORE=True): every rank joins it as a client.
  bool agent_store = false;
  bool distributed() const { return world_size > 1; }
  std::string describe() const;  // "rank 1 of 2 (torchrun, local 1 of 2), master 127.0.0.1:29500"
};

// `get(name)` returns the variable's value or nullptr (getenv; a map in tests). Throws DistError
// for an inconsistent environment: a non-number, RANK >= WORLD_SIZE, a port out of range, a
// distributed job without a master address.
LaunchEnv read_launch_env(const std::function<const char*(const char*)>& get);
LaunchEnv read_launch_env();  // from this process's environment

}  // namespace r1::dist
