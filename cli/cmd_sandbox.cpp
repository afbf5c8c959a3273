// `r1 sandbox run` (one program, its verdict, time, memory and capped output) and `r1 sandbox
// judge` (JSON Lines of problems -> JSON Lines of verdicts, K sandboxes at once).
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "cli/cli_common.h"
#include "cli/json_lines.h"
#include "text/value_binder.h"
#include "verifiers/code/sandbox_pool.h"

namespace r1::cli {
namespace {

using namespace verifiers::code;

constexpr size_t kShownOutput = 4096;  // bytes of stdout/stderr per test in printed results

// The recipes' own unit parsers (text/value_binder.h), with the flag's range.
double parse_duration(const std::string& s, const std::string& flag) {
  bool ok = false;
  double v = text::parse_duration_seconds(s, ok);
  if (!ok) throw InputError(flag + ": '" + s + "' is not a duration (e.g. 2s, 500ms)");
  if (!(v > 0) || v > 3600) throw InputError(flag + ": " + s + " is out of range (0, 1h]");
  return v;
}

int64_t parse_bytes(const std::string& s, const std::string& flag) {
  bool ok = false;
  int64_t b = text::parse_byte_size(s, ok);
  if (!ok) throw InputError(flag + ": '" + s + "' is not a size (e.g. 256M, 1G)");
  if (b < (8 << 20) || b > (64ll << 30)) throw InputError(flag + ": " + s + " is out of range [8M, 64G]");
  return b;
}

std::string read_whole(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot read " + what);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string capped(const std::string& s) { return s.size() > kShownOutput ? s.substr(0, kShownOutput) + "\n[truncated]" : s; }

Json to_json(const JudgeResult& r) {
  Json tests = Json::array();
  for (const auto& t : r.tests)
    tests.push_back({{"verdict", to_string(t.verdict)}, {"time_s", t.time_s}, {"memory_bytes", t.memory_bytes},
                     {"exit_code", t.exit_code}, {"signal", t.signal}, {"stdout", capped(t.stdout_data)},
                     {"stderr", capped(t.stderr_data)}});
  Json j{{"id", r.id}, {"verdict", to_string(r.verdict)}, {"passed", r.passed}, {"total", r.total}, {"tests", tests}};
  if (!r.message.empty()) j["message"] = capped(r.message);
  return j;
}

std::string text_field(const Json& j, const char* key, const std::string& where, bool required) {
  if (!j.contains(key) || j[key].is_null()) {
    if (required) throw InputError(where + ": missing field '" + key + "'");
    return "";
  }
  if (!j[key].is_string()) throw InputError(where + ": field '" + key + "' must be a string");
  return j[key].get<std::string>();
}

Submission submission_of(const Json& j, const std::string& where, const Limits& limits) {
  Submission s;
  s.id = j.contains("id") ? (j["id"].is_string() ? j["id"].get<std::string>() : j["id"].dump()) : where;
  s.lang = text_field(j, "lang", where, true);
  if (!find_language(s.lang)) throw InputError(where + ": unknown lang '" + s.lang + "' (python, cpp)");
  s.code = text_field(j, "code", where, true);
  s.limits = limits;
  if (j.contains("tests")) {
    if (!j["tests"].is_array()) throw InputError(where + ": 'tests' must be an array of {\"stdin\", \"expected\"}");
    for (const auto& t : j["tests"]) {
      if (!t.is_object()) throw InputError(where + ": each test must be an object {\"stdin\", \"expected\"}");
      s.tests.push_back({t.value("stdin", std::string()), t.value("expected", std::string())});
    }
  }
  s.test_code = text_field(j, "test_code", where, false);
  s.entry_point = text_field(j, "entry_point", where, false);
  if (s.tests.empty() && s.test_code.empty()) throw InputError(where + ": give 'tests' or 'test_code'");
  if (j.contains("checker")) {
    const Json& c = j["checker"];
    if (!c.is_object()) throw InputError(where + ": 'checker' must be {\"lang\", \"code\"}");
    s.checker_lang = text_field(c, "lang", where + " checker", true);
    s.checker_code = text_field(c, "code", where + " checker", true);
  }
  if (j.contains("float_tolerance")) s.float_tolerance = j["float_tolerance"].get<double>();
  return s;
}

}  // namespace

void add_sandbox_commands(CLI::App& app, Context& ctx) {
  auto* sb = app.add_subcommand("sandbox", "Run untrusted Python and C++ in isolation, and judge it against tests");
  sb->require_subcommand(1);
  struct Args {
    std::string lang, file, stdin_file, time_limit = "2s", memory = "256M", input, output;
    int jobs = 0;
  };
  auto a = std::make_shared<Args>();

  auto* run = sb->add_subcommand("run", "Run one program; print its verdict, time, memory and output");
  run->add_option("--lang", a->lang, "python | cpp")->required();
  run->add_option("file", a->file, "source file")->required();
  run->add_option("--stdin", a->stdin_file, "file fed to the program's standard input");
  run->add_option("--time-limit", a->time_limit, "CPU time limit (2s, 500ms)");
  run->add_option("--memory", a->memory, "memory limit (256M, 1G)");
  run->callback([a, &ctx] {
    if (!find_language(a->lang)) throw InputError("--lang: unknown language '" + a->lang + "' (python, cpp)");
    Limits l;
    l.cpu_s = parse_duration(a->time_limit, "--time-limit");
    l.memory_bytes = parse_bytes(a->memory, "--memory");
    std::string code = read_whole(a->file, "the program");
    std::string input = a->stdin_file.empty() ? "" : read_whole(a->stdin_file, "the input");
    SandboxPool pool(PoolOptions{.workers = 1});
    JudgeResult r = pool.run_source(a->lang, code, input, l).get();
    r.id = a->file;
    if (ctx.json) {
      std::cout << dump(to_json(r)) << "\n";
    } else {
      std::cout << "verdict " << to_string(r.verdict);
      if (!r.tests.empty()) {
        const auto& t = r.tests.front();
        std::printf(" time %.3fs memory %.1fM", t.time_s, t.memory_bytes / 1048576.0);
        if (t.signal) std::cout << " signal " << t.signal;
        else if (t.exit_code) std::cout << " exit " << t.exit_code;
        std::cout << "\n";
        if (!t.stdout_data.empty()) std::cout << "--- stdout\n" << capped(t.stdout_data) << (t.stdout_data.back() == '\n' ? "" : "\n");
        if (!t.stderr_data.empty()) std::cout << "--- stderr\n" << capped(t.stderr_data) << (t.stderr_data.back() == '\n' ? "" : "\n");
      } else {
        std::cout << "\n" << r.message << "\n";
      }
    }
    if (r.verdict == Verdict::SE) throw JobError("sandbox: " + r.message);
    if (r.verdict != Verdict::AC) std::exit(1);
  });

  auto* judge = sb->add_subcommand("judge", "Judge JSON Lines of programs against their tests (K sandboxes at once)");
  judge->add_option("--input", a->input, "problems.jsonl: {id, lang, code, tests: [{stdin, expected}]} or {id, lang, code, "
                                         "test_code, entry_point}; optional checker: {lang, code}, float_tolerance")
      ->required();
  judge->add_option("--output", a->output, "verdicts.jsonl (default: stdout)");
  judge->add_option("--jobs", a->jobs, "sandboxes at once (default: one per core)");
  judge->add_option("--time-limit", a->time_limit, "CPU time limit per test (2s, 500ms)");
  judge->add_option("--memory", a->memory, "memory limit per test (256M, 1G)");
  judge->callback([a, &ctx] {
    Limits l;
    l.cpu_s = parse_duration(a->time_limit, "--time-limit");
    l.memory_bytes = parse_bytes(a->memory, "--memory");
    if (a->jobs < 0 || a->jobs > 1024) throw InputError("--jobs: " + std::to_string(a->jobs) + " is out of range [0, 1024]");
    std::vector<Submission> subs;
    for_each_json_line(a->input, [&](int64_t line, const Json& j) {
      subs.push_back(submission_of(j, a->input + ":" + std::to_string(line), l));
    });
    auto t0 = std::chrono::steady_clock::now();
    SandboxPool pool(PoolOptions{.workers = a->jobs});
    if (!pool.isolation_error().empty()) throw JobError("sandbox: cannot isolate programs here: " + pool.isolation_error());
    std::vector<std::future<JudgeResult>> futures;
    for (auto& s : subs) futures.push_back(pool.judge(std::move(s)));
    LineWriter out(a->output);
    std::map<std::string, int> counts;
    for (auto& f : futures) {
      JudgeResult r = f.get();
      counts[to_string(r.verdict)]++;
      out.write(to_json(r));
    }
    out.close();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!ctx.quiet) {
      std::cerr << futures.size() << " programs judged in " << secs << " s with " << pool.workers() << " sandboxes:";
      for (const auto& [v, n] : counts) std::cerr << " " << v << " " << n;
      std::cerr << "\n";
    }
  });
}

}  // namespace r1::cli
