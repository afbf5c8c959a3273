// [eval]: held-out evaluation (pass@1 over k samples, unbiased pass@k, maj@k).
#pragma once

#include <cstdint>
#include <string>

namespace r1::rl {

struct EvalConfig {
  std::string dataset;         // named set or generator; "" = the [data] holdout
  std::string path;            // file override (jsonl)
  int64_t k = 4;               // samples per problem
  double temperature = 0.6;    // R1's evaluation setting
  double top_p = 0.95;
  int64_t max_new_tokens = 0;  // 0 = rollout.max_new_tokens
  int64_t limit = 200;         // problems evaluated; 0 = all

  template <class V>
  void visit(V& v) {
    v("dataset", dataset, "evaluation set (named or generator); empty = the [data] holdout");
    v.path("path", path, "evaluation file override (jsonl)");
    v("k", k, "samples per problem", 1, 1 << 16);
    v("temperature", temperature, "sampling temperature", 0.0, 100.0);
    v("top_p", top_p, "nucleus probability mass kept", 0.0, 1.0);
    v("max_new_tokens", max_new_tokens, "completion cap; 0 = rollout.max_new_tokens", 0, 1 << 24);
    v("limit", limit, "problems evaluated; 0 = all", 0, 1e12);
  }
};

}  // namespace r1::rl
