// `r1 train` on several ranks (data parallelism over c10d/Gloo on loopback), each rank started with
// torchrun's environment contract: 2 ranks x B/2 prompts equal 1 rank x B prompts, with the
// estimators that need the whole batch too; a run resumes at another world size; a lost, hung or
// writing rank ends the others within the timeout, named, and the run is `crashed`; a bad
// environment or an unreachable master is exit 2 with the reason.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#include "tests/cli/store_helpers.h"
#include "tests/test_util.h"

using r1::test::TempDir;
using namespace r1::test::store;

namespace {

const std::string kSource = R1_SOURCE_DIR;


// The smoke recipe, deterministic, one thread, on-policy (one update per batch) and without the KL
// anchor: a step whose groups all score alike then has exactly zero gradient on any number of ranks.
// AdamW's eps is 1e-6: at 1e-8 its first update lr * g / (|g| + eps) turns the rounding of a
// gradient element that cancels to ~1e-8 (summed in another order over 2 ranks) into a weight
// difference of ~1e-6 (measured: 1.5e-5 of the tensor's scale on this machine), which says nothing
// about data parallelism.
std::vector<std::string> recipe_args(const std::string& out_dir, int steps) {
  return {"train", kSource + "/experiments/recipes/smoke.toml", "--set", "run.steps=" + std::to_string(steps), "--set",
          "model.init=" + kSource + "/experiments/recipes/models/smoke-v3.json", "--set",
          "model.tokenizer=" + kSource + "/experiments/recipes/tokenizers/demo-bpe", "--set", "run.out_dir=" + out_dir, "--set",
          "run.threads=1", "--set", "run.deterministic=true", "--set", "run.eval_every=0", "--set", "rl.mu=1", "--set",
          "rl.n_minibatches=1", "--set", "rl.beta=0", "--set", "rl.prompts_per_step=8", "--set", "dist.timeout_s=20", "--set",
          "rl.adam_eps=1e-6"};
}

// `r1 --db DB ARGS` as rank `rank` of `world` (world 0: no launcher variables at all).
pid_t spawn_rank(const std::string& cwd, const std::string& db, const std::vector<std::string>& args, int rank, int world, int port,
                 const std::string& tag) {
  std::fflush(stdout);  // the child must not repeat what this process has buffered
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);  // its own process group: kill(-pid) reaches the ranks a launcher starts
    if (chdir(cwd.c_str()) != 0) _exit(127);
    if (!freopen((tag + ".out").c_str(), "w", stdout) || !freopen((tag + ".err").c_str(), "w", stderr)) _exit(127);
    for (const char* v : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"}) unsetenv(v);
    if (world > 0) {
      setenv("RANK", std::to_string(rank).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", std::to_string(world).c_str(), 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    }
    setenv("OMP_NUM_THREADS", "1", 1);
    std::vector<std::string> all = {R1_BINARY, "--db", db};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(R1_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

// Exit code, or -1 after `seconds` (the process is then killed: nothing is left running).
int wait_exit(pid_t pid, double seconds) {
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

// Runs `args` on `world` ranks (1: a plain process) and returns rank 0's exit code.
int run_ranks(const TempDir& d, const std::string& db, const std::vector<std::string>& args, int world, const std::string& tag) {
  const int port = r1::test::free_loopback_port();
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) pids.push_back(spawn_rank(d.path.string(), db, args, r, world > 1 ? world : 0, port, tag + std::to_string(r)));
  int code0 = 0;
  for (int r = 0; r < world; ++r) {
    int c = wait_exit(pids[static_cast<size_t>(r)], 300);
    INFO(tag << " rank " << r << ": " << r1::test::read_file(d / (tag + std::to_string(r) + ".err")));
    CHECK(c == 0);
    if (r == 0) code0 = c;
  }
  return code0;
}

// The float32 tensors of a safetensors file, by name.
std::map<std::string, std::vector<float>> read_weights(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  std::string header(n, '\0');
  in.read(header.data(), static_cast<std::streamsize>(n));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::map<std::string, std::vector<float>> out;
  const nlohmann::json index = nlohmann::json::parse(header);
  for (auto& [name, v] : index.items()) {
    if (name == "__metadata__" || v["dtype"] != "F32") continue;
    const size_t a = v["data_offsets"][0], b = v["data_offsets"][1];
    std::vector<float> t((b - a) / 4);
    std::memcpy(t.data(), data.data() + a, b - a);
    out[name] = std::move(t);
  }
  return out;
}

// The largest difference of any weight, relative to its tensor's largest magnitude.
double weights_rel_diff(const std::string& a, const std::string& b) {
  auto wa = read_weights(a), wb = read_weights(b);
  REQUIRE(wa.size() == wb.size());
  REQUIRE(!wa.empty());
  double worst = 0;
  for (auto& [name, x] : wa) {
    const auto& y = wb.at(name);
    double scale = 0, diff = 0;
    for (size_t i = 0; i < x.size(); ++i) scale = std::max(scale, std::fabs(double(x[i]))), diff = std::max(diff, std::fabs(double(x[i]) - y[i]));
    worst = std::max(worst, scale > 0 ? diff / scale : diff);
  }
  return worst;
}

double rel(double a, double b) { return std::fabs(a - b) / std::max({std::fabs(a), std::fabs(b), 1e-12}); }

}  // namespace

// Every recorded sample, in order: step, task, completion, reward.
std::string all_samples(const std::string& db) {
  return scalar(db, "SELECT group_concat(step || '|' || task_id || '|' || completion || '|' || reward, char(10)) FROM (SELECT * FROM samples ORDER BY id)");
}

TEST_CASE("2 ranks x B/2 prompts equal 1 rank x B prompts after 4 steps; rank 0 alone writes the store") {
  TempDir d;
  const std::string one = d / "one.db", two = d / "two.db";
  auto args = [&](const std::string& out) {
    auto a = recipe_args(out, 4);
    a.insert(a.end(), {"--set", "run.samples_per_step=1000"});  // every sample, rank 1's included
    return a;
  };
  REQUIRE(run_ranks(d, one, args(d / "o1"), 1, "one") == 0);
  REQUIRE(run_ranks(d, two, args(d / "o2"), 2, "two") == 0);
  CHECK(scalar(two, "SELECT count(*) FROM samples") == "256");  // 4 steps x 8 prompts x 8 completions, gathered at rank 0
  CHECK(all_samples(one) == all_samples(two));
  CHECK(scalar(two, "SELECT count(*) FROM runs") == "1");
  CHECK(scalar(two, "SELECT status FROM runs") == "finished");
  CHECK(scalar(two, "SELECT count(*) FROM checkpoints") == "1");
  CHECK(series(two, 1, "dist/world_size") == std::vector<double>{2, 2, 2, 2});
  for (const char* key : {"reward", "accuracy", "completions/mean_length", "advantages/std", "completions/count"}) {
    INFO(key);
    CHECK(series(one, 1, key) == series(two, 1, key));  // the same completions were sampled
  }
  double worst = 0;
  auto g1 = series(one, 1, "grad_norm"), g2 = series(two, 1, "grad_norm");
  REQUIRE(g1.size() == 4);
  REQUIRE(g2.size() == 4);
  for (size_t i = 0; i < g1.size(); ++i) worst = std::max(worst, rel(g1[i], g2[i]));
  auto l1 = series(one, 1, "policy_loss"), l2 = series(two, 1, "policy_loss");
  for (size_t i = 0; i < l1.size(); ++i) CHECK(std::fabs(l1[i] - l2[i]) < 1e-6);  // the on-policy loss is ~0: compared absolutely
  const double w = weights_rel_diff(d / "o1/smoke-1/step-000004/model.safetensors", d / "o2/smoke-1/step-000004/model.safetensors");
  MESSAGE("grad_norm largest relative difference " << worst << "; weights " << w);
  CHECK(worst < 1e-5);
  CHECK(w < 1e-5);
  CHECK(g1[0] > 0);  // the comparison is of real gradients
}

// REINFORCE++ (tokens whitened over the batch) with an adaptive KL in the reward, and PPO's GAE with
// a separate critic and batch-whitened advantages: statistics over the whole batch and a second
// model's gradients, each summed or reduced across the ranks.
TEST_CASE("estimators that need the whole batch (REINFORCE++, GAE with a critic, batch scale, adaptive KL): 2 ranks equal 1") {
  struct Case {
    const char* name;
    std::vector<std::string> sets;
    std::vector<const char*> keys;
  };
  const std::vector<Case> cases = {
      {"reinforce_pp", {"rl.advantage=reinforce_pp", "rl.beta=0.05", "rl.kl_in=reward", "rl.kl_target=0.001"},
       {"reward", "advantages/std", "kl", "kl_coef", "grad_norm"}},
      {"gae", {"rl.advantage=gae", "rl.critic=separate", "rl.scale=batch", "rl.critic_lr=0.001"},
       {"reward", "grad_norm", "critic/value_loss", "critic/grad_norm", "critic/explained_variance", "critic/values_mean"}},
      {"grpo_batch", {"rl.scale=batch"}, {"reward", "advantages/std", "grad_norm"}}};
  for (const Case& c : cases) {
    TempDir d;
    auto args = [&](const std::string& out) {
      auto a = recipe_args(out, 3);
      for (const auto& s : c.sets) a.insert(a.end(), {"--set", s});
      return a;
    };
    const std::string one = d / "one.db", two = d / "two.db";
    REQUIRE(run_ranks(d, one, args(d / "o1"), 1, std::string(c.name) + "-one") == 0);
    REQUIRE(run_ranks(d, two, args(d / "o2"), 2, std::string(c.name) + "-two") == 0);
    for (const char* key : c.keys) {
      auto a = series(one, 1, key), b = series(two, 1, key);
      INFO(std::string(c.name) << " " << key);
      REQUIRE(a.size() == 3);
      REQUIRE(b.size() == 3);
      for (size_t i = 0; i < a.size(); ++i) CHECK(std::fabs(a[i] - b[i]) <= 1e-5 * std::max(1.0, std::fabs(a[i])));
    }
    CHECK(series(one, 1, "grad_norm")[0] > 0);
    const double w = weights_rel_diff(d / "o1/smoke-1/step-000003/model.safetensors", d / "o2/smoke-1/step-000003/model.safetensors");
    MESSAGE(std::string(c.name) << ": weights' largest relative difference " << w);
    CHECK(w < 1e-5);
  }
}

TEST_CASE("a 2-rank run killed after its step-2 checkpoint resumes on 2 ranks to exactly the uninterrupted run's figures") {
  TempDir d;
  const std::string whole = d / "whole.db", db = d / "runs.db";
  REQUIRE(run_ranks(d, whole, recipe_args(d / "ow", 4), 2, "whole") == 0);
  auto args = recipe_args(d / "ok", 4);
  args.insert(args.end(), {"--set", "run.checkpoint_every=2"});
  const int port = r1::test::free_loopback_port();
  pid_t r0 = spawn_rank(d.path.string(), db, args, 0, 2, port, "k0"), r1p = spawn_rank(d.path.string(), db, args, 1, 2, port, "k1");
  const bool saw = wait_for_row(db, "SELECT 1 FROM checkpoints WHERE step = 2", r0);
  kill(r0, SIGKILL);  // the whole job goes, as with a lost node
  kill(r1p, SIGKILL);
  wait_exit(r0, 30);
  wait_exit(r1p, 30);
  REQUIRE(saw);
  REQUIRE(run_ranks(d, db, {"train", "--resume", "1"}, 2, "resumed") == 0);
  CHECK(scalar(db, "SELECT status FROM runs WHERE id = 1") == "finished");
  for (const char* key : {"reward", "grad_norm", "policy_loss", "entropy", "completions/mean_length", "advantages/std"}) {
    INFO(key);
    CHECK(series(whole, 1, key) == series(db, 1, key));  // deterministic CPU run: bit for bit
  }
  CHECK(weights_rel_diff(d / "ow/smoke-1/step-000004/model.safetensors", d / "ok/smoke-1/step-000004/model.safetensors") == 0.0);
}

TEST_CASE("a run started on 1 rank resumes on 2 with the uninterrupted run's figures") {
  TempDir d;
  const std::string whole = d / "whole.db", db = d / "runs.db";
  REQUIRE(run_ranks(d, whole, recipe_args(d / "ow", 4), 1, "whole") == 0);
  // Killed once its step-2 checkpoint is registered, on 1 rank; resumed on 2.
  auto args = recipe_args(d / "ok", 4);
  args.insert(args.end(), {"--set", "run.checkpoint_every=2"});
  pid_t p = spawn_rank(d.path.string(), db, args, 0, 0, 0, "first");
  bool saw = wait_for_row(db, "SELECT 1 FROM checkpoints WHERE step = 2", p);
  kill(p, SIGKILL);
  wait_exit(p, 30);
  REQUIRE(saw);
  REQUIRE(run_ranks(d, db, {"train", "--resume", "1"}, 2, "resumed") == 0);
  CHECK(scalar(db, "SELECT status FROM runs WHERE id = 1") == "finished");
  auto a = series(whole, 1, "grad_norm"), b = series(db, 1, "grad_norm");
  REQUIRE(b.size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(rel(a[i], b[i]) < 1e-5);
  CHECK(series(whole, 1, "reward") == series(db, 1, "reward"));
  CHECK(weights_rel_diff(d / "ow/smoke-1/step-000004/model.safetensors", d / "ok/smoke-1/step-000004/model.safetensors") < 1e-5);
}

TEST_CASE("a lost rank ends the other within the timeout, named, and the run is crashed") {
  TempDir d;
  const std::string db = d / "runs.db";
  auto args = recipe_args(d / "o", 200);
  args.insert(args.end(), {"--set", "dist.timeout_s=5"});
  const int port = r1::test::free_loopback_port();
  pid_t r0 = spawn_rank(d.path.string(), db, args, 0, 2, port, "r0"), r1p = spawn_rank(d.path.string(), db, args, 1, 2, port, "r1");
  bool saw = wait_for_row(db, "SELECT 1 FROM metrics WHERE step >= 2", r0);
  kill(r1p, SIGKILL);
  wait_exit(r1p, 30);
  REQUIRE(saw);
  auto t0 = std::chrono::steady_clock::now();
  int c0 = wait_exit(r0, 60);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string err = r1::test::read_file(d / "r0.err");
  INFO(err);
  CHECK(c0 == 1);
  CHECK(took < 30);
  CHECK(err.find("rank 0: all-reduce of counts failed (rank 1 (pid " + std::to_string(r1p) + ") has exited)") != std::string::npos);
  CHECK(scalar(db, "SELECT status FROM runs WHERE id = 1") == "crashed");
}

TEST_CASE("a hung rank is named by its stalled heartbeat; a lost rank 0 ends the others at once and they mark the run crashed") {
  TempDir d;
  auto args = recipe_args(d / "o", 200);
  args.insert(args.end(), {"--set", "dist.timeout_s=10"});  // every wait's bound: short enough to test, long enough for a loaded CI
  {
    // SIGSTOP: the process is there (its pid says nothing) but neither computes nor beats.
    const std::string db = d / "hung.db";
    const int port = r1::test::free_loopback_port();
    pid_t r0 = spawn_rank(d.path.string(), db, args, 0, 2, port, "h0"), r1p = spawn_rank(d.path.string(), db, args, 1, 2, port, "h1");
    const bool saw = wait_for_row(db, "SELECT 1 FROM metrics WHERE step >= 2", r0);
    kill(r1p, SIGSTOP);
    auto t0 = std::chrono::steady_clock::now();
    const int c0 = wait_exit(r0, 60);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    kill(r1p, SIGKILL);
    wait_exit(r1p, 30);
    REQUIRE(saw);
    const std::string err = r1::test::read_file(d / "h0.err");
    INFO(err);
    CHECK(c0 == 1);
    CHECK(took < 30);
    CHECK(err.find("pid " + std::to_string(r1p) + ") stopped answering") != std::string::npos);
    CHECK(scalar(db, "SELECT status FROM runs WHERE id = 1") == "crashed");
  }
  {
    // SIGKILL of rank 0, the writer and the store's host: rank 1 stops within seconds and marks the run.
    const std::string db = d / "lost0.db";
    const int port = r1::test::free_loopback_port();
    pid_t r0 = spawn_rank(d.path.string(), db, args, 0, 2, port, "k0"), r1p = spawn_rank(d.path.string(), db, args, 1, 2, port, "k1");
    const bool saw = wait_for_row(db, "SELECT 1 FROM metrics WHERE step >= 2", r0);
    kill(r0, SIGKILL);
    wait_exit(r0, 30);
    auto t0 = std::chrono::steady_clock::now();
    const int c1 = wait_exit(r1p, 60);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    REQUIRE(saw);
    const std::string err = r1::test::read_file(d / "k1.err");
    INFO(err);
    CHECK(c1 == 1);
    CHECK(took < 15);
    CHECK(err.find("rank 0, which hosts the job's store at 127.0.0.1:" + std::to_string(port) + ", is unreachable") != std::string::npos);
    CHECK(scalar(db, "SELECT status FROM runs WHERE id = 1") == "crashed");
  }
}

TEST_CASE("bad launcher environments and a master that never comes are exit 2") {
  TempDir d;
  // RANK >= WORLD_SIZE: refused before anything runs.
  pid_t b = spawn_rank(d.path.string(), d / "bad.db", recipe_args(d / "ob", 1), 2, 2, r1::test::free_loopback_port(), "bad");
  CHECK(wait_exit(b, 30) == 2);
  CHECK(r1::test::read_file(d / "bad.err").find("RANK=2 is not a rank of WORLD_SIZE=2") != std::string::npos);
  // A rank whose master never comes: exit 2 once dist.timeout_s (2 s) has passed.
  auto lone_args = recipe_args(d / "ol", 1);
  lone_args.insert(lone_args.end(), {"--set", "dist.timeout_s=2"});
  auto t0 = std::chrono::steady_clock::now();
  pid_t lone = spawn_rank(d.path.string(), d / "lone.db", lone_args, 1, 2, r1::test::free_loopback_port(), "lone");
  CHECK(wait_exit(lone, 60) == 2);
  CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 30);
  CHECK(r1::test::read_file(d / "lone.err").find("did not meet at 127.0.0.1:") != std::string::npos);
}

TEST_CASE("the real launchers: torchrun (Debian's python3-torch) and r1 launch leave one run with every step") {
  TempDir d;
  auto args = recipe_args(d / "o", 2);
  std::string recipe_cmd;
  for (const auto& a : args) recipe_cmd += " " + r1::test::shell_quote(a);
  // r1 launch: torchrun's environment, no Python.
  auto l = r1::test::run_r1("--db launch.db launch --nproc 2 --" + recipe_cmd, d.path.string());
  INFO(l.err);
  CHECK(l.exit_code == 0);
  CHECK(scalar(d / "launch.db", "SELECT status FROM runs") == "finished");
  CHECK(scalar(d / "launch.db", "SELECT count(*) FROM metrics WHERE key = 'dist/world_size' AND value = 2") == "2");
  auto bad = r1::test::run_r1("--db launch.db launch --nproc 2 -- sql 'SELECT 1'", d.path.string());
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("r1 launch runs `train` or `rollout worker` on every rank") != std::string::npos);
  // torchrun 1.13 under Python 3.11 needs --redirects 2 --tee 2 (see the README).
  if (access("/usr/bin/torchrun", X_OK) != 0) {
    MESSAGE("SKIP torchrun: /usr/bin/torchrun is not installed (scripts/setup.sh installs python3-torch)");
    return;
  }
  const std::string cmd = "cd " + r1::test::shell_quote(d.path.string()) + " && OMP_NUM_THREADS=1 timeout 300 torchrun --no_python --nproc_per_node 2 --master_port " +
                          std::to_string(r1::test::free_loopback_port()) + " --redirects 2 --tee 2 " + R1_BINARY + " --db torchrun.db" + recipe_cmd + " > torchrun.log 2>&1";
  CHECK(std::system(cmd.c_str()) == 0);
  INFO(r1::test::read_file(d / "torchrun.log"));
  CHECK(scalar(d / "torchrun.db", "SELECT status FROM runs") == "finished");
  CHECK(scalar(d / "torchrun.db", "SELECT count(*) FROM metrics WHERE key = 'dist/world_size' AND value = 2") == "2");
  CHECK(series(d / "torchrun.db", 1, "grad_norm") == series(d / "launch.db", 1, "grad_norm"));
}

TEST_CASE("Ctrl-C on r1 launch stops every rank at the same step; rank 0 checkpoints once and marks the run interrupted") {
  TempDir d;
  const std::string db = d / "runs.db";
  std::vector<std::string> args = {"launch", "--nproc", "2", "--"};
  for (const auto& a : recipe_args(d / "o", 200)) args.push_back(a);
  pid_t launcher = spawn_rank(d.path.string(), db, args, 0, 0, 0, "launch");
  bool saw = wait_for_row(db, "SELECT 1 FROM metrics WHERE step >= 2", launcher);
  kill(launcher, SIGINT);
  const int code = wait_exit(launcher, 120);
  INFO(r1::test::read_file(d / "launch.err"));
  REQUIRE(saw);
  CHECK(code == 130);
  CHECK(scalar(db, "SELECT status FROM runs WHERE id = 1") == "interrupted");
  const std::string last = scalar(db, "SELECT MAX(step) FROM metrics WHERE run_id = 1");
  CHECK(scalar(db, "SELECT count(*) FROM checkpoints WHERE run_id = 1") == "1");
  CHECK(scalar(db, "SELECT step FROM checkpoints WHERE run_id = 1") == last);
}

TEST_CASE("rl.shard_optimizer (ZeRO-1): each of 2 ranks holds about half the optimizer state, the run matches 1 rank, and it resumes on 1") {
  TempDir d;
  const std::string whole = d / "whole.db", db = d / "runs.db";
  REQUIRE(run_ranks(d, whole, recipe_args(d / "ow", 4), 1, "whole") == 0);
  std::vector<std::string> args = {"launch", "--nproc", "2", "--"};
  for (const auto& a : recipe_args(d / "os", 4)) args.push_back(a);
  args.insert(args.end(), {"--set", "rl.shard_optimizer=true", "--set", "run.checkpoint_every=2"});
  // Killed (the launcher and both ranks) once the step-2 checkpoint is registered...
  pid_t launcher = spawn_rank(d.path.string(), db, args, 0, 0, 0, "sharded");
  bool saw = wait_for_row(db, "SELECT 1 FROM checkpoints WHERE step = 2", launcher);
  kill(-launcher, SIGKILL);
  wait_exit(launcher, 30);
  REQUIRE(saw);
  auto mb = series(db, 1, "dist/optimizer_state_mb");
  REQUIRE(mb.size() >= 2);
  // ...then resumed on one rank: the checkpoint holds the whole optimizer state.
  REQUIRE(run_ranks(d, db, {"train", "--resume", "1"}, 1, "resumed") == 0);
  auto a = series(whole, 1, "grad_norm"), b = series(db, 1, "grad_norm");
  REQUIRE(b.size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(rel(a[i], b[i]) < 1e-5);
  CHECK(weights_rel_diff(d / "ow/smoke-1/step-000004/model.safetensors", d / "os/smoke-1/step-000004/model.safetensors") < 1e-5);
  // The unsharded optimizer state of this model, from a 2-rank run without sharding, against rank 0's share.
  std::vector<std::string> plain = {"launch", "--nproc", "2", "--"};
  for (const auto& x : recipe_args(d / "op", 1)) plain.push_back(x);
  CHECK(r1::test::run_r1("--db plain.db " + [&] { std::string s; for (auto& x : plain) s += " " + r1::test::shell_quote(x); return s; }(), d.path.string()).exit_code == 0);
  const double full = series(d / "plain.db", 1, "dist/optimizer_state_mb").at(0);
  MESSAGE("optimizer state per rank: " << full << " MB unsharded, " << mb[0] << " MB sharded over 2 ranks");
  CHECK(mb[0] < 0.6 * full);
  CHECK(mb[0] > 0.4 * full);
}
