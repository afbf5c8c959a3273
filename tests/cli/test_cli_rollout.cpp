// `r1 train` with rollout.backend = "remote" and `r1 rollout worker` processes, all on loopback:
// a learner and two workers record the in-process run's metrics and samples at k = 0; a worker
// SIGKILLed mid-step has its groups re-issued (and one that joins mid-run takes them), with the
// same metrics; asynchronous k = 1 never trains on a sample more than one version old; a learner
// SIGKILLed and resumed is rejoined by its worker and reproduces the uninterrupted run; a wrong
// token or another model is refused with the reason.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <regex>
#include <thread>

#include "tests/cli/store_helpers.h"
#include "tests/test_util.h"

using r1::test::TempDir;
using namespace r1::test::store;

namespace {

const std::string kSource = R1_SOURCE_DIR;

// The smoke recipe, deterministic on one thread, every sample recorded.
std::vector<std::string> train_args(const std::string& out_dir, int steps, const std::vector<std::string>& sets = {}) {
  std::vector<std::string> a = {"train", kSource + "/experiments/recipes/smoke.toml"};
  std::vector<std::string> all = {"run.steps=" + std::to_string(steps), "model.init=" + kSource + "/experiments/recipes/models/smoke-v3.json",
                                  "model.tokenizer=" + kSource + "/experiments/recipes/tokenizers/demo-bpe", "run.out_dir=" + out_dir,
                                  "run.threads=1", "run.deterministic=true", "run.eval_every=0", "run.samples_per_step=1000",
                                  "run.checkpoint_every=2"};
  all.insert(all.end(), sets.begin(), sets.end());
  for (const auto& s : all) a.insert(a.end(), {"--set", s});
  return a;
}

// Every process a test starts, killed (and reaped) when the test ends however it ends.
class Processes {
 public:
  explicit Processes(std::string cwd) : cwd_(std::move(cwd)) {}
  ~Processes() {
    for (auto& [pid, tag] : running_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  // `r1 --db DB ARGS` with stdout/stderr in TAG.out/TAG.err and `env` set.
  pid_t start(const std::string& tag, const std::string& db, const std::vector<std::string>& args,
              const std::vector<std::pair<std::string, std::string>>& env = {}) {
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
      if (chdir(cwd_.c_str()) != 0) _exit(127);
      if (!freopen((tag + ".out").c_str(), "w", stdout) || !freopen((tag + ".err").c_str(), "w", stderr)) _exit(127);
      unsetenv("R1_ROLLOUT_TOKEN");
      for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
      setenv("OMP_NUM_THREADS", "1", 1);
      std::vector<std::string> all = {R1_BINARY, "--db", db};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& s : all) argv.push_back(s.data());
      argv.push_back(nullptr);
      execv(R1_BINARY, argv.data());
      _exit(127);
    }
    running_[pid] = tag;
    return pid;
  }
  // Exit code (128 + signal when killed by one), or -1 after `seconds` (then it is killed).
  int wait(pid_t pid, double seconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    int status = 0;
    for (;;) {
      if (waitpid(pid, &status, WNOHANG) == pid) break;
      if (std::chrono::steady_clock::now() > until) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        running_.erase(pid);
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    running_.erase(pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string err(const std::string& tag) const { return r1::test::read_file(cwd_ + "/" + tag + ".err"); }

 private:
  std::string cwd_;
  std::map<pid_t, std::string> running_;
};

bool eventually(const std::function<bool()>& ok, double seconds = 60) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!ok()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// The port the learner printed ("rollout service listening on 127.0.0.1:PORT"), 0 until it has.
int printed_port(const Processes& p, const std::string& tag) {
  std::smatch m;
  const std::string err = p.err(tag);
  return std::regex_search(err, m, std::regex("rollout service listening on 127\\.0\\.0\\.1:([0-9]+)")) ? std::stoi(m[1]) : 0;
}

int64_t steps_recorded(const std::string& db) {
  const std::string s = scalar(db, "SELECT max(step) FROM metrics");
  return s.empty() ? 0 : std::stoll(s);
}

// The metrics of run 1 that must match between backends: everything but wall-clock figures and
// the remote backend's own (async/*, rollout/*).
std::map<std::pair<int64_t, std::string>, std::string> learning_metrics(const std::string& db) {
  auto m = reproducible_metrics(db, 1);
  for (auto it = m.begin(); it != m.end();)
    it = it->first.second.rfind("async/", 0) == 0 || it->first.second.rfind("rollout/", 0) == 0 ? m.erase(it) : std::next(it);
  return m;
}

std::string all_samples(const std::string& db) {
  return scalar(db, "SELECT group_concat(step || '|' || task_id || '|' || completion || '|' || reward || '|' || weight_version, char(10)) "
                    "FROM (SELECT * FROM samples ORDER BY id)");
}

void check_same_run(const std::string& reference, const std::string& remote) {
  const auto a = learning_metrics(reference), b = learning_metrics(remote);
  CHECK(a.size() > 40);
  CHECK(a.size() == b.size());
  int differing = 0;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    // The engine's log-probs of a sequence depend in their last bits on which sequences shared its
    // batch (a worker's batches are not the learner's), and mismatch/* measures exactly those bits.
    const bool rounding = k.second.rfind("mismatch/", 0) == 0 && it != b.end() && std::fabs(std::stod(v) - std::stod(it->second)) < 1e-9;
    if (it == b.end() || (it->second != v && !rounding))
      if (++differing <= 5) MESSAGE("step " << k.first << " " << k.second << ": " << v << " vs " << (it == b.end() ? "missing" : it->second));
  }
  CHECK(differing == 0);
  CHECK(all_samples(reference) == all_samples(remote));
}

double metric_sum(const std::string& db, const std::string& key) {
  double s = 0;
  for (double v : series(db, 1, key)) s += v;
  return s;
}

// The groups a worker served, from its last line when stopped with SIGINT.
int groups_served(const Processes& p, const std::string& tag) {
  std::smatch m;
  const std::string err = p.err(tag);
  return std::regex_search(err, m, std::regex("stopped after ([0-9]+) groups")) ? std::stoi(m[1]) : -1;
}

// A learner on a fixed port (the worker knows only that) with one worker, SIGKILLed once its
// step-4 checkpoint is registered and resumed with `r1 train --resume 1`; the worker is stopped
// after. Its log is in "w.err".
void kill_and_resume_with_worker(Processes& p, const std::string& db, const std::string& out, int steps, const std::vector<std::string>& sets) {
  const std::string at = "127.0.0.1:" + std::to_string(r1::test::free_loopback_port());
  std::vector<std::string> all = {"rollout.backend=remote", "rollout.listen=" + at};
  all.insert(all.end(), sets.begin(), sets.end());
  const pid_t learner = p.start("learner", db, train_args(out, steps, all));
  const pid_t w = p.start("w", db, {"rollout", "worker", "--connect", at});
  REQUIRE(eventually([&] { return !query(db, "SELECT 1 FROM checkpoints WHERE step = 4").empty(); }, 120));
  kill(learner, SIGKILL);  // with k >= 1 the batches sampled ahead are lost with the process
  CHECK(p.wait(learner, 10) == 128 + SIGKILL);
  CHECK(scalar(db, "SELECT status FROM runs WHERE id = 1") == "running");
  const pid_t resumed = p.start("resumed", db, {"train", "--resume", "1"});
  INFO(p.err("resumed"));
  REQUIRE(p.wait(resumed, 300) == 0);
  kill(w, SIGINT);
  CHECK(p.wait(w, 30) == 0);
}

}  // namespace

TEST_CASE("a learner and two worker processes at k = 0 record the in-process run's metrics and samples") {
  TempDir d;
  Processes p(d.path.string());
  const std::string ref = d / "ref.db", db = d / "remote.db";
  REQUIRE(p.wait(p.start("ref", ref, train_args(d / "o1", 4)), 300) == 0);

  const pid_t learner = p.start("learner", db, train_args(d / "o2", 4, {"rollout.backend=remote"}));
  REQUIRE(eventually([&] { return printed_port(p, "learner") > 0; }));
  const std::string at = "127.0.0.1:" + std::to_string(printed_port(p, "learner"));
  const pid_t a = p.start("a", db, {"rollout", "worker", "--connect", at, "--slots", "16"});
  const pid_t b = p.start("b", db, {"rollout", "worker", "--connect", at, "--slots", "16"});
  INFO(p.err("learner"));
  REQUIRE(p.wait(learner, 300) == 0);
  kill(a, SIGINT);
  kill(b, SIGINT);
  CHECK(p.wait(a, 30) == 0);
  CHECK(p.wait(b, 30) == 0);
  check_same_run(ref, db);
  CHECK(groups_served(p, "a") > 0);  // both took part: 4 steps x 4 groups between them
  CHECK(groups_served(p, "b") > 0);
  CHECK(groups_served(p, "a") + groups_served(p, "b") == 16);
  CHECK(scalar(db, "SELECT tag FROM tags WHERE run_id = 1 AND tag LIKE 'rollout_service=%'") == "rollout_service=" + at);
  CHECK(series(db, 1, "rollout/workers").back() == 2);  // b may join after step 1 on a busy machine
  CHECK(series(db, 1, "async/staleness_max") == std::vector<double>{0, 0, 0, 0});
  CHECK(metric_sum(db, "rollout/weight_sync_mb") > 0);
}

TEST_CASE("weights by c10d broadcast (rollout.weight_sync = c10d) to two fixed workers: the in-process run's metrics; a third worker is refused") {
  TempDir d;
  Processes p(d.path.string());
  const std::string ref = d / "ref.db", db = d / "c10d.db";
  REQUIRE(p.wait(p.start("ref", ref, train_args(d / "o1", 4)), 300) == 0);
  const pid_t learner = p.start("learner", db, train_args(d / "o2", 4, {"rollout.backend=remote", "rollout.weight_sync=c10d", "rollout.workers=2"}));
  REQUIRE(eventually([&] { return printed_port(p, "learner") > 0; }));
  const std::string at = "127.0.0.1:" + std::to_string(printed_port(p, "learner"));
  const pid_t a = p.start("a", db, {"rollout", "worker", "--connect", at});
  const pid_t b = p.start("b", db, {"rollout", "worker", "--connect", at});
  REQUIRE(eventually([&] { return p.err("learner").find("worker 2 (") != std::string::npos; }));
  const pid_t c = p.start("c", db, {"rollout", "worker", "--connect", at});
  CHECK(p.wait(c, 60) == 1);
  CHECK(p.err("c").find("rollout.workers = 2 workers have joined already") != std::string::npos);
  INFO(p.err("learner"));
  REQUIRE(p.wait(learner, 300) == 0);
  kill(a, SIGINT);
  kill(b, SIGINT);
  CHECK(p.wait(a, 30) == 0);
  CHECK(p.wait(b, 30) == 0);
  CHECK(p.err("a").find("joining the c10d weight group as rank") != std::string::npos);
  check_same_run(ref, db);
  for (double mb : series(db, 1, "rollout/weight_sync_mb")) CHECK(mb > 0);
}

TEST_CASE("workers started by `r1 launch --nproc 2 -- rollout worker` serve a learner and stop with it on Ctrl-C") {
  TempDir d;
  Processes p(d.path.string());
  const std::string db = d / "runs.db";
  const pid_t learner = p.start("learner", db, train_args(d / "o", 3, {"rollout.backend=remote"}));
  REQUIRE(eventually([&] { return printed_port(p, "learner") > 0; }));
  const pid_t launch = p.start("launch", db, {"launch", "--nproc", "2", "--", "rollout", "worker", "--connect",
                                              "127.0.0.1:" + std::to_string(printed_port(p, "learner")), "--slots", "16"});
  INFO(p.err("learner"));
  REQUIRE(p.wait(learner, 300) == 0);
  CHECK(p.err("learner").find("worker 2 (") != std::string::npos);  // both joined
  CHECK(series(db, 1, "rollout/workers").size() == 3);
  kill(launch, SIGINT);  // forwarded to both workers
  CHECK(p.wait(launch, 30) == 0);
  CHECK(p.err("launch").find("stopped after") != std::string::npos);
}

TEST_CASE("a worker SIGKILLed mid-step: its groups go to a worker that joined mid-run; nothing is lost or counted twice") {
  TempDir d;
  Processes p(d.path.string());
  const int steps = 16;
  const std::string ref = d / "ref.db", db = d / "remote.db";
  REQUIRE(p.wait(p.start("ref", ref, train_args(d / "o1", steps)), 300) == 0);

  const pid_t learner = p.start("learner", db, train_args(d / "o2", steps, {"rollout.backend=remote"}));
  // With no worker yet the learner waits and says why.
  REQUIRE(eventually([&] { return p.err("learner").find("waiting for a worker to join") != std::string::npos; }));
  const std::string at = "127.0.0.1:" + std::to_string(printed_port(p, "learner"));
  const pid_t a = p.start("a", db, {"rollout", "worker", "--connect", at});
  REQUIRE(eventually([&] { return steps_recorded(db) >= 2; }));
  // Frozen, `a` holds the groups of the step under way (it is the only worker, so it was handed
  // all of them) and the learner waits; `b` joins meanwhile; then `a` dies without a word (unless
  // its silence, 5 missed heartbeats, got it dropped first: either way its groups go to `b`).
  kill(a, SIGSTOP);
  const int64_t stalled_at = steps_recorded(db);
  const pid_t b = p.start("b", db, {"rollout", "worker", "--connect", at});
  REQUIRE(eventually([&] { return p.err("learner").find("worker 2 (") != std::string::npos; }));
  kill(a, SIGKILL);
  CHECK(p.wait(a, 10) == 128 + SIGKILL);
  INFO(p.err("learner"));
  REQUIRE(p.wait(learner, 300) == 0);
  kill(b, SIGINT);
  CHECK(p.wait(b, 30) == 0);
  CHECK(stalled_at < steps);  // the kill came mid-run
  CHECK(metric_sum(db, "rollout/groups_reissued") >= 1);
  CHECK(p.err("learner").find("worker 1 left") != std::string::npos);
  check_same_run(ref, db);
}

// A learner with one worker, `sets` added; the run's store.
void run_with_worker(Processes& p, const std::string& db, const std::string& out, int steps, const std::vector<std::string>& sets,
                     const std::string& tag) {
  std::vector<std::string> all = {"rollout.backend=remote"};
  all.insert(all.end(), sets.begin(), sets.end());
  const pid_t learner = p.start(tag, db, train_args(out, steps, all));
  REQUIRE(eventually([&] { return printed_port(p, tag) > 0; }));
  const pid_t w = p.start(tag + "-w", db, {"rollout", "worker", "--connect", "127.0.0.1:" + std::to_string(printed_port(p, tag))});
  INFO(p.err(tag));
  REQUIRE(p.wait(learner, 300) == 0);
  kill(w, SIGINT);
  CHECK(p.wait(w, 30) == 0);
}

// Every sample of run 1 is at most one version old; returns how many are exactly one.
int check_at_most_one_behind(const std::string& db, int steps) {
  const auto rows = query(db, "SELECT step, weight_version FROM samples WHERE run_id = 1");
  REQUIRE(rows.size() == static_cast<size_t>(steps * 4 * 8));
  int one_behind = 0;
  for (const auto& r : rows) {  // step s trains with version s - 1
    const int64_t lag = std::stoll(r[0]) - 1 - std::stoll(r[1]);
    CHECK(lag >= 0);
    CHECK(lag <= 1);
    one_behind += lag == 1;
  }
  for (double v : series(db, 1, "async/staleness_max")) CHECK(v <= 1);
  CHECK(series(db, 1, "async/dropped") == std::vector<double>(static_cast<size_t>(steps), 0.0));
  return one_behind;
}

TEST_CASE("asynchronous GRPO with k = 1: no trained sample is more than one version old, and most are exactly one") {
  TempDir d;
  Processes p(d.path.string());
  const int steps = 6;
  run_with_worker(p, d / "async.db", d / "o", steps, {"rollout.max_staleness=1", "rl.is_correction=tis"}, "async");
  CHECK(check_at_most_one_behind(d / "async.db", steps) >= (steps - 1) * 4 * 8);  // every step after the first was sampled ahead
  CHECK(series(d / "async.db", 1, "is/mean_weight").size() == static_cast<size_t>(steps));
  CHECK(series(d / "async.db", 1, "async/inflight_token_frac") == std::vector<double>(steps, 0.0));  // no in-flight updates asked for

  // With in-flight updates the bound holds on each completion's first version, and tokens record theirs.
  run_with_worker(p, d / "inflight.db", d / "o2", steps, {"rollout.max_staleness=1", "rl.is_correction=tis", "rollout.inflight_update=true"},
                  "inflight");
  check_at_most_one_behind(d / "inflight.db", steps);
  for (double f : series(d / "inflight.db", 1, "async/inflight_token_frac")) {
    CHECK(f >= 0);
    CHECK(f <= 1);
  }
  CHECK(p.err("inflight-w").find("in-flight weight updates") != std::string::npos);
}

TEST_CASE("k = 1, the learner SIGKILLed and resumed: the checkpoint kept the batch sampled ahead, and the run equals the uninterrupted one") {
  TempDir d;
  Processes p(d.path.string());
  const int steps = 8;
  const std::string whole = d / "whole.db", db = d / "killed.db";
  run_with_worker(p, whole, d / "o1", steps, {"rollout.max_staleness=1"}, "whole");

  kill_and_resume_with_worker(p, db, d / "o2", steps, {"rollout.max_staleness=1"});
  auto prompts = [](const std::string& store) {
    return query(store, "SELECT step, group_concat(task_id, ' ') FROM (SELECT step, task_id FROM samples WHERE run_id = 1 ORDER BY id) GROUP BY step");
  };
  CHECK(prompts(whole).size() == static_cast<size_t>(steps));
  CHECK(prompts(whole) == prompts(db));
  // The step-4 checkpoint kept step 5's batch, sampled ahead with version 3: the resumed run trains
  // on those very completions, and so reproduces the uninterrupted run.
  CHECK(p.err("resumed").find("resuming with 1 batch sampled ahead, 4 groups of completions kept") != std::string::npos);
  check_same_run(whole, db);
}

TEST_CASE("the learner SIGKILLed and resumed: its worker reconnects, is sent the restored version, and the run equals an uninterrupted one") {
  TempDir d;
  Processes p(d.path.string());
  const int steps = 8;
  const std::string ref = d / "ref.db", db = d / "remote.db";
  REQUIRE(p.wait(p.start("ref", ref, train_args(d / "o1", steps)), 300) == 0);

  kill_and_resume_with_worker(p, db, d / "o2", steps, {});
  const std::string werr = p.err("w");
  INFO(werr);
  CHECK(werr.find("joined as worker 1 (weights version 0)") != std::string::npos);
  // It rejoined the restarted learner by itself and was sent the checkpoint's version (4, or 6 when
  // the kill came after the next checkpoint).
  CHECK(std::regex_search(werr, std::regex("joined as worker 1 \\(weights version [46]\\)")));
  check_same_run(ref, db);
}

TEST_CASE("a wrong token, or a worker holding another model, is refused with the reason and exits 1") {
  TempDir d;
  Processes p(d.path.string());
  const std::string db = d / "runs.db";
  const std::string at = "127.0.0.1:" + std::to_string(r1::test::free_loopback_port());
  const pid_t learner = p.start("learner", db, train_args(d / "o", 2, {"rollout.backend=remote", "rollout.listen=" + at}),
                                {{"R1_ROLLOUT_TOKEN", "s3cret"}});
  const pid_t wrong = p.start("wrong", db, {"rollout", "worker", "--connect", at}, {{"R1_ROLLOUT_TOKEN", "guess"}});
  CHECK(p.wait(wrong, 60) == 1);
  CHECK(p.err("wrong").find("refused this worker: wrong token") != std::string::npos);
  r1::test::write_file(d / "token", "s3cret\n");
  const pid_t right = p.start("right", db, {"rollout", "worker", "--connect", at, "--token-file", d / "token"});
  INFO(p.err("learner"));
  REQUIRE(p.wait(learner, 300) == 0);
  CHECK(p.err("learner").find("wrong token") != std::string::npos);  // logged by the learner too

  // The worker now holds the smoke model and keeps knocking; a learner of another model refuses it.
  const pid_t other = p.start("other", db, train_args(d / "o3", 2, {"rollout.backend=remote", "rollout.listen=" + at,
                                                                     "model.init=" + kSource + "/experiments/recipes/models/demo-v3.json"}),
                              {{"R1_ROLLOUT_TOKEN", "s3cret"}});
  CHECK(p.wait(right, 120) == 1);
  CHECK(p.err("right").find("refused this worker: model config") != std::string::npos);
  kill(other, SIGINT);
  p.wait(other, 60);
}

TEST_CASE("bad worker arguments and remote-rollout recipes are exit 2 with one line naming the option or key") {
  TempDir d;
  auto r1 = [&](const std::string& args) { return r1::test::run_r1(args, d.path.string()); };
  const std::string recipe = kSource + "/experiments/recipes/smoke.toml";
  struct Case {
    std::string args, says;
  };
  const std::vector<Case> cases = {
      {"rollout worker --connect nonsense", "--connect = \"nonsense\": no port"},
      {"rollout worker --connect host.example:80", "\"host.example\" is not an IP address"},
      {"rollout worker --connect 127.0.0.1:1 --token-file " + (d / "missing"), "--token-file = \"" + (d / "missing") + "\": cannot read the token file"},
      {"train " + recipe + " --set rollout.backend=remote --set rollout.listen=10.0.0.1:0", "rollout.token_file: rollout.listen = \"10.0.0.1:0\" is reachable"},
      {"train " + recipe + " --set rollout.backend=remote --set rollout.listen=127.0.0.1", "rollout.listen: \"127.0.0.1\": no port"},
      {"train " + recipe + " --set rollout.max_staleness=1", "rollout.max_staleness: sampling ahead of the learner needs rollout.backend = \"remote\""},
      {"train " + recipe + " --set rollout.backend=remote --set rollout.inflight_update=true", "rollout.inflight_update: weights change while"},
      {"train " + recipe + " --set rollout.backend=remote --set rollout.weight_sync=c10d", "rollout.workers: weight_sync = \"c10d\" needs"},
      {"train " + recipe + " --set rollout.backend=remote --set rollout.max_staleness=2 --set rl.dynamic_sampling=true", "rl.dynamic_sampling: with rollout.max_staleness >= 2"},
  };
  for (const Case& c : cases) {
    INFO(c.args);
    const auto res = r1(c.args);
    CHECK(res.exit_code == 2);
    CHECK(res.err.find(c.says) != std::string::npos);
    CHECK(r1::test::count_lines(res.err) == 1);
  }
}
