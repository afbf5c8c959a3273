// The `r1` tools a researcher runs by hand, end to end through the binary: verify math, reward
// score/list, sandbox run/judge, runs plot, and a store written by a newer r1.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "tests/test_util.h"

using r1::test::read_file;
using r1::test::run_r1;
using r1::test::shell_quote;
using r1::test::TempDir;
using r1::test::write_file;
using Json = nlohmann::json;

namespace {

std::vector<Json> json_lines(const std::string& text) {
  std::vector<Json> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    std::string line = text.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    if (!line.empty()) out.push_back(Json::parse(line));
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("r1 verify math: one pair, a JSON Lines file with agreement counts, a bad line skipped") {
  TempDir d;
  auto yes = run_r1("verify math --gold '\\frac{1}{2}' --pred 'so the answer is \\boxed{0.5}'", d.path);
  CHECK(yes.exit_code == 0);
  CHECK(yes.out == "true\n");
  auto no = run_r1("verify math --gold '[1,2)' --pred '$[1,2]$'", d.path);
  CHECK(no.out == "false\n");
  auto explain = run_r1("verify math --gold 3 --pred 'x = 3' --explain", d.path);
  CHECK(explain.out.find("true") != std::string::npos);
  CHECK(explain.out.size() > 10);
  write_file(d / "cases.jsonl",
             "{\"gold\": \"2\\\\sqrt{3}\", \"pred\": \"$\\\\sqrt{12}$\", \"expected\": true, \"tag\": \"kept\"}\n"
             "not json\n"
             "{\"gold\": \"{1,2}\", \"pred\": \"$\\\\{2,1\\\\}$\", \"expected\": true}\n"
             "{\"gold\": \"(1,2)\", \"pred\": \"$(2,1)$\", \"expected\": true}\n");
  auto file = run_r1("verify math --input cases.jsonl --output out.jsonl", d.path);
  INFO(file.err);
  CHECK(file.exit_code == 0);
  CHECK(file.err.find("cases.jsonl:2") != std::string::npos);   // the bad line, by number
  CHECK(file.err.find("agreement: 2/3") != std::string::npos);  // (1,2) vs (2,1) disagrees with "expected"
  auto out = json_lines(read_file(d / "out.jsonl"));
  REQUIRE(out.size() == 3);
  CHECK(out[0]["equal"] == true);
  CHECK(out[0]["tag"] == "kept");
  CHECK(out[2]["equal"] == false);
}

TEST_CASE("r1 reward list and score: built-ins with options, weighted totals and components per line") {
  TempDir d;
  auto list = run_r1("--json reward list", d.path);
  CHECK(list.exit_code == 0);
  for (const char* name : {"accuracy", "math_accuracy", "code_tests", "format", "tag_count", "language_consistency", "overlong", "countdown",
                           "length", "repetition"})
    CHECK(list.out.find(name) != std::string::npos);
  write_file(d / "r.toml", "[[rewards]]\nname = \"math_accuracy\"\nweight = 1.0\n\n[[rewards]]\nname = \"format\"\nweight = 0.5\n");
  write_file(d / "in.jsonl",
             "{\"task\": {\"id\": \"a\", \"prompt\": \"1+1?\", \"answer\": \"2\"}, \"completion\": \"<think>one and one</think>\\n<answer>2</answer>\"}\n"
             "{\"task\": {\"id\": \"b\", \"prompt\": \"1+2?\", \"answer\": \"3\"}, \"completion\": \"it is 4\"}\n");
  auto score = run_r1("reward score --recipe r.toml --input in.jsonl", d.path);
  INFO(score.err);
  REQUIRE(score.exit_code == 0);
  auto out = json_lines(score.out);
  REQUIRE(out.size() == 2);
  CHECK(out[0]["total"].get<double>() == doctest::Approx(1.5));
  CHECK(out[0]["components"]["math_accuracy"].get<double>() == 1.0);
  CHECK(out[1]["total"].get<double>() == 0.0);
  write_file(d / "typo.toml", "[[rewards]]\nname = \"math_acuracy\"\n");
  auto bad = run_r1("reward score --recipe typo.toml --input in.jsonl", d.path);
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("math_acuracy") != std::string::npos);
}

TEST_CASE("r1 data tasks: generated tasks as JSON Lines with their verifier and tests; code references pass in the sandbox") {
  TempDir d;
  auto code = run_r1("data tasks --task code --count 5 --difficulty 2 --seed 4 -o code.jsonl", d.path);
  REQUIRE(code.exit_code == 0);
  auto math = run_r1("data tasks --task arithmetic --count 5 --difficulty 3", d.path);
  REQUIRE(math.exit_code == 0);
  auto lines = json_lines(read_file(d / "code.jsonl"));
  REQUIRE(lines.size() == 5);
  std::string score_in;
  for (const auto& l : lines) {
    CHECK(l["verifier"] == "code");
    CHECK(l["question"].get<std::string>().rfind("Write a Python function f(x): start from x, ", 0) == 0);
    CHECK(l["tests"]["test_code"].get<std::string>().find("assert f(") != std::string::npos);
    score_in += Json{{"task", {{"id", l["id"]}, {"prompt", l["question"]}, {"verifier", "code"}, {"tests", l["tests"]}}},
                     {"completion", "```python\n" + l["answer"].get<std::string>() + "```"}}.dump() + "\n";
  }
  for (const auto& l : json_lines(math.out)) CHECK(l["verifier"] == "math");
  write_file(d / "r.toml", "[[rewards]]\nname = \"accuracy\"\n");
  write_file(d / "in.jsonl", score_in);
  auto score = run_r1("reward score --recipe r.toml --input in.jsonl", d.path);
  INFO(score.err);
  REQUIRE(score.exit_code == 0);
  auto scored = json_lines(score.out);
  CHECK(scored.size() == 5);
  for (const auto& l : scored) CHECK(l["total"].get<double>() == 1.0);
}

TEST_CASE("r1 sandbox run and judge: verdicts, both problem formats, JSON Lines out") {
  TempDir d;
  write_file(d / "sum.py", "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n");
  write_file(d / "in.txt", "1 2 3\n");
  auto ok = run_r1("--json sandbox run --lang python sum.py --stdin in.txt", d.path);
  INFO(ok.err);
  REQUIRE(ok.exit_code == 0);
  Json j = Json::parse(ok.out);
  CHECK(j["verdict"] == "AC");
  CHECK(j["tests"][0]["stdout"] == "6\n");
  write_file(d / "spin.cpp", "int main(){ for(;;); }\n");
  auto tle = run_r1("--json sandbox run --lang cpp spin.cpp --time-limit 500ms", d.path);
  CHECK(tle.exit_code == 1);
  CHECK(Json::parse(tle.out)["verdict"] == "TLE");
  write_file(d / "problems.jsonl",
             Json{{"id", "add"}, {"lang", "python"}, {"code", "a, b = map(int, input().split())\nprint(a + b)\n"},
                  {"tests", {{{"stdin", "1 2"}, {"expected", "3"}}, {{"stdin", "5 5"}, {"expected", "11"}}}}}
                     .dump() + "\n" +
                 Json{{"id", "inc"}, {"lang", "python"}, {"code", "def inc(x):\n    return x + 1\n"},
                      {"test_code", "def check(candidate):\n    assert candidate(1) == 2\n"}, {"entry_point", "inc"}}
                     .dump() + "\n");
  auto judge = run_r1("sandbox judge --input problems.jsonl --output verdicts.jsonl --jobs 2", d.path);
  INFO(judge.err);
  CHECK(judge.exit_code == 0);
  auto v = json_lines(read_file(d / "verdicts.jsonl"));
  REQUIRE(v.size() == 2);
  CHECK(v[0]["id"] == "add");
  CHECK(v[0]["verdict"] == "WA");
  CHECK(v[0]["passed"] == 1);
  CHECK(v[0]["total"] == 2);
  CHECK(v[0]["tests"][1]["stdout"] == "10\n");
  CHECK(v[1]["verdict"] == "AC");
  auto missing = run_r1("sandbox run --lang rust sum.py", d.path);
  CHECK(missing.exit_code == 2);
  CHECK(r1::test::count_lines(missing.err) == 1);
}

TEST_CASE("r1 runs plot draws one line per run with axes and a legend") {
  TempDir d;
  REQUIRE(run_r1("runs create --name alpha", d.path).exit_code == 0);
  REQUIRE(run_r1("runs create --name beta", d.path).exit_code == 0);
  for (int s = 1; s <= 5; ++s) {
    REQUIRE(run_r1("runs log 1 --step " + std::to_string(s) + " reward=" + std::to_string(0.1 * s), d.path).exit_code == 0);
    REQUIRE(run_r1("runs log 2 --step " + std::to_string(s) + " reward=" + std::to_string(0.5 - 0.05 * s), d.path).exit_code == 0);
  }
  auto r = run_r1("runs plot alpha beta --metric reward --out curve.svg --title 'demo curve'", d.path);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::string svg = read_file(d / "curve.svg");
  CHECK(svg.rfind("<svg", 0) == 0);
  CHECK(svg.find("demo curve") != std::string::npos);
  CHECK(svg.find("alpha") != std::string::npos);
  CHECK(svg.find("beta") != std::string::npos);
  size_t lines = 0;
  for (size_t at = 0; (at = svg.find("<polyline", at)) != std::string::npos; ++at) ++lines;
  CHECK(lines == 2);
  auto none = run_r1("runs plot alpha --metric nothing --out x.svg", d.path);
  CHECK(none.exit_code == 2);
}

TEST_CASE("a store written by a newer r1 is refused with exit 2 and left untouched") {
  TempDir d;
  REQUIRE(run_r1("runs create --name x", d.path).exit_code == 0);
  std::string db = d / "runs/r1.db";
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  sqlite3_exec(h, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
  sqlite3_close(h);
  auto r = run_r1("runs ls", d.path);
  CHECK(r.exit_code == 2);
  CHECK(r1::test::count_lines(r.err) == 1);
  CHECK(r.err.find("99") != std::string::npos);
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, nullptr);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int(st, 0) == 99);
  sqlite3_finalize(st);
  sqlite3_close(h);
}
