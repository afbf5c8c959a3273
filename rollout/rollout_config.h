// [rollout]: how completions are sampled for a training step.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace r1::rollout {

struct RolloutConfig {
  int64_t group_size = 16;         // G: completions sampled per prompt
  double temperature = 1.0;        // 0 = greedy
  double top_p = 1.0;              // nucleus mass kept; 1 = off
  int64_t top_k = 0;               // 0 = off
  double min_p = 0.0;              // drop tokens below min_p * p(top token); 0 = off
  int64_t max_new_tokens = 256;    // completion length cap (finish reason "length")
  int64_t max_batch_seqs = 0;      // sequences decoded together; 0 = all of a step
  int64_t max_batch_tokens = 0;    // KV-cache budget in tokens; 0 = what the batch needs
  std::vector<std::string> stop;   // stop strings (matched on decoded text)
  bool include_stop = true;        // keep the matched stop string in the completion

  template <class V>
  void visit(V& v) {
    v("group_size", group_size, "G: completions sampled per prompt", 1, 1 << 20);
    v("temperature", temperature, "sampling temperature; 0 = greedy", 0.0, 100.0);
    v("top_p", top_p, "nucleus probability mass kept; 1 = off", 0.0, 1.0);
    v("top_k", top_k, "keep the k most likely tokens; 0 = off", 0, 1 << 30);
    v("min_p", min_p, "drop tokens below min_p times the top probability; 0 = off", 0.0, 1.0);
    v("max_new_tokens", max_new_tokens, "completion length cap (finish reason 'length')", 1, 1 << 24);
    v("max_batch_seqs", max_batch_seqs, "sequences decoded together; 0 = all of a step", 0, 1 << 24);
    v("max_batch_tokens", max_batch_tokens, "KV-cache budget in tokens; 0 = what the batch needs", 0, 1e12);
    v("stop", stop, "stop strings, matched on the decoded text");
    v("include_stop", include_stop, "keep the matched stop string at the end of the completion");
  }
};

}  // namespace r1::rollout
