// bench_tokenizer: MB/s encoded on one thread by the DeepSeek-V3 tokenizer (and Qwen3), on
// English prose (GSM8K/MATH problem texts) and on code (HumanEval/MBPP programs) from ../shared.
// The BPE cache starts cold for each corpus and tokenizer.
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "text/json_value.h"
#include "text/tokenizer.h"

using namespace r1::text;

static std::vector<std::string> read_field(const std::string& path, const std::vector<std::string>& fields) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    Value v = parse_json(line, path);
    for (const auto& f : fields)
      if (v[f].is_string()) out.push_back(v[f].as_string());
  }
  return out;
}

struct Result {
  double mb_per_s;
  double tokens_per_s;
  size_t bytes;
};

static Result measure(const Tokenizer& tok, const std::vector<std::string>& texts) {
  size_t bytes = 0, tokens = 0;
  for (const auto& t : texts) bytes += t.size();
  // Repeat until at least ~1.5 s so the figure is stable.
  double t0 = r1::bench::now_s(), elapsed = 0;
  int reps = 0;
  do {
    for (const auto& t : texts) tokens += tok.encode(t).size();
    ++reps;
    elapsed = r1::bench::now_s() - t0;
  } while (elapsed < 1.5);
  return {bytes * reps / elapsed / 1e6, tokens / elapsed, bytes};
}

int main() {
  std::string shared = r1::bench::shared_dir();
  auto prose = read_field(shared + "/datasets/gsm8k/test.jsonl", {"question", "answer"});
  auto math = read_field(shared + "/datasets/math500/test.jsonl", {"problem", "solution"});
  prose.insert(prose.end(), math.begin(), math.end());
  auto code = read_field(shared + "/datasets/humaneval/HumanEval.jsonl", {"prompt", "canonical_solution", "test"});
  auto mbpp = read_field(shared + "/datasets/mbpp/mbpp.jsonl", {"code"});
  code.insert(code.end(), mbpp.begin(), mbpp.end());
  if (prose.empty() || code.empty()) {
    std::fprintf(stderr, "bench_tokenizer: needs ../shared/datasets (set R1_SHARED)\n");
    return 2;
  }
  std::printf("%-12s %-8s %10s %12s %14s\n", "tokenizer", "corpus", "MB", "MB/s", "tokens/s");
  double ds_prose = 0, ds_code = 0;
  for (std::string name : {"deepseek-v3", "qwen3"}) {
    Tokenizer tok = Tokenizer::load(shared + "/tokenizers/" + name);
    for (auto [label, texts] : {std::pair{"prose", &prose}, std::pair{"code", &code}}) {
      Tokenizer fresh = Tokenizer::load(shared + "/tokenizers/" + name);  // cold cache
      Result r = measure(fresh, *texts);
      std::printf("%-12s %-8s %10.2f %12.2f %14.0f\n", name.c_str(), label, r.bytes / 1e6, r.mb_per_s, r.tokens_per_s);
      if (name == "deepseek-v3") (std::string(label) == "prose" ? ds_prose : ds_code) = r.mb_per_s;
    }
  }
  std::printf("RESULT prose_mb_per_s=%.2f code_mb_per_s=%.2f\n", ds_prose, ds_code);
  return 0;
}
