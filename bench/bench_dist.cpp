// bench_dist: what data parallelism costs and gives on this machine.
//   1. Gloo all-reduce between 2 ranks on loopback for 1, 16 and 256 MiB: bus bandwidth
//      (bytes x 2(n-1)/n per second) against a memcpy of the same bytes in the same process, the
//      loopback's ceiling.
//   2. GRPO step time of a demo-size policy (demo-v3.json, 1.2M parameters, B = 8 x G = 8) at
//      world size 1 with 2 threads and at world size 2 (`r1 launch --nproc 2`) with 1 thread each:
//      the same cores, so the ratio is the scaling efficiency.
//   3. Optimizer-state bytes per rank (AdamW's two moments, fp32) at world size 2, without and
//      with rl.shard_optimizer (ZeRO-1), as the run records them (dist/optimizer_state_mb).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "dist/process_group.h"
#include "experiments/run_store.h"

namespace {

const std::string kSource = R1_SOURCE_DIR;

struct Row {
  double mib, allreduce_s, memcpy_s;
};

// Rank `rank` of 2: times all-reduces of each size (median of 5 after one warm-up).
std::vector<Row> allreduce_rank(int rank, int port) {
  r1::dist::LaunchEnv env;
  env.launcher = r1::dist::Launcher::torchrun;
  env.rank = rank;
  env.world_size = 2;
  env.local_rank = rank;
  env.local_world_size = 2;
  env.master_port = port;
  r1::dist::DistOptions o;
  o.timeout_s = 120;
  o.bucket_bytes = size_t{1} << 30;
  r1::dist::ProcessGroup pg(env, o);
  std::vector<Row> rows;
  for (double mib : {1.0, 16.0, 256.0}) {
    const int64_t n = static_cast<int64_t>(mib * (1 << 20) / 4);
    torch::Tensor t = torch::ones({n});
    std::vector<double> times;
    for (int i = 0; i < 6; ++i) {
      pg.barrier();
      const double t0 = r1::bench::now_s();
      pg.all_reduce_sum({t});
      times.push_back(r1::bench::now_s() - t0);
    }
    std::sort(times.begin() + 1, times.end());
    torch::Tensor dst = torch::empty_like(t);
    std::vector<double> copies;
    for (int i = 0; i < 6; ++i) {
      const double t0 = r1::bench::now_s();
      std::memcpy(dst.data_ptr<float>(), t.data_ptr<float>(), static_cast<size_t>(n) * 4);
      copies.push_back(r1::bench::now_s() - t0);
    }
    std::sort(copies.begin() + 1, copies.end());
    rows.push_back({mib, times[3], copies[3]});
  }
  return rows;
}

struct Run {
  double step_s = -1, state_mb = -1;
};

// Mean time/step_s of steps 2.. of a GRPO run of the demo-size policy, and rank 0's optimizer state.
Run grpo_run(const std::string& dir, int ranks, bool shard) {
  const std::string db = dir + "/w" + std::to_string(ranks) + (shard ? "s" : "") + ".db";
  const std::string sets = " --set run.steps=6 --set run.eval_every=0 --set run.checkpoint_every=0 --set rl.beta=0 --set rl.mu=1"
                           " --set rl.n_minibatches=1 --set rl.prompts_per_step=8 --set rollout.max_new_tokens=48 --set run.out_dir=" + dir +
                           "/o" + std::to_string(ranks) + " --set model.init=" + kSource + "/experiments/recipes/models/demo-v3.json" +
                           " --set run.threads=" + std::to_string(ranks == 1 ? 2 : 1) + (shard ? " --set rl.shard_optimizer=true" : "");
  const std::string recipe = kSource + "/experiments/recipes/smoke.toml";
  std::string cmd = std::string(R1_BINARY) + " -q --db " + db + (ranks == 1 ? " train " : " launch --nproc 2 -- train ") + recipe + sets;
  cmd = (ranks == 1 ? "OMP_NUM_THREADS=2 " : "") + cmd + " > /dev/null 2>&1";
  Run out;
  if (std::system(cmd.c_str()) != 0) return out;
  auto store = r1::experiments::RunStore::open(db);
  auto rs = store.query("SELECT (SELECT AVG(value) FROM metrics WHERE key = 'time/step_s' AND step >= 2), "
                        "(SELECT MAX(value) FROM metrics WHERE key = 'dist/optimizer_state_mb')");
  out.step_s = std::stod(r1::experiments::cell_text(rs.rows[0][0]));
  if (!std::holds_alternative<std::monostate>(rs.rows[0][1])) out.state_mb = std::stod(r1::experiments::cell_text(rs.rows[0][1]));
  return out;
}

}  // namespace

int main() {
  namespace fs = std::filesystem;
  // 1. The all-reduce: this process is rank 0, a fork is rank 1 (before any torch thread exists).
  const int port = 29000 + static_cast<int>(getpid() % 2000);
  std::fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    allreduce_rank(1, port);
    _exit(0);
  }
  std::vector<Row> rows = allreduce_rank(0, port);
  int status = 0;
  waitpid(child, &status, 0);
  std::printf("%-10s %14s %14s %10s\n", "size MiB", "allreduce ms", "busbw GB/s", "memcpy GB/s");
  double bus256 = 0, copy256 = 0;
  for (const Row& r : rows) {
    const double bytes = r.mib * (1 << 20);
    const double busbw = bytes * 2.0 * (2 - 1) / 2 / r.allreduce_s / 1e9, copybw = bytes / r.memcpy_s / 1e9;
    std::printf("%-10.0f %14.2f %14.2f %10.2f\n", r.mib, r.allreduce_s * 1e3, busbw, copybw);
    if (r.mib == 256) bus256 = busbw, copy256 = copybw;
  }
  // 2. Step time at world size 1 and 2 on the same two cores.
  const fs::path dir = fs::temp_directory_path() / ("bench_dist-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const Run w1 = grpo_run(dir.string(), 1, false), w2 = grpo_run(dir.string(), 2, false), w2s = grpo_run(dir.string(), 2, true);
  const double t1 = w1.step_s, t2 = w2.step_s;
  std::printf("\nGRPO step, demo-v3 policy, B = 8 x G = 8, 48 new tokens:\n  world 1 (2 threads)        %.3f s/step\n"
              "  world 2 (1 thread each)    %.3f s/step\n  scaling efficiency         %.3f\n", t1, t2, t1 > 0 && t2 > 0 ? t1 / t2 : 0);
  // 3. Optimizer state per rank at world size 2 (AdamW's two fp32 moments; 1,239,820 parameters).
  std::printf("\noptimizer state of rank 0 at world 2: %.2f MB unsharded, %.2f MB with rl.shard_optimizer (%.2f); "
              "sharded step %.3f s\n", w2.state_mb, w2s.state_mb, w2s.state_mb / w2.state_mb, w2s.step_s);
  fs::remove_all(dir);
  std::printf("RESULT busbw_256mib_gbps=%.3f memcpy_gbps=%.3f busbw_vs_memcpy=%.3f step_s_world1=%.3f step_s_world2=%.3f "
              "scaling_efficiency=%.3f optimizer_mb_per_rank=%.2f optimizer_mb_per_rank_sharded=%.2f step_s_world2_sharded=%.3f\n",
              bus256, copy256, copy256 > 0 ? bus256 / copy256 : 0, t1, t2, t1 > 0 && t2 > 0 ? t1 / t2 : 0, w2.state_mb, w2s.state_mb,
              w2s.step_s);
  return t1 > 0 && t2 > 0 && w2s.step_s > 0 ? 0 : 1;
}
