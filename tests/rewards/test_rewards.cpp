// Rewards: built-ins against hand-computed tables, weighted composition, and every failure mode of
// both plugin kinds keeping the batch going with the error value.
#include <doctest/doctest.h>

#include <chrono>

#include "datasets/corpus.h"
#include "rewards/reward.h"
#include "tests/test_util.h"

using namespace r1::rewards;

namespace {

RewardSpec spec(const std::string& name, const std::string& options = "{}", double weight = 1.0) {
  RewardSpec s;
  s.name = name;
  s.options_json = options;
  s.weight = weight;
  return s;
}

StageOptions opts() {
  StageOptions o;
  o.threads = 2;
  o.isolate_host = {R1_BINARY, "__reward-host"};
  o.log = [](const std::string&) {};
  return o;
}

struct Batch {
  std::vector<TaskRef> tasks;
  std::vector<CompletionRef> comps;
  void add(TaskRef t, std::string text, int64_t tokens = 10, std::string finish = "eos") {
    tasks.push_back(std::move(t));
    comps.push_back({std::move(text), tokens, std::move(finish)});
  }
  StageResult run(RewardStage& s) {
    std::vector<const TaskRef*> tp;
    std::vector<const CompletionRef*> cp;
    for (size_t i = 0; i < tasks.size(); ++i) tp.push_back(&tasks[i]), cp.push_back(&comps[i]);
    return s.score(tp, cp);
  }
};

double one(const RewardSpec& s, const TaskRef& t, const std::string& text, int64_t tokens = 10, std::string finish = "eos") {
  auto stage = RewardStage::build({s}, opts());
  Batch b;
  b.add(t, text, tokens, finish);
  return b.run(stage).totals[0];
}

TaskRef math(const std::string& answer) {
  TaskRef t;
  t.id = "t";
  t.answer = answer;
  return t;
}

}  // namespace

TEST_CASE("math_accuracy and format follow R1") {
  CHECK(one(spec("math_accuracy"), math("72"), "<think>48+24</think> <answer>72</answer>") == 1.0);
  CHECK(one(spec("math_accuracy"), math("72"), "<think>...</think> <answer>71</answer>") == 0.0);
  CHECK(one(spec("math_accuracy", R"({"correct": 2, "incorrect": -1})"), math("1/2"), "\\boxed{0.5}") == 2.0);
  CHECK(one(spec("format"), math(""), "<think>reasoning</think>\n<answer>4</answer>") == 1.0);
  CHECK(one(spec("format"), math(""), " <think>multi\nline</think> <answer>4</answer> ") == 1.0);
  CHECK(one(spec("format"), math(""), "<answer>4</answer><think>x</think>") == 0.0);
  CHECK(one(spec("format"), math(""), "<think>x</think> 4") == 0.0);
  CHECK(one(spec("format", R"({"regex": "^ANSWER: \\d+$"})"), math(""), "ANSWER: 12") == 1.0);
  CHECK(one(spec("tag_count"), math(""), "<think>\nx\n</think>\n<answer>\n4\n</answer>") == 1.0);
  CHECK(one(spec("tag_count"), math(""), "<think>\nx\n</think>\n4") == 0.5);
  CHECK(one(spec("tag_count", R"({"newlines": false})"), math(""), "<think>x</think><answer>4") == 0.75);
}

