// The SQLite run store: writing, reading, crash detection, concurrent readers, migrations.
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "experiments/run_store.h"
#include "tests/test_util.h"

using namespace r1::experiments;
using r1::test::TempDir;

static int64_t count(RunStore& s, const std::string& sql) {
  auto rs = s.query(sql);
  return std::get<int64_t>(rs.rows.at(0).at(0));
}

// "k7": built by appending, since GCC 12 warns (-Wrestrict, a known false positive) on
// "literal" + std::to_string(k) at -O3.
static std::string numbered(const char* prefix, int k) {
  std::string s = prefix;
  s += std::to_string(k);
  return s;
}

TEST_CASE("runs, params, metrics, samples, checkpoints and evals round-trip") {
  TempDir d;
  auto store = RunStore::open(d / "sub/r1.db");  // creates the folder
  CHECK(store.schema_version() == RunStore::kSchemaVersion);
  NewRun nr;
  nr.name = "smoke";
  nr.seed = 5;
  nr.params = {{"rl.beta", "0.001"}, {"rl.lr", "3e-06"}};
  nr.tags = {"baseline"};
  int64_t id = store.create_run(nr);
  store.log_metrics(id, 0, {{"reward", 0.25}, {"kl", 0.0}});
  store.log_metrics(id, 1, {{"reward", 0.5}, {"kl", 0.01}});
  SampleRecord s;
  s.step = 1;
  s.task_id = "gsm8k/3";
  s.prompt = "What is 2+2?";
  s.completion = "<think>..</think><answer>4</answer>";
  s.reward = 2;
  s.reward_breakdown_json = R"({"math_accuracy": 1, "format": 1})";
  s.finish_reason = "stop";
  store.log_sample(id, s);
  store.add_eval(id, {1, "gsm8k", "pass@1", 0.4, 100});
  CHECK(store.buffered_rows() == 6);
  store.flush();
  CHECK(store.buffered_rows() == 0);
  store.add_checkpoint(id, {1, "/tmp/ckpt", "abc", 10});

  auto r = store.find_run("smoke");
  REQUIRE(r);
  CHECK(r->id == id);
  CHECK(r->status == "running");
  CHECK(r->seed == 5);
  CHECK(r->tags == std::vector<std::string>{"baseline"});
  auto series = store.metric_series(id, "reward");
  REQUIRE(series.size() == 2);
  CHECK(series[1].value == 0.5);
  CHECK(count(store, "SELECT COUNT(*) FROM samples") == 1);
  CHECK(count(store, "SELECT COUNT(*) FROM latest_metrics WHERE step = 1") == 2);
  CHECK(std::get<std::string>(store.query("SELECT beta FROM params_pivot").rows[0][0]) == "0.001");
  CHECK(store.list_runs({.params = {{"rl.beta", "1e-3"}}}).size() == 1);  // numeric comparison
  CHECK(store.list_runs({.params = {{"rl.beta", "0.04"}}}).empty());
  CHECK(store.list_runs({.tags = {"baseline"}}).size() == 1);
  CHECK(store.list_runs({.tags = {"other"}}).empty());

  // A resumed run replays steps after its checkpoint: those rows are dropped first.
  store.truncate_after(id, 0);
  CHECK(store.metric_series(id, "reward").size() == 1);
  CHECK(count(store, "SELECT COUNT(*) FROM samples") == 0);

  // Re-logging a step keeps the newest value.
  store.log_metric(id, 0, "reward", 0.75);
  store.flush();
  CHECK(store.metric_series(id, "reward")[0].value == 0.75);

  store.finish_run(id, RunStatus::finished);
  CHECK(store.get_run(id).status == "finished");
  CHECK(store.get_run(id).ended_at > 0);
  store.delete_run(id);
  CHECK(!store.find_run(std::to_string(id)));
  CHECK(count(store, "SELECT COUNT(*) FROM metrics") == 0);
}

