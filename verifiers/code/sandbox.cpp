// Verdict names, the classification of a finished run, and the language table.
#include "verifiers/code/sandbox.h"

#include <signal.h>

namespace r1::verifiers::code {

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::AC: return "AC";
    case Verdict::WA: return "WA";
    case Verdict::TLE: return "TLE";
    case Verdict::MLE: return "MLE";
    case Verdict::RE: return "RE";
    case Verdict::OLE: return "OLE";
    case Verdict::CE: return "CE";
    case Verdict::SE: return "SE";
  }
  return "SE";
}

Verdict classify(const RunResult& r, const Limits& l) {
  if (!r.error.empty()) return Verdict::SE;
  // The file size limit: SIGXFSZ, or EFBIG where the signal is ignored (Python ignores it).
  if (r.output_limit || r.signal == SIGXFSZ ||
      ((r.exit_code != 0) && r.stderr_data.find("File too large") != std::string::npos))
    return Verdict::OLE;
  if (r.wall_timeout || r.signal == SIGXCPU || r.cpu_s > l.cpu_s) return Verdict::TLE;
  const bool failed = r.signal != 0 || r.exit_code != 0;
  if (failed) {
    // An allocation refused by the address-space limit surfaces as an exception or an abort.
    const std::string& e = r.stderr_data;
    bool oom_message = e.find("MemoryError") != std::string::npos || e.find("std::bad_alloc") != std::string::npos ||
                       e.find("Cannot allocate memory") != std::string::npos || e.find("out of memory") != std::string::npos;
    if (oom_message || r.memory_bytes >= l.memory_bytes * 95 / 100) return Verdict::MLE;
    return Verdict::RE;
  }
  if (r.memory_bytes > l.memory_bytes) return Verdict::MLE;
  return Verdict::AC;
}

namespace {

std::vector<Language> make_languages() {
  std::vector<Language> v;
  Language py;
  py.name = "python";
  py.source_file = "main.py";
  py.run_argv = {"/usr/bin/python3", "-I", "-B", "main.py"};
  v.push_back(py);
  Language cpp;
  cpp.name = "cpp";
  cpp.source_file = "main.cpp";
  cpp.compile_argv = {"/usr/bin/g++", "-std=gnu++17", "-O2", "-pipe", "-o", "main", "main.cpp"};
  cpp.compiled_file = "main";
  cpp.run_argv = {"./main"};
  cpp.compile_limits.cpu_s = 10;
  cpp.compile_limits.wall_s = 20;
  cpp.compile_limits.memory_bytes = 1ll << 30;
  cpp.compile_limits.processes = 16;
  cpp.compile_limits.file_size_bytes = 64ll << 20;
  cpp.compile_limits.output_bytes = 64 << 10;
  v.push_back(cpp);
  return v;
}

}  // namespace

const Language* find_language(const std::string& name) {
  static const std::vector<Language> langs = make_languages();
  std::string n = name == "py" || name == "python3" ? "python" : name == "c++" || name == "cxx" ? "cpp" : name;
  for (const auto& l : langs)
    if (l.name == n) return &l;
  return nullptr;
}

}  // namespace r1::verifiers::code