TEST_CASE("code_tests: the last code block judged in the sandbox, stdin tests and function tests") {
  TaskRef io;
  io.id = "io";
  io.verifier = "code";
  io.tests_json = R"({"stdin_tests": [{"input": "2 3\n", "output": "5\n"}, {"input": "10 -4", "output": "6"}]})";
  std::string right = "<think>add them</think>\n```python\na, b = map(int, input().split())\nprint(a + b)\n```";
  std::string half = "```python\na, b = map(int, input().split())\nprint(5)\n```";
  CHECK(one(spec("code_tests"), io, right) == 1.0);
  CHECK(one(spec("code_tests"), io, half) == 0.0);
  CHECK(one(spec("code_tests", R"({"partial": true})"), io, half) == 0.5);
  CHECK(one(spec("code_tests"), io, "no code here") == 0.0);
  CHECK(one(spec("code_tests"), io, "```cpp\n#include <iostream>\nint main(){long a,b;std::cin>>a>>b;std::cout<<a+b;}\n```") == 1.0);
  CHECK(one(spec("code_tests"), io, "```python\nwhile True: pass\n```") == 0.0);  // TLE
  TaskRef fn;
  fn.id = "he";
  fn.verifier = "code";
  fn.tests_json = R"({"prompt": "def inc(x):\n", "test_code": "def check(candidate):\n    assert candidate(1) == 2\n", "entry_point": "inc"})";
  CHECK(one(spec("code_tests"), fn, "```python\ndef inc(x):\n    return x + 1\n```") == 1.0);
  CHECK(one(spec("code_tests"), fn, "```python\n    return x + 1\n```") == 1.0);  // body only: the prompt supplies the signature
  CHECK(one(spec("code_tests"), fn, "```python\ndef inc(x):\n    return x\n```") == 0.0);
}

TEST_CASE("accuracy: one entry decides math, code and Countdown tasks, each by its own verifier, in one batch") {
  TaskRef code;
  code.id = "fn";
  code.verifier = "code";
  code.tests_json = R"({"test_code": "assert add7(1) == 8\nassert add7(-7) == 0\n"})";
  TaskRef cd;
  cd.id = "cd";
  cd.verifier = "countdown";
  cd.answer = "23";
  cd.metadata_json = R"({"numbers": [30, 100, 93]})";
  TaskRef odd = math("1");
  odd.verifier = "bogus";
  auto stage = RewardStage::build({spec("accuracy")}, opts());
  Batch b;
  b.add(math("72"), "<think>48+24</think> <answer>72</answer>");
  b.add(math("72"), "<answer>71</answer>");
  b.add(code, "<think>add seven</think> <answer>```python\ndef add7(x):\n    return x + 7\n```</answer>");
  b.add(code, "```python\ndef add7(x):\n    return x + 6\n```");
  b.add(code, "<answer>8</answer>");  // a number is no program
  b.add(cd, "<answer>100 - 93 + 30 - 14</answer>");  // 14 is not given: 0, not Countdown's format score
  b.add(cd, "<answer>93 - 100 + 30</answer>");
  b.add(odd, "<answer>1</answer>");
  auto r = b.run(stage);
  CHECK(r.totals == std::vector<double>{1, 0, 1, 0, 0, 0, 1, 0});
  CHECK(r.infos[0][2].find("\"verifier\": \"code\"") != std::string::npos);
  CHECK(r.errors[7].find("no verifier for tasks of kind 'bogus'") != std::string::npos);
  CHECK(r.errors[0].empty());
}

TEST_CASE("code_gen tasks: the reference and the worked solutions pass their tests in the sandbox, a slip fails") {
  auto tasks = r1::datasets::generate_code({24, 2, 7});
  REQUIRE(tasks.size() == 24);
  CHECK(r1::datasets::generate_code({24, 2, 7})[5].question == tasks[5].question);  // seeded
  r1::datasets::CorpusOptions o;
  o.error_share = 0.5;
  o.habit_share = 0;
  auto sols = r1::datasets::worked_solutions(tasks, o);
  auto stage = RewardStage::build({spec("accuracy")}, opts());
  Batch b;
  for (size_t i = 0; i < tasks.size(); ++i) {
    TaskRef t;
    t.id = tasks[i].id;
    t.verifier = "code";
    t.tests_json = tasks[i].tests_json;
    b.add(t, "```python\n" + tasks[i].answer + "```");
    b.add(t, sols[i].completion);
  }
  auto r = b.run(stage);
  int slips = 0;
  for (size_t i = 0; i < tasks.size(); ++i) {
    INFO(tasks[i].question << "\n" << sols[i].completion);
    CHECK(r.totals[2 * i] == 1.0);
    CHECK(r.totals[2 * i + 1] == (sols[i].correct ? 1.0 : 0.0));
    slips += !sols[i].correct;
  }
  CHECK(slips > 4);
  CHECK(slips < 20);
}

