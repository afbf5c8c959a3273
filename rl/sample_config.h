// [sample]: rejection sampling (`r1 sample`, and a pipeline's `kind = "sample"` stage). Which
// prompts is the [data] table's business (dataset or file, split, template); this table says how
// many answers per prompt, how they are sampled, and which are kept (rl/rejection_sampling.h).
#pragma once

#include <cstdint>
#include <string>

namespace r1::rl {

struct SampleConfig {
  int64_t n = 4;                     // samples per prompt
  std::string keep = "correct,format";  // rules, comma-separated (rl/rejection_sampling.h)
  double temperature = 0.7;
  double top_p = 0.95;
  int64_t max_new_tokens = 256;
  int64_t limit = 0;                 // prompts sampled; 0 = all
  int64_t batch = 256;               // sequences decoded together (does not change the outputs)

  template <class V>
  void visit(V& v) {
    v("n", n, "samples per prompt", 1, 1 << 20);
    v("keep", keep, "rules: correct, format, finished, language=en[:0.95], max_tokens=N, no_repetition[=0.1]; then all_correct | best_of=K | first_k=K");
    v("temperature", temperature, "sampling temperature", 0.0, 100.0);
    v("top_p", top_p, "nucleus probability mass kept", 0.0, 1.0);
    v("max_new_tokens", max_new_tokens, "completion cap", 1, 1 << 24);
    v("limit", limit, "prompts sampled; 0 = all", 0, 1e12);
    v("batch", batch, "sequences decoded together", 1, 1 << 20);
  }
};

}  // namespace r1::rl
