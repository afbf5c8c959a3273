// Data sets: the JSON Lines loader and its errors, the shared sets by name, the generators and
// their checkers, worked solutions of the demo corpus, and deterministic splits and cursors.
#include <doctest/doctest.h>

#include <algorithm>

#include <map>
#include <set>

#include "datasets/corpus.h"
#include "datasets/task.h"
#include "tests/test_util.h"
#include "verifiers/countdown.h"
#include "verifiers/math/math_verifier.h"

using namespace r1::datasets;
using r1::test::TempDir;
using r1::test::write_file;

namespace {

std::string error_of(const DataConfig& c, const std::string& shared = "") {
  try {
    load_tasks(c, shared, 1);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("jsonl loader: field mapping from the recipe, errors name file and line") {
  TempDir d;
  write_file(d / "t.jsonl", "{\"q\": \"What is 1+1?\", \"a\": 2, \"key\": \"one\"}\n\n{\"q\": \"2+2?\", \"a\": \"4\", \"key\": \"two\"}\n");
  DataConfig c;
  c.dataset = "jsonl";
  c.path = d / "t.jsonl";
  c.question_field = "q";
  c.answer_field = "a";
  c.id_field = "key";
  auto tasks = load_tasks(c, "", 1);
  REQUIRE(tasks.size() == 2);  // the blank line is skipped
  CHECK(tasks[0].id == "one");
  CHECK(tasks[0].question == "What is 1+1?");
  CHECK(tasks[0].answer == "2");  // numbers become their text
  CHECK(tasks[1].answer == "4");

  c.path = d / "missing.jsonl";
  CHECK(error_of(c).find("missing.jsonl") != std::string::npos);
  write_file(d / "bad.jsonl", "{\"q\": \"x\", \"a\": \"1\"}\n{\"q\": \"y\"}\n");
  c.path = d / "bad.jsonl";
  c.id_field = "";
  std::string e = error_of(c);
  CHECK(e.find("bad.jsonl:2") != std::string::npos);
  CHECK(e.find("'a'") != std::string::npos);
  CHECK(e.find("data.answer_field") != std::string::npos);
  write_file(d / "broken.jsonl", "{\"q\": \"x\", \"a\": \"1\"}\n{\"q\": \"y\", \"a\": \n");
  c.path = d / "broken.jsonl";
  CHECK(error_of(c).find("broken.jsonl:2") != std::string::npos);
  c.dataset = "no_such_set";
  CHECK(error_of(c).find("no_such_set") != std::string::npos);
}

TEST_CASE("jsonl loader: one file mixes math and code tasks (verifier, tests, metadata per line)") {
  TempDir d;
  write_file(d / "mix.jsonl",
             "{\"question\": \"What is 1+1?\", \"answer\": \"2\"}\n"
             "{\"question\": \"Write f.\", \"verifier\": \"code\", \"tests\": {\"test_code\": \"assert f(1) == 2\\n\"}, "
             "\"metadata\": {\"expr\": \"x + 1\"}}\n"
             "{\"question\": \"Reach 5\", \"answer\": \"5\", \"verifier\": \"countdown\", \"metadata\": {\"numbers\": [2, 3]}}\n");
  DataConfig c;
  c.dataset = "jsonl";
  c.path = d / "mix.jsonl";
  auto tasks = load_tasks(c, "", 1);
  REQUIRE(tasks.size() == 3);
  CHECK(tasks[0].verifier == VerifierKind::math);
  CHECK(tasks[1].verifier == VerifierKind::code);
  CHECK(tasks[1].tests_json == "{\"test_code\":\"assert f(1) == 2\\n\"}");
  CHECK(tasks[1].answer.empty());  // a code task's reference is optional
  CHECK(tasks[1].metadata_json == "{\"expr\":\"x + 1\"}");
  CHECK(tasks[2].verifier == VerifierKind::countdown);
  write_file(d / "bad.jsonl", "{\"question\": \"q\", \"answer\": \"1\", \"verifier\": \"chess\"}\n{\"question\": \"q\", \"verifier\": \"code\"}\n");
  c.path = d / "bad.jsonl";
  CHECK(error_of(c).find("bad.jsonl:1: verifier 'chess' is not math, code, countdown or exact") != std::string::npos);
  write_file(d / "bad.jsonl", "{\"question\": \"q\", \"verifier\": \"code\"}\n");
  CHECK(error_of(c).find("bad.jsonl:1: a code task needs \"tests\"") != std::string::npos);
}

TEST_CASE("shared data sets load by name with their reference answers") {
  R1_REQUIRE_SHARED(shared);
  DataConfig c;
  c.dataset = "gsm8k";
  c.split = "test";
  auto gsm = load_tasks(c, shared, 1);
  CHECK(gsm.size() == 1319);
  CHECK(gsm[0].answer == "18");  // Janet's ducks: the text after "#### "
  c.dataset = "math500";
  auto math = load_tasks(c, shared, 1);
  CHECK(math.size() == 500);
  for (const char* name : {"aime2024", "aime2025", "amc2023", "humaneval", "mbpp", "code_contests", "countdown", "math_train"}) {
    c.dataset = name;
    c.split = "test";
    auto t = load_tasks(c, shared, 1);
    INFO(name);
    CHECK(t.size() > 10);
    std::set<std::string> ids;
    for (const auto& x : t) ids.insert(x.id);
    CHECK(ids.size() == t.size());  // ids are unique
    if (std::string(name) == "humaneval" || std::string(name) == "mbpp" || std::string(name) == "code_contests")
      CHECK(t[0].verifier == VerifierKind::code);
    if (std::string(name) == "countdown") CHECK(t[0].verifier == VerifierKind::countdown);
  }
}

TEST_CASE("arithmetic generator: seeded, difficulty = digits, answers verify") {
  GeneratorOptions o{200, 3, 7};
  auto a = generate_arithmetic(o), b = generate_arithmetic(o);
  REQUIRE(a.size() == 200);
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].question == b[i].question);
  o.seed = 8;
  CHECK(generate_arithmetic(o)[0].question != a[0].question);
  std::set<std::string> ids;
  for (const auto& t : a) {
    ids.insert(t.id);
    // the question's operands have at most 3 digits, and the answer is what they make
    auto verdict = r1::verifiers::math::verify(t.answer, "<answer>" + t.answer + "</answer>");
    CHECK(verdict.equal);
  }
  CHECK(ids.size() == a.size());
}

TEST_CASE("countdown: only solvable instances, and a safe checker of solutions") {
  CHECK(r1::verifiers::check_countdown("(25 - 5) * 4", {4, 5, 25}, 80) == r1::verifiers::CountdownResult::correct);
  CHECK(r1::verifiers::check_countdown("25 * 4 - 5", {4, 5, 25}, 80) == r1::verifiers::CountdownResult::wrong_value);
  CHECK(r1::verifiers::check_countdown("25 * 4 - 20", {4, 5, 25}, 80) == r1::verifiers::CountdownResult::wrong_numbers);
  CHECK(r1::verifiers::check_countdown("25 * 4", {4, 5, 25}, 100) == r1::verifiers::CountdownResult::wrong_numbers);  // 5 unused
  CHECK(r1::verifiers::check_countdown("(25 - 5) * 4 * 4", {4, 5, 25}, 320) == r1::verifiers::CountdownResult::wrong_numbers);
  CHECK(r1::verifiers::check_countdown("system(\"rm\")", {1, 2}, 3) == r1::verifiers::CountdownResult::invalid);
  CHECK(r1::verifiers::check_countdown("(1 + 2", {1, 2}, 3) == r1::verifiers::CountdownResult::invalid);
  CHECK(r1::verifiers::check_countdown("6 / 4 * 2", {6, 4, 2}, 3) == r1::verifiers::CountdownResult::correct);  // exact rationals
  CHECK(r1::verifiers::check_countdown("8 / (3 - 3)", {8, 3, 3}, 1) != r1::verifiers::CountdownResult::correct);

  auto tasks = generate_countdown({100, 4, 3});
  REQUIRE(tasks.size() == 100);
  int solved = 0;
  for (const auto& t : tasks) {
    CHECK(t.verifier == VerifierKind::countdown);
    auto w = worked_countdown(t, false, true, 1);
    // a correct worked solution's <answer> is an equation the checker accepts
    auto open = w.completion.rfind("<answer>"), close = w.completion.rfind("</answer>");
    REQUIRE(open != std::string::npos);
    REQUIRE(close != std::string::npos);
    std::string expr = w.completion.substr(open + 8, close - open - 8);
    auto meta = t.metadata_json;
    std::vector<int64_t> nums;
    auto lb = meta.find('['), rb = meta.find(']');
    std::string list = meta.substr(lb + 1, rb - lb - 1);
    for (size_t p = 0; p < list.size();) {
      size_t q = list.find(',', p);
      nums.push_back(std::stoll(list.substr(p, q == std::string::npos ? std::string::npos : q - p)));
      if (q == std::string::npos) break;
      p = q + 1;
    }
    CHECK(nums.size() == 4);
    solved += r1::verifiers::check_countdown(expr, nums, std::stoll(t.answer)) == r1::verifiers::CountdownResult::correct;
  }
  CHECK(solved == 100);
}

TEST_CASE("worked solutions: shares of slips, habits and formats as configured, and their correctness is true") {
  auto tasks = generate_arithmetic({2000, 2, 5});
  CorpusOptions o;
  o.error_share = 0.15;
  o.habit_share = 0.6;
  o.format_share = 0.7;
  auto sols = worked_solutions(tasks, o);
  REQUIRE(sols.size() == tasks.size());
  int right = 0, formatted = 0, claimed_right_but_wrong = 0;
  for (size_t i = 0; i < sols.size(); ++i) {
    bool really = r1::verifiers::math::verify(tasks[i].answer, sols[i].completion).equal;
    claimed_right_but_wrong += sols[i].correct && !really;
    right += really;
    formatted += sols[i].r1_format;
    if (sols[i].r1_format) {
      CHECK(sols[i].completion.find("<think>") != std::string::npos);
      CHECK(sols[i].completion.find("</answer>") != std::string::npos);
    }
  }
  CHECK(claimed_right_but_wrong == 0);
  // right answers only some of the time (carry-free sums survive the habit), format most of the time
  CHECK(right > 400);
  CHECK(right < 1400);
  CHECK(formatted == doctest::Approx(1400).epsilon(0.1));
}

TEST_CASE("language mixing: a share of solutions write steps in Chinese, and nothing else changes") {
  for (const bool countdown : {false, true}) {
    INFO("countdown " << countdown);
    auto tasks = countdown ? generate_countdown({400, 3, 5}) : generate_arithmetic({2000, 2, 5});
    CorpusOptions plain;
    CorpusOptions mixed = plain;
    mixed.mixed_language_share = 0.5;
    auto a = worked_solutions(tasks, plain), b = worked_solutions(tasks, mixed);
    REQUIRE(a.size() == b.size());
    int n_mixed = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      // A CJK ideograph (U+4E00..U+9FFF): a UTF-8 lead byte 0xE4..0xE9.
      const bool cjk = std::any_of(b[i].completion.begin(), b[i].completion.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u >= 0xE4 && u <= 0xE9;
      });
      CHECK(cjk == b[i].mixed_language);
      CHECK(!a[i].mixed_language);
      n_mixed += b[i].mixed_language;
      // The same slips, habits, formats and answers: only the words of the reasoning differ.
      CHECK(a[i].correct == b[i].correct);
      CHECK(a[i].r1_format == b[i].r1_format);
      if (!b[i].mixed_language) CHECK(a[i].completion == b[i].completion);
      if (!countdown)
        CHECK(r1::verifiers::math::verify(tasks[i].answer, a[i].completion).equal ==
              r1::verifiers::math::verify(tasks[i].answer, b[i].completion).equal);
    }
    CHECK(n_mixed == doctest::Approx(a.size() / 2.0).epsilon(0.12));
  }
}