TEST_CASE("overlong: DAPO's exact values") {
  // L_max = 20, L_cache = 4: 0 up to 16, (16 - y)/4 on (16, 20], -1 beyond.
  auto s = spec("overlong", R"({"max_len": 20, "cache_len": 4})");
  struct {
    int64_t y;
    double v;
  } table[] = {{0, 0}, {16, 0}, {17, -0.25}, {18, -0.5}, {19, -0.75}, {20, -1.0}, {21, -1.0}, {500, -1.0}};
  for (auto [y, v] : table) CHECK(one(s, math(""), "x", y) == doctest::Approx(v));
}

TEST_CASE("countdown: TinyZero's rule with safe evaluation") {
  TaskRef t;
  t.id = "cd";
  t.answer = "23";
  t.metadata_json = R"({"numbers": [30, 100, 93]})";
  auto s = spec("countdown");
  CHECK(one(s, t, "<think>100 - 93 = 7, 30 - 7 = 23</think> <answer>30 - (100 - 93)</answer>") == 1.0);
  CHECK(one(s, t, "<answer>100 - 93 + 30</answer>") == doctest::Approx(0.1));   // 37: wrong value
  CHECK(one(s, t, "<answer>30 - 7</answer>") == doctest::Approx(0.1));           // numbers misused
  CHECK(one(s, t, "<answer>30 - (100 - 93) - 0</answer>") == doctest::Approx(0.1));  // extra number
  CHECK(one(s, t, "<answer>__import__('os')</answer>") == doctest::Approx(0.1)); // not arithmetic, never run
  CHECK(one(s, t, "30 - (100 - 93)") == 0.0);                                    // no answer tag
  CHECK(one(s, t, "<answer>(100 - 93) * 30 / 30 - 7 + 23</answer>") == doctest::Approx(0.1));
  TaskRef div = t;
  div.answer = "4";
  div.metadata_json = R"({"numbers": [8, 6, 3]})";
  CHECK(one(s, div, "<answer>8 / (6 / 3)</answer>") == 1.0);                     // exact fractions
}

TEST_CASE("language consistency, length and repetition penalties") {
  CHECK(one(spec("language_consistency"), math(""), "<think>we add the numbers</think><answer>4</answer>") == 1.0);
  CHECK(one(spec("language_consistency"), math(""), "<think>we 加 numbers</think>") == doctest::Approx(2.0 / 3.0));
  CHECK(one(spec("language_consistency", R"({"language": "zh"})"), math(""), "<think>我们 add</think>") == doctest::Approx(2.0 / 3.0));
  auto len = spec("length", R"({"target": 10, "max_len": 20, "scale": 0.5})");
  CHECK(one(len, math(""), "x", 5) == 0.0);
  CHECK(one(len, math(""), "x", 15) == doctest::Approx(-0.25));
  CHECK(one(len, math(""), "x", 40) == doctest::Approx(-0.5));
  auto rep = spec("repetition", R"({"ngram_size": 2, "max_penalty": -1.0})");
  CHECK(one(rep, math(""), "a b c d") == 0.0);
  CHECK(one(rep, math(""), "a b a b a b") == doctest::Approx(-(1.0 - 2.0 / 5.0)));
}

TEST_CASE("weighted composition keeps every component and honours on_truncated") {
  auto acc = spec("math_accuracy", "{}", 1.0);
  auto fmt = spec("format", "{}", 0.5);
  fmt.on_truncated = "-1";
  auto stage = RewardStage::build({acc, fmt}, opts());
  Batch b;
  b.add(math("4"), "<think>2+2</think><answer>4</answer>");
  b.add(math("4"), "<think>2+2</think><answer>5</answer>");
  b.add(math("4"), "<think>2+2 is", 300, "length");
  auto r = b.run(stage);
  CHECK(r.totals[0] == doctest::Approx(1.5));
  CHECK(r.totals[1] == doctest::Approx(0.5));
  CHECK(r.totals[2] == doctest::Approx(-0.5));
  CHECK(r.components[0][0] == 1.0);
  CHECK(r.components[1][1] == 1.0);
  CHECK(r.breakdown_json(0) == R"({"math_accuracy": 1, "format": 1})");
}

