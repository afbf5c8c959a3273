// The code sandbox: one untrusted program run in isolation, with limits, and what came of it.
//
// Isolation (see sandbox_worker.cpp): each pool worker is a small process that once enters fresh
// user, mount, network, UTS and IPC namespaces and builds a root of its own — the system folders
// read-only, a curated /etc, a minimal /dev, no /proc, no home, no caller's folder — with one
// size-limited tmpfs at /work (also /tmp) as the only writable place. Every run then gets a new
// PID namespace, a wiped /work with no System V IPC objects left, rlimits, no capabilities, no_new_privs and a seccomp
// filter; when it ends its PID namespace is torn down, so nothing it started survives.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace r1::verifiers::code {

struct Limits {
  double cpu_s = 2.0;                          // CPU time of the program, all threads
  double wall_s = 0;                           // 0 = 2 x cpu_s + 1
  int64_t memory_bytes = 256ll << 20;          // address space; the stack limit equals it
  int64_t processes = 32;                      // processes + threads of the run
  int64_t file_size_bytes = 16ll << 20;        // largest file it may write
  int64_t open_files = 64;
  int64_t output_bytes = 1ll << 20;            // stdout and stderr each; more = OLE
  double wall() const { return wall_s > 0 ? wall_s : 2 * cpu_s + 1; }
};

// One process to run in a fresh /work holding `files`.
struct RunRequest {
  std::vector<std::string> argv;                // argv[0] an absolute path or ./name in /work
  std::map<std::string, std::string> files;     // name -> contents, written into /work first; an
                                                // executable that argv[0] names runs from a sealed
                                                // in-memory copy instead (sandbox_worker.cpp)
  std::vector<std::string> executable;          // which of `files` get mode 0755
  std::string stdin_data;
  Limits limits;
  std::vector<std::string> return_files;        // files of /work to send back after the run
};

// What happened, as measured by the worker. `error` non-empty = the sandbox itself failed.
struct RunResult {
  int exit_code = -1;        // when it exited
  int signal = 0;            // when a signal ended it
  double cpu_s = 0, wall_s = 0;
  int64_t memory_bytes = 0;  // peak resident set
  bool wall_timeout = false;
  bool output_limit = false;
  std::string stdout_data, stderr_data;
  std::map<std::string, std::string> files;
  std::string error;
};

enum class Verdict { AC, WA, TLE, MLE, RE, OLE, CE, SE };
const char* to_string(Verdict v);

// The verdict of a run before its output is compared (AC here means "ran cleanly").
Verdict classify(const RunResult& r, const Limits& limits);

// The language table: how to compile (optional) and run a source file.
struct Language {
  std::string name;
  std::string source_file;                     // in /work
  std::vector<std::string> compile_argv;       // empty = interpreted
  std::string compiled_file;                   // produced by the compile step
  std::vector<std::string> run_argv;
  Limits compile_limits;
};
const Language* find_language(const std::string& name);  // nullptr when unknown

}  // namespace r1::verifiers::code
