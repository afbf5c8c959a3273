// bench_verify: math-verifier checks per second on one core, on a realistic mix: every MATH-500
// reference answer against four predictions — the same answer inside an R1-style response, the
// answer re-typeset (\dfrac, spaces, \left/\right), a perturbed answer (one digit changed), and
// the boxed answer at the end of a reasoning paragraph.
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "verifiers/math/math_verifier.h"

using namespace r1::verifiers::math;

namespace {

std::string json_string_field(const std::string& line, const std::string& key) {
  // A minimal reader for one string field (bench/ is a leaf: no JSON dependency needed here).
  std::string pat = "\"" + key + "\": \"";
  size_t at = line.find(pat);
  if (at == std::string::npos) return "";
  std::string out;
  for (size_t i = at + pat.size(); i < line.size(); ++i) {
    char c = line[i];
    if (c == '"') break;
    if (c == '\\' && i + 1 < line.size()) {
      char n = line[++i];
      out += n == 'n' ? '\n' : n == 't' ? '\t' : n;
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

int main() {
  std::ifstream in(r1::bench::shared_dir() + "/datasets/math500/test.jsonl");
  if (!in) {
    std::fprintf(stderr, "bench_verify: needs ../shared/datasets/math500 (set R1_SHARED)\n");
    return 2;
  }
  std::vector<std::pair<std::string, std::string>> pairs;
  std::mt19937 rng(7);
  for (std::string line; std::getline(in, line);) {
    std::string a = json_string_field(line, "answer");
    if (a.empty()) continue;
    std::string retyped = a;
    for (size_t at; (at = retyped.find("\\frac")) != std::string::npos;) retyped.replace(at, 5, "\\dfrac");
    std::string perturbed = a;
    for (auto& c : perturbed)
      if (c >= '0' && c <= '9') {
        c = static_cast<char>('0' + (c - '0' + 1 + rng() % 8) % 10);
        break;
      }
    pairs.push_back({a, "<think>\nLet me work it out step by step.\n</think>\n<answer>" + a + "</answer>"});
    pairs.push_back({a, "$ " + retyped + " $"});
    pairs.push_back({a, "The answer is $\\boxed{" + perturbed + "}$."});
    pairs.push_back({a, "We simplify and compute the value carefully, checking each step twice. Therefore the final result is $\\boxed{" + a + "}$."});
  }
  MathOptions o;
  int equal = 0;
  for (auto& [g, p] : pairs) equal += verify(g, p, o).equal;  // warm-up
  double t0 = r1::bench::now_s(), c0 = r1::bench::cpu_s();
  int reps = 0;
  do {
    for (auto& [g, p] : pairs) verify(g, p, o);
    ++reps;
  } while (r1::bench::now_s() - t0 < 2.0);
  double wall = r1::bench::now_s() - t0, cpu = r1::bench::cpu_s() - c0;
  double per_s = pairs.size() * reps / cpu;  // per core: CPU seconds of this one thread
  std::printf("%-40s %12s\n", "measurement", "value");
  std::printf("%-40s %12zu\n", "pairs (MATH-500 x 4 predictions)", pairs.size());
  std::printf("%-40s %12d\n", "judged equal", equal);
  std::printf("%-40s %12.0f\n", "checks per second (wall)", pairs.size() * reps / wall);
  std::printf("%-40s %12.0f\n", "checks per second per core (CPU time)", per_s);
  std::printf("RESULT checks_per_s=%.0f\n", per_s);
  return 0;
}