TEST_CASE("a SIGKILLed writer leaves a readable database and the run is later marked crashed") {
  TempDir d;
  std::string path = d / "r1.db";
  { RunStore::open(path); }
  int pipefd[2];
  REQUIRE(pipe(pipefd) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(pipefd[0]);
    auto store = RunStore::open(path);
    int64_t id = store.create_run({.name = "doomed"});
    for (int64_t step = 0;; ++step) {
      std::vector<std::pair<std::string, double>> m;
      for (int k = 0; k < 50; ++k) m.emplace_back(numbered("m", k), step * 0.1 + k);
      store.log_metrics(id, step, m);
      store.flush();
      if (step == 20) {
        char c = 1;
        (void)!write(pipefd[1], &c, 1);  // tell the parent we are mid-run
      }
    }
  }
  close(pipefd[1]);
  char c;
  REQUIRE(read(pipefd[0], &c, 1) == 1);
  usleep(20000);  // let it get into the middle of another transaction
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  CHECK(WIFSIGNALED(status));

  auto store = RunStore::open(path);
  auto run = store.find_run("doomed");
  REQUIRE(run);
  CHECK(run->status == "crashed");
  CHECK(run->ended_at >= run->started_at);
  CHECK(std::get<std::string>(store.query("PRAGMA integrity_check").rows[0][0]) == "ok");
  int64_t rows = count(store, "SELECT COUNT(*) FROM metrics");
  CHECK(rows >= 21 * 50);
  CHECK(rows % 50 == 0);  // whole transactions only
}

TEST_CASE("readers see consistent data while a writer commits") {
  TempDir d;
  std::string path = d / "r1.db";
  auto writer = RunStore::open(path);
  int64_t id = writer.create_run({.name = "live"});
  std::atomic<bool> done{false};
  std::atomic<int> reader_errors{0}, reads{0};
  auto reader = [&] {
    RunStore::Options o;
    o.read_only = true;
    auto r = RunStore::open(path, o);
    int64_t last = 0;
    while (!done) {
      try {
        int64_t n = count(r, "SELECT COUNT(*) FROM metrics");
        if (n < last || n % 10 != 0) ++reader_errors;  // never a partial transaction
        last = n;
        ++reads;
      } catch (...) {
        ++reader_errors;
      }
    }
  };
  std::thread r1(reader), r2(reader);
  for (int step = 0; step < 300; ++step) {
    std::vector<std::pair<std::string, double>> m;
    for (int k = 0; k < 10; ++k) m.emplace_back(numbered("k", k), step);
    writer.log_metrics(id, step, m);
    writer.flush();
  }
  done = true;
  r1.join();
  r2.join();
  CHECK(reader_errors == 0);
  CHECK(reads > 2);
  CHECK(count(writer, "SELECT COUNT(*) FROM metrics") == 3000);
}

// A store created at an older schema `version`, with `sql` run on it as that version's tables.
static void write_old_store(const std::string& path, int version, const std::string& sql) {
  RunStore::Options o;
  o.target_version = version;
  auto old = RunStore::open(path, o);
  CHECK(old.schema_version() == version);
  old.database().exec(sql);
}

TEST_CASE("a database written at an older schema version is migrated forward") {
  TempDir d;
  std::string path = d / "old.db";
  write_old_store(path, 1,
                  "INSERT INTO runs (id, name, kind, started_at, status, host, pid) VALUES (1, 'v1run', 'train', 1.0, 'finished', 'h', 1);"
                  "INSERT INTO metrics (run_id, key, step, value) VALUES (1, 'reward', 0, 0.5);"
                  "INSERT INTO params (run_id, key, value) VALUES (1, 'rl.beta', '0');");
  auto store = RunStore::open(path);
  CHECK(store.schema_version() == RunStore::kSchemaVersion);
  auto r = store.find_run("v1run");
  REQUIRE(r);
  CHECK(r->notes.empty());
  CHECK(store.metric_series(1, "reward").size() == 1);
  CHECK(count(store, "SELECT COUNT(*) FROM latest_metrics") == 1);
  store.add_tags(1, {"migrated"});
  CHECK(store.list_runs({.tags = {"migrated"}}).size() == 1);
}

