// Small helpers for the benchmarks: wall clock, CPU time, table rows.
#pragma once

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace r1::bench {

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec * 1e-6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec * 1e-6;
}

inline std::string shared_dir() {
  const char* env = std::getenv("R1_SHARED");
  return env && *env ? env : R1_SHARED_DEFAULT;
}

}  // namespace r1::bench