TEST_CASE("splits hold out before training sees anything; the cursor replays from a position") {
  auto tasks = generate_arithmetic({100, 2, 1});
  DataConfig c;
  c.holdout = 20;
  c.limit = 50;
  auto s1 = split_tasks(tasks, c, 9), s2 = split_tasks(tasks, c, 9);
  CHECK(s1.heldout.size() == 20);
  CHECK(s1.train.size() == 50);
  std::set<std::string> held;
  for (const auto& t : s1.heldout) held.insert(t.id);
  for (const auto& t : s1.train) CHECK(held.count(t.id) == 0);
  for (size_t i = 0; i < s1.train.size(); ++i) CHECK(s1.train[i].id == s2.train[i].id);

  TaskCursor a(&s1.train, 3, true);
  std::vector<std::string> drawn;
  for (int i = 0; i < 130; ++i) drawn.push_back(a.next().id);  // crosses two epoch boundaries
  std::map<std::string, int> per_epoch;
  for (int i = 0; i < 50; ++i) per_epoch[drawn[i]]++;
  CHECK(per_epoch.size() == 50);  // each task once per epoch
  CHECK(std::vector<std::string>(drawn.begin(), drawn.begin() + 50) != std::vector<std::string>(drawn.begin() + 50, drawn.begin() + 100));
  TaskCursor b(&s1.train, 3, true);
  b.seek(77);
  CHECK(b.position() == 77);
  for (int i = 77; i < 130; ++i) CHECK(b.next().id == drawn[i]);
}