TEST_CASE("a version-2 store (metrics keyed run, key, step) keeps every value when migrated to 3") {
  TempDir d;
  std::string path = d / "v2.db";
  write_old_store(path, 2,
                  "INSERT INTO runs (id, name, kind, started_at, status, host, pid) VALUES (1, 'v2run', 'train', 1.0, 'finished', 'h', 1);"
                  "INSERT INTO metric_keys (id, name) VALUES (1, 'loss'), (2, 'reward');"
                  "INSERT INTO metric_values (run_id, key_id, step, value) VALUES (1, 1, 0, 2.0), (1, 1, 1, 1.5), (1, 1, 2, 1.0),"
                  " (1, 2, 0, 0.1), (1, 2, 3, 0.9);");
  auto store = RunStore::open(path);
  CHECK(store.schema_version() == RunStore::kSchemaVersion);
  CHECK(store.metric_series(1, "loss").size() == 3);
  auto all = store.metric_series_all(1);
  REQUIRE(all.size() == 2);
  CHECK(all["reward"].back().step == 3);
  CHECK(all["reward"].back().value == 0.9);
  auto latest = store.query("SELECT key, step, value FROM latest_metrics WHERE run_id = 1 ORDER BY key");
  REQUIRE(latest.rows.size() == 2);
  CHECK(std::get<int64_t>(latest.rows[0][1]) == 2);
  CHECK(std::get<double>(latest.rows[0][2]) == 1.0);
  CHECK(std::get<int64_t>(latest.rows[1][1]) == 3);
}

TEST_CASE("a flush of many rows (multi-row inserts) keeps every row and the newest of duplicates") {
  TempDir d;
  auto store = RunStore::open(d / "many.db");
  int64_t id = store.create_run({.name = "many"});
  // 7 keys x 50 steps = 350 rows: five full 64-row statements and a remainder of 30 single rows.
  for (int step = 49; step >= 0; --step)  // logged out of step order on purpose
    for (int k = 0; k < 7; ++k) store.log_metric(id, step, numbered("k", k), step * 10.0 + k);
  store.log_metric(id, 3, "k2", -1.0);  // re-logged in the same flush: the later value wins
  store.flush();
  CHECK(count(store, "SELECT COUNT(*) FROM metric_values") == 350);
  auto all = store.metric_series_all(id);
  REQUIRE(all.size() == 7);
  for (int k = 0; k < 7; ++k) {
    const auto& series = all[numbered("k", k)];
    REQUIRE(series.size() == 50);
    for (int step = 0; step < 50; ++step) {
      CHECK(series[step].step == step);
      CHECK(series[step].value == (k == 2 && step == 3 ? -1.0 : step * 10.0 + k));
    }
  }
  CHECK(store.metric_series(id, "k6") == all["k6"]);
}

TEST_CASE("a database from a newer schema is refused untouched, and a non-database is refused") {
  TempDir d;
  std::string path = d / "new.db";
  {
    auto s = RunStore::open(path);
    s.database().set_user_version(99);
  }
  std::string msg;
  try {
    RunStore::open(path);
  } catch (const ExperimentsError& e) {
    msg = e.what();
  }
  CHECK(msg.find("schema version 99 is newer") != std::string::npos);
  sqlite3* raw = nullptr;
  sqlite3_open(path.c_str(), &raw);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &st, nullptr);
  sqlite3_step(st);
  CHECK(sqlite3_column_int(st, 0) == 99);
  sqlite3_finalize(st);
  sqlite3_close(raw);

  r1::test::write_file(d / "junk.db", std::string(4096, 'x'));
  msg.clear();
  try {
    RunStore::open(d / "junk.db");
  } catch (const ExperimentsError& e) {
    msg = e.what();
  }
  CHECK(msg.find("junk.db") != std::string::npos);
  msg.clear();
  try {
    RunStore::Options o;
    o.read_only = true;
    RunStore::open(d / "absent.db", o);
  } catch (const ExperimentsError& e) {
    msg = e.what();
  }
  CHECK(msg.find("no run store here yet") != std::string::npos);
}