TEST_CASE("bad entries are errors naming the recipe line") {
  auto err = [](std::vector<RewardSpec> specs) {
    try {
      RewardStage::build(specs, opts());
    } catch (const RewardError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  RewardSpec s = spec("fromat");
  s.origin = "r.toml:7";
  CHECK(err({s}).find("r.toml:7") != std::string::npos);
  CHECK(err({s}).find("no built-in reward named 'fromat'") != std::string::npos);
  CHECK(err({spec("overlong", R"({"max_lenn": 3})")}).find("did you mean 'max_len'") != std::string::npos);
  CHECK(err({spec("overlong", R"({"max_len": "big"})")}).find("must be a integer") != std::string::npos);
  RewardSpec bad_err = spec("format");
  bad_err.on_error = "sometimes";
  CHECK(err({bad_err}).find("on_error must be a number or \"drop\"") != std::string::npos);
  RewardSpec missing;
  missing.plugin = "/nonexistent/libx.so";
  CHECK(err({missing}).find("not found") != std::string::npos);
  RewardSpec abi;
  abi.plugin = R1_BAD_ABI_PLUGIN;
  CHECK(err({abi}).find("built for reward ABI 999") != std::string::npos);
  RewardSpec noexec;
  noexec.exec = {"/nonexistent/program"};
  CHECK(err({noexec}).find("cannot start") != std::string::npos);
}

TEST_CASE("a shared-library plugin scores in process; NaN is an error value, the batch goes on") {
  RewardSpec prime;
  prime.plugin = R1_PRIME_PLUGIN;
  prime.options_json = R"({"min": 3})";
  auto stage = RewardStage::build({prime}, opts());
  Batch b;
  b.add(math(""), "<answer>7</answer>");
  b.add(math(""), "<answer>8</answer>");
  b.add(math(""), "<answer>2</answer>");  // below min
  auto r = b.run(stage);
  CHECK(r.totals == std::vector<double>{1.0, 0.0, 0.0});
  // the plugin exports r1_reward_score_batch: the whole step went through it in one call
  for (const auto& info : r.infos[0]) CHECK(info.find("\"batch\": true") != std::string::npos);
  // isolated, the same plugin is called per sample through its helper process, with equal rewards
  prime.isolate = true;
  auto isolated = RewardStage::build({prime}, opts());
  auto ri = b.run(isolated);
  CHECK(ri.totals == r.totals);
  CHECK(ri.infos[0][0].find("batch") == std::string::npos);
  RewardSpec nan;
  nan.plugin = R1_NAN_PLUGIN;
  nan.on_error = "-0.5";
  auto s2 = RewardStage::build({nan}, opts());
  Batch b2;
  b2.add(math(""), "anything");
  auto r2 = b2.run(s2);
  CHECK(r2.totals[0] == -0.5);
  CHECK(r2.error_counts[0] == 1);
  CHECK(r2.errors[0].find("non-finite") != std::string::npos);
}

TEST_CASE("isolate = true survives a plugin that segfaults, and keeps serving") {
  RewardSpec crashy;
  crashy.plugin = R1_CRASH_PLUGIN;
  crashy.isolate = true;
  crashy.on_error = "-1";
  auto stage = RewardStage::build({crashy}, opts());
  Batch b;
  b.add(math(""), "fine");
  b.add(math(""), "x crashes here");
  b.add(math(""), "fine again");
  auto r = b.run(stage);
  CHECK(r.totals[0] == 0.5);
  CHECK(r.totals[1] == -1.0);
  CHECK(r.errors[1].find("exited") != std::string::npos);
  CHECK(r.totals[2] == 0.5);  // restarted
}

TEST_CASE("exec plugins: crash, hang, garbage, NaN, missing field, drop — each an error value, never an exception") {
  r1::test::TempDir d;
  auto script = [&](const std::string& name, const std::string& body) {
    std::string p = d / name;
    r1::test::write_file(p, "import json, sys, time\nfor line in sys.stdin:\n    req = json.loads(line)\n    text = req['completion']['text']\n" + body);
    return p;
  };
  std::string good = script("good.py", "    print(json.dumps({'reward': len(text) / 10.0, 'info': {'n': len(text)}}), flush=True)\n");
  std::string crash = script("crash.py", "    if text == 'boom': sys.exit(3)\n    print(json.dumps({'reward': 1.0}), flush=True)\n");
  std::string hang = script("hang.py", "    if text == 'slow': time.sleep(60)\n    print(json.dumps({'reward': 1.0}), flush=True)\n");
  std::string garbage = script("garbage.py", "    print('not json' if text == 'bad' else json.dumps({'reward': 1.0}), flush=True)\n");
  std::string nan = script("nan.py", "    print('{\"reward\": NaN}' if text == 'nan' else json.dumps({'value': 1.0}), flush=True)\n");
  auto make = [&](const std::string& path, double timeout, std::string on_error = "0") {
    RewardSpec s;
    s.exec = {"python3", path};
    s.timeout_s = timeout;
    s.on_error = on_error;
    return s;
  };
  {
    auto stage = RewardStage::build({make(good, 5)}, opts());
    Batch b;
    b.add(math(""), "12345");
    b.add(math(""), "1234567890");
    auto r = b.run(stage);
    CHECK(r.totals[0] == doctest::Approx(0.5));
    CHECK(r.totals[1] == doctest::Approx(1.0));
    CHECK(r.infos[0][0] == R"({"n":5})");
  }
  {
    auto stage = RewardStage::build({make(crash, 5, "-2")}, opts());
    Batch b;
    b.add(math(""), "ok");
    b.add(math(""), "boom");
    b.add(math(""), "ok");
    auto r = b.run(stage);
    CHECK(r.totals == std::vector<double>{1.0, -2.0, 1.0});
    CHECK(r.errors[1].find("exit code 3") != std::string::npos);
  }
  {
    auto stage = RewardStage::build({make(hang, 0.5, "-3")}, opts());
    Batch b;
    b.add(math(""), "slow");
    b.add(math(""), "quick");
    auto t0 = std::chrono::steady_clock::now();
    auto r = b.run(stage);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(r.totals[0] == -3.0);
    CHECK(r.errors[0].find("timed out") != std::string::npos);
    CHECK(r.totals[1] == 1.0);
    CHECK(s < 5.0);
  }
  {
    auto stage = RewardStage::build({make(garbage, 5)}, opts());
    Batch b;
    b.add(math(""), "bad");
    b.add(math(""), "good");
    auto r = b.run(stage);
    CHECK(r.errors[0].find("not a JSON object") != std::string::npos);
    CHECK(r.totals[1] == 1.0);
  }
  {
    auto stage = RewardStage::build({make(nan, 5, "drop")}, opts());
    Batch b;
    b.add(math(""), "nan");
    b.add(math(""), "missing");
    auto r = b.run(stage);
    CHECK(r.drop[0]);
    CHECK(r.drop[1]);
    CHECK(r.errors[1].find("no numeric \"reward\"") != std::string::npos);
  }
  {
    // A plugin that keeps crashing is disabled after max_restarts, still without exceptions.
    RewardSpec s = make(crash, 5, "-2");
    s.options_json = R"({"max_restarts": 2})";
    auto stage = RewardStage::build({s}, opts());
    Batch b;
    for (int i = 0; i < 5; ++i) b.add(math(""), "boom");
    auto r = b.run(stage);
    for (double v : r.totals) CHECK(v == -2.0);
    CHECK(r.errors[4].find("disabled after 2 restarts") != std::string::npos);
  }
}

TEST_CASE("the example exec plugin (rewards/examples/keyword_reward.py) scores as its README section says") {
  RewardSpec kw;
  kw.exec = {"python3", std::string(R1_SOURCE_DIR) + "/rewards/examples/keyword_reward.py"};
  kw.timeout_s = 5;
  auto stage = RewardStage::build({kw}, opts());
  TaskRef with_keywords = math("4");
  with_keywords.metadata_json = R"({"keywords": ["carry", "therefore"]})";
  Batch b;
  b.add(math("4"), "<think>2+2, therefore 4</think> <answer>4</answer>");  // default keyword list
  b.add(math("4"), "<answer>4</answer>");
  b.add(with_keywords, "no carry needed, therefore 4");
  b.add(with_keywords, "Carry the one");
  auto r = b.run(stage);
  CHECK(r.totals == std::vector<double>{1.0, 0.0, 1.0, 0.5});
  CHECK(r.infos[0][3].find("carry") != std::string::npos);
  CHECK(r.error_counts[0] == 0);
}
