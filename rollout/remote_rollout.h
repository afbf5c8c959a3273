// Rollout on worker processes (rollout_worker.h), behind the same interface as the in-process
// engine: the learner's loop calls generate() and sync_weights() and does not know where the
// completions come from. generate() is synchronous: every group of the call is sampled with the
// current weight version. submit()/collect() let the learner keep batches in flight while it
// trains (asynchronous GRPO): a group is sampled with the version current when it is handed to a
// worker, which each completion records. sync_weights() publishes the next version.
//
// How: a WorkerGate accepts workers (handshake); each gets the current weights (weight_sync.h)
// before its first request. A generate() call turns each request into a group (one worker
// samples all of it, so its prefill is shared) and hands groups to the workers with the most free
// slots. A worker that leaves has its outstanding groups re-issued to the others; a result for a
// group that is not outstanding (a late answer from a worker that was given up on) is ignored, so
// nothing is lost or counted twice. With no worker, generate() waits, saying so every few seconds.
//
//   RemoteRollout remote(model, {.gate = {.listen = "127.0.0.1:0", .expected = {...}}});
//   std::cout << "rollout service on port " << remote.port();
//   auto completions = remote.generate(requests);
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "rollout/remote_messages.h"
#include "rollout/rollout_backend.h"
#include "rollout/weight_group.h"
#include "rollout/weight_sync.h"
#include "rollout/worker_gate.h"

namespace r1::rollout {

struct RemoteRolloutStats {
  int64_t groups_reissued = 0;      // taken back from workers that left
  int64_t late_results_ignored = 0; // answers for groups no longer outstanding
  int64_t weight_bytes_sent = 0;    // over all workers and versions
  double last_sync_s = 0;           // encoding the last version
  int64_t last_sync_bytes = 0;      // one worker's share of it
  double worker_online_s = 0;       // summed over workers, joined until now (or until they left)
  double worker_busy_s = 0;         // of that, with at least one group outstanding
};

// collect() gave up because the run was asked to stop.
class Interrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RemoteRollout final : public RolloutBackend {
 public:
  struct Options {
    WorkerGate::Options gate;
    size_t weight_chunk_bytes = 8u << 20;
    double wait_log_every_s = 10;  // how often generate() says it is waiting for a worker
    int64_t weight_version = 0;    // of the learner's weights now (a resumed run's)
    const std::atomic<bool>* stop = nullptr;  // set (Ctrl-C): a waiting collect() gives up
    // rollout.weight_sync = "c10d": a fixed set of this many workers gets every version after the
    // first by broadcast (weight_group.h); 0 = weights on the connection, workers come and go.
    int64_t c10d_workers = 0;
    std::string c10d_backend = "gloo";
    double c10d_timeout_s = 600;
  };

  RemoteRollout(policy::CausalLM& learner, Options options);
  ~RemoteRollout() override;

  std::vector<Completion> generate(const std::vector<Request>& requests) override;
  int64_t submit(const std::vector<Request>& requests, bool urgent = false) override;
  // Throws Interrupted when Options::stop is set while it waits.
  std::vector<Completion> collect(int64_t ticket) override;
  Received received(int64_t ticket, bool wait) override;
  // Until a worker has joined (saying so every few seconds); throws Interrupted on Ctrl-C.
  void wait_for_worker();
  int64_t submit_with(const std::vector<Request>& requests, Received done) override;
  void sync_weights(policy::CausalLM& learner) override;
  int64_t weight_version() const override;
  void set_weight_version(int64_t version) override;

  uint16_t port() const { return gate_->port(); }
  std::string address() const { return host_ + ":" + std::to_string(port()); }  // HOST:PORT workers connect to
  size_t workers() const { return gate_->workers(); }
  RemoteRolloutStats stats() const;

 private:
  struct Worker {
    int64_t slots = 1;
    int64_t busy = 0;               // samples of its outstanding groups
    std::set<int64_t> groups;       // outstanding on it
    double joined_at = 0, busy_since = 0, busy_s = 0;
  };
  struct Group {
    int64_t ticket = 0;             // the submit() it belongs to
    size_t request = 0;             // index in that call's requests
    int64_t worker = 0;             // 0 while queued
    int64_t samples = 1;
    int64_t version = 0;            // it was handed out with (its completions must say so)
  };
  struct Call {
    std::vector<Request> requests;
    std::vector<int64_t> groups;    // group ids, in request order
  };

  void on_join(int64_t id, const wire::Hello& hello);
  void on_frame(int64_t id, wire::Frame frame);
  void on_leave(int64_t id);
  void publish(std::vector<std::string> chunks, double encode_s);
  void republish(policy::CausalLM& learner, int64_t version);
  void broadcast_version(policy::CausalLM& learner, int64_t version);
  std::string admit(const wire::Hello& hello, wire::Welcome& welcome);
  void send_weights_locked(int64_t worker);
  void dispatch_locked();
  int64_t submit_locked(const std::vector<Request>& requests, bool urgent, Received done);
  void wait_for_locked(std::unique_lock<std::mutex>& lock, const std::vector<int64_t>& groups);
  void wait_until_locked(std::unique_lock<std::mutex>& lock, const std::function<bool()>& ok);
  void add_busy_locked(Worker& w, int64_t samples, double now);
  void log(const std::string& line) const;
  std::string check_versions_locked(const Group& g, const std::vector<Completion>& completions) const;

  Options options_;
  std::string host_;          // of options_.gate.listen
  policy::CausalLM learner_;  // a handle: the module whose weights are published
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int64_t version_ = 0;
  std::vector<std::string> weight_chunks_;  // the current version, as sent to every joining worker
  std::map<int64_t, Worker> workers_;       // joined and holding the current weights
  std::map<int64_t, Call> calls_;           // submitted and not yet collected, by ticket
  int64_t next_ticket_ = 1;
  std::map<int64_t, Group> outstanding_;    // by group id, of every call not yet answered
  std::deque<int64_t> queued_;              // group ids waiting for a worker
  std::map<int64_t, std::vector<Completion>> done_;  // by group id, until its call is collected
  int64_t next_group_ = 1;
  RemoteRolloutStats stats_;
  std::map<int64_t, int64_t> c10d_rank_;        // worker id -> its rank in the weight group
  uint16_t c10d_port_ = 0;                       // the group's store, hosted here (rank 0)
  std::unique_ptr<WeightBroadcast> broadcast_;   // formed at the first version sent by broadcast
  bool c10d_forming_ = false;                    // its members are fixed from the first announce on
  std::unique_ptr<WorkerGate> gate_;        // last: its io thread stops first
};

}  // namespace r1::rollout
