// `r1 runs ...`, `r1 sql` and `r1 config show` as a user runs them: real binary, real database.
#include <doctest/doctest.h>

#include "tests/test_util.h"

using r1::test::count_lines;
using r1::test::run_r1;
using r1::test::TempDir;

static void check_bad_input(const std::string& args, const std::string& cwd, const std::string& needle) {
  auto r = run_r1(args, cwd);
  INFO("r1 " << args << "\nstdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(count_lines(r.err) == 1);
  CHECK(r.err.find(needle) != std::string::npos);
}

TEST_CASE("runs create/log then ls, show, compare, export and sql work on the recorded runs") {
  TempDir d;
  auto a = run_r1("runs create --name base --tag sweep", d.path);
  REQUIRE(a.exit_code == 0);
  CHECK(a.out == "1\n");
  r1::test::write_file(d / "r.toml", "[rl]\nbeta = 0.04\n");
  r1::test::write_file(d / "s.toml", "[rl]\nbeta = 0.0\nlr = 1e-5\n");
  CHECK(run_r1("runs create --name withkl --recipe r.toml --tag sweep", d.path).out == "2\n");
  CHECK(run_r1("runs create --name nokl --recipe s.toml", d.path).out == "3\n");
  for (int step = 0; step < 5; ++step) {
    std::string s = std::to_string(step);
    CHECK(run_r1("runs log 2 --step " + s + " reward=0." + s + " loss=" + std::to_string(5 - step), d.path).exit_code == 0);
    CHECK(run_r1("runs log nokl --step " + s + " reward=0." + std::to_string(step * 2) + " loss=1", d.path).exit_code == 0);
  }
  auto ls = run_r1("runs ls", d.path);
  CHECK(ls.exit_code == 0);
  CHECK(count_lines(ls.out) == 4);
  CHECK(ls.out.find("withkl") != std::string::npos);
  auto filtered = run_r1("runs ls --where rl.beta=0.04", d.path);
  CHECK(count_lines(filtered.out) == 2);
  CHECK(filtered.out.find("withkl") != std::string::npos);
  CHECK(count_lines(run_r1("runs ls --tag sweep", d.path).out) == 3);
  auto js = run_r1("runs ls --json --status finished", d.path);
  CHECK(js.out.front() == '[');

  auto show = run_r1("runs show withkl", d.path);
  CHECK(show.exit_code == 0);
  CHECK(show.out.find("rl.beta = 0.04") != std::string::npos);
  CHECK(show.out.find("reward") != std::string::npos);
  CHECK(show.out.find("▁") != std::string::npos);  // sparkline

  auto cmp = run_r1("runs compare withkl nokl --metric reward --last", d.path);
  CHECK(cmp.exit_code == 0);
  CHECK(cmp.out.find("0.4") != std::string::npos);
  CHECK(cmp.out.find("0.8") != std::string::npos);
  CHECK(cmp.out.find("rl.beta") != std::string::npos);  // differs
  CHECK(cmp.out.find("rl.lr") != std::string::npos);
  CHECK(cmp.out.find("rl.eps_low") == std::string::npos);  // same in both: not shown
  auto best = run_r1("runs compare 2 3 --metric loss --best", d.path);
  std::string loss_line = best.out.substr(best.out.find("\nloss"), best.out.find('\n', best.out.find("\nloss") + 1) - best.out.find("\nloss"));
  CHECK(loss_line.find("1") != std::string::npos);
  CHECK(loss_line.find("5") == std::string::npos);  // min (1) is best for a loss, not 5
  auto at = run_r1("runs compare 2 --metric reward --at-step 2", d.path);
  CHECK(at.out.find("0.2") != std::string::npos);

  auto csv = run_r1("runs export 2 --format csv", d.path);
  CHECK(csv.out.rfind("step,key,value,wall_time\n", 0) == 0);
  CHECK(count_lines(csv.out) == 11);
  CHECK(run_r1("runs export 2 --format jsonl --output m.jsonl", d.path).exit_code == 0);
  CHECK(count_lines(r1::test::read_file(d / "m.jsonl")) == 10);

  auto sql = run_r1("sql \"SELECT run_id, value FROM latest_metrics WHERE key='reward' ORDER BY run_id\" --json", d.path);
  CHECK(sql.out == "[{\"run_id\":2,\"value\":0.4},{\"run_id\":3,\"value\":0.8}]\n");

  CHECK(run_r1("runs tag 1 keep", d.path).exit_code == 0);
  CHECK(run_r1("runs note 1 \"first try\"", d.path).exit_code == 0);
  CHECK(run_r1("runs show 1", d.path).out.find("notes: first try") != std::string::npos);
  CHECK(run_r1("runs rm 1", d.path).exit_code == 2);  // stdin is not a terminal: asks for --yes
  CHECK(run_r1("runs rm 1 --yes", d.path).exit_code == 0);
  CHECK(count_lines(run_r1("runs ls", d.path).out) == 3);
}

TEST_CASE("--db and R1_DB choose the store") {
  TempDir d;
  CHECK(run_r1("--db other.db runs create --name x", d.path).exit_code == 0);
  CHECK(std::filesystem::exists(d / "other.db"));
  auto r = run_r1("runs ls", d.path);  // default runs/r1.db does not exist
  CHECK(r.exit_code == 2);
  auto env = run_r1("runs ls --db other.db", d.path);
  CHECK(env.out.find(" x ") != std::string::npos);
  setenv("R1_DB", (d / "other.db").c_str(), 1);
  auto via_env = run_r1("runs ls", "/");
  unsetenv("R1_DB");
  CHECK(via_env.exit_code == 0);
  CHECK(via_env.out.find(" x ") != std::string::npos);
}

TEST_CASE("every bad input exits 2 with one line naming the problem") {
  TempDir d;
  REQUIRE(run_r1("runs create --name a", d.path).exit_code == 0);
  r1::test::write_file(d / "typo.toml", "[rl]\nbetaa = 0.1\n");
  r1::test::write_file(d / "type.toml", "[run]\nseed = \"x\"\n");
  check_bad_input("runs log 1 --step 0 reward", d.path, "expected key=value");
  check_bad_input("runs log 1 --step 0 reward=high", d.path, "not a number");
  check_bad_input("runs log 99 --step 0 reward=1", d.path, "no run '99'");
  check_bad_input("runs show nosuchrun", d.path, "no run 'nosuchrun'");
  check_bad_input("runs ls --status sleeping", d.path, "--status sleeping");
  check_bad_input("runs ls --where rl.beta", d.path, "expected key=value");
  check_bad_input("runs export 1 --format xml", d.path, "--format");
  check_bad_input("runs compare 1 --last --best", d.path, "excludes");
  check_bad_input("sql \"SELEC 1\"", d.path, "syntax error");
  check_bad_input("sql \"DELETE FROM runs\"", d.path, "readonly");
  check_bad_input("sql \"SELECT 1; SELECT 2\"", d.path, "one SQL statement");
  check_bad_input("config show typo.toml", d.path, "typo.toml:2: unknown key 'rl.betaa' (did you mean 'rl.beta'?)");
  check_bad_input("config show type.toml", d.path, "type.toml:2: run.seed: expected an integer");
  check_bad_input("config show nofile.toml", d.path, "nofile.toml: recipe not found");
  check_bad_input("config show typo.toml --set rl.betaa=1", d.path, "rl.betaa");
  check_bad_input("runs create --name b --recipe typo.toml", d.path, "unknown key");
  check_bad_input("frobnicate", d.path, "frobnicate");
  check_bad_input("runs", d.path, "subcommand");
  check_bad_input("--db /nonexistent/dir/x.db runs ls", d.path, "no run store");
  r1::test::write_file(d / "junk.db", std::string(8192, 'j'));
  check_bad_input("--db junk.db runs ls", d.path, "junk.db");
}

TEST_CASE("config show prints the resolved recipe with defaults and overrides") {
  TempDir d;
  r1::test::write_file(d / "r.toml", "[rl]\nbeta = 0.0\n");
  auto r = run_r1("config show r.toml --set rollout.group_size=4", d.path);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("[rl]") != std::string::npos);
  CHECK(r.out.find("beta = 0.0") != std::string::npos);
  CHECK(r.out.find("group_size = 4") != std::string::npos);
  CHECK(r.out.find("eps_high = 0.28") != std::string::npos);
  CHECK(r.out.find("[[rewards]]") != std::string::npos);
  auto v = run_r1("--version", d.path);
  CHECK(v.exit_code == 0);
  CHECK(v.out.rfind("r1 ", 0) == 0);
}
