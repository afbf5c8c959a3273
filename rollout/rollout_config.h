// [rollout]: how completions are sampled for a training step.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace r1::rollout {

// Where completions are sampled: the learner's own engine, or `r1 rollout worker` processes that
// connect to the learner's rollout service (remote_rollout.h).
enum class BackendKind { in_process, remote };
constexpr std::array<std::pair<BackendKind, std::string_view>, 2> enum_names(BackendKind) {
  return {{{BackendKind::in_process, "in_process"}, {BackendKind::remote, "remote"}}};
}

// How a remote run's weights reach workers: on each worker's connection (workers come and go), or
// by c10d broadcast to a worker set fixed at launch (Gloo on CPU, NCCL on GPU).
enum class WeightSync { connection, c10d };
constexpr std::array<std::pair<WeightSync, std::string_view>, 2> enum_names(WeightSync) {
  return {{{WeightSync::connection, "connection"}, {WeightSync::c10d, "c10d"}}};
}

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
  BackendKind backend = BackendKind::in_process;
  std::string listen = "127.0.0.1:0";  // the rollout service's address (remote); port 0 = any free one
  std::string token_file;          // the shared token workers must present (else $R1_ROLLOUT_TOKEN)
  int64_t max_staleness = 0;       // k: batches sampled ahead of the learner (0 = on-policy)
  bool inflight_update = false;    // workers swap in new weights between decode steps
  double weight_chunk_mb = 8;      // weights go to workers in chunks of this size
  WeightSync weight_sync = WeightSync::connection;
  int64_t workers = 0;             // weight_sync = c10d: the fixed number of workers

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
    v("backend", backend, "in_process (the learner's engine) | remote (`r1 rollout worker` processes connect to rollout.listen)");
    v("listen", listen, "remote: the rollout service's HOST:PORT (port 0 = any free one, printed and stored with the run)");
    v.path("token_file", token_file, "remote: file holding the token workers must present (else $R1_ROLLOUT_TOKEN; required beyond loopback)");
    v("max_staleness", max_staleness, "remote: k, batches sampled ahead while the learner trains; a group older than k versions is sampled again", 0, 64);
    v("inflight_update", inflight_update, "remote, k >= 1: workers apply new weights between decode steps (per-token versions) instead of after their batch");
    v("weight_sync", weight_sync, "remote: connection (chunks on each worker's connection) | c10d (broadcast to rollout.workers fixed workers)");
    v("workers", workers, "remote with weight_sync = c10d: how many workers form the weight group", 0, 1 << 16);
    v("weight_chunk_mb", weight_chunk_mb, "remote: size of the weight chunks sent to workers (MB; a frame holds at most 64 MiB)", 0.0625, 32.0);
  }
};

}  // namespace r1::rollout
