// Helpers for tests that run `r1` as a process and read its run store: read-only queries
// (opened afresh each time, so a writer in another process is never blocked), reproducible
// metrics, and a background `r1` to kill.
#pragma once

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace r1::test::store {

// A read-only view of a run store, opened afresh per query so a writer in another process is
// never blocked.
inline std::vector<std::vector<std::string>> query(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  std::vector<std::vector<std::string>> rows;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return rows;
  }
  sqlite3_busy_timeout(h, 5000);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const unsigned char* t = sqlite3_column_text(st, i);
        row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
      }
      rows.push_back(std::move(row));
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return rows;
}

inline std::string scalar(const std::string& db, const std::string& sql) {
  auto rows = query(db, sql);
  return rows.empty() || rows[0].empty() ? "" : rows[0][0];
}

// Metrics that must reproduce exactly: everything except wall-clock figures.
inline std::map<std::pair<int64_t, std::string>, std::string> reproducible_metrics(const std::string& db, int run) {
  std::map<std::pair<int64_t, std::string>, std::string> m;
  for (auto& r : query(db, "SELECT step, key, printf('%.17g', value) FROM metrics WHERE run_id = " + std::to_string(run) +
                               " AND key NOT LIKE 'time/%' AND key NOT LIKE 'tokens_per_s/%'"))
    m[{std::stoll(r[0]), r[1]}] = r[2];
  return m;
}

inline std::vector<double> series(const std::string& db, int run, const std::string& key) {
  std::vector<double> v;
  for (auto& r : query(db, "SELECT value FROM metrics WHERE run_id = " + std::to_string(run) + " AND key = '" + key + "' ORDER BY step"))
    v.push_back(std::stod(r[0]));
  return v;
}

// Starts `r1 ARGS...` in `cwd` in the background (output to files in `cwd`).
inline pid_t spawn_r1(const std::string& cwd, const std::vector<std::string>& args) {
  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(cwd.c_str()) != 0) _exit(127);
    FILE* out = freopen("spawned.out", "w", stdout);
    FILE* err = freopen("spawned.err", "w", stderr);
    (void)out;
    (void)err;
    std::vector<char*> argv{const_cast<char*>(R1_BINARY)};
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(R1_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

// Waits until `sql` returns a row (or the process ends, or 120 s pass); true when it did.
inline bool wait_for_row(const std::string& db, const std::string& sql, pid_t pid) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!query(db, sql).empty()) return true;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

}  // namespace r1::test::store
