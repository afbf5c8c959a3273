// A pool of K sandbox workers (K = cores by default) driven asynchronously by Boost.Asio on a
// thread of its own: requests queue, each goes to the next idle worker, results come back as
// futures — the reward stage submits and waits without the trainer thread doing any I/O.
// A worker that dies or stops answering is killed and replaced; the run gets an SE verdict.
//
//   SandboxPool pool;                         // spawns r1-sandbox-worker processes
//   auto verdict = pool.judge(submission).get();
#pragma once

#include <future>
#include <memory>
#include <string>

#include "verifiers/code/judge.h"
#include "verifiers/code/sandbox.h"

namespace r1::verifiers::code {

struct PoolOptions {
  int workers = 0;                   // 0 = one per core
  std::string worker_path;           // "" = $R1_SANDBOX_WORKER, next to this executable, or the build's
  int64_t work_bytes = 64ll << 20;   // size of each worker's /work tmpfs (the disk a program may fill)
};

class SandboxPool {
 public:
  explicit SandboxPool(PoolOptions options = {});
  ~SandboxPool();
  SandboxPool(const SandboxPool&) = delete;
  SandboxPool& operator=(const SandboxPool&) = delete;

  std::future<RunResult> run(RunRequest request);
  // The same run on the calling thread, which blocks until the result: for a caller that would
  // wait for the future at once (a one-off run), the request goes straight to an idle worker
  // and the result straight back, without the io thread in between (bench_sandbox).
  RunResult run_now(const RunRequest& request);
  std::future<JudgeResult> judge(Submission submission);
  // Runs `source` in `lang` (compiling first when the language does), like `r1 sandbox run`.
  std::future<JudgeResult> run_source(const std::string& lang, const std::string& source, const std::string& stdin_data,
                                      const Limits& limits);

  int workers() const;
  // "" when the workers isolate; otherwise why not (every run then ends in SE).
  std::string isolation_error() const;
  int64_t restarts() const;  // workers replaced after dying or hanging

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Where the worker binary is found by default ("" when nowhere).
std::string find_worker_binary();

}  // namespace r1::verifiers::code
