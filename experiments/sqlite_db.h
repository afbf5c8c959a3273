// A small RAII layer over SQLite; sqlite_db.cpp is the only file that includes sqlite3.h.
// Errors become ExperimentsError naming the database file and the failing statement.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "experiments/config_tree.h"

struct sqlite3;
struct sqlite3_stmt;

namespace r1::experiments {

using Cell = std::variant<std::monostate, int64_t, double, std::string>;

// Rows of a query, columns named: what `r1 sql` and the comparison commands print.
struct ResultSet {
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;
};
std::string cell_text(const Cell& c);  // "" for NULL, shortest round-trip for doubles

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3_stmt* s, std::string db_path);
  Statement(Statement&&) noexcept = default;
  Statement& operator=(Statement&&) noexcept = default;

  Statement& bind(int index, int64_t v);
  Statement& bind(int index, double v);
  Statement& bind(int index, std::string_view v);  // copied by SQLite: safe for temporaries
  Statement& bind_static(int index, std::string_view v);  // caller keeps v alive until step()
  Statement& bind_null(int index);
  Statement& bind(int index, const Cell& v);
  bool step();   // true while a row is available; throws on error
  void reset();  // also clears bindings
  void run() { step(); reset(); }

  int columns() const;
  bool read_only() const;  // the statement cannot change the database
  std::string column_name(int i) const;
  bool is_null(int i) const;
  int64_t int_at(int i) const;
  double double_at(int i) const;
  std::string text_at(int i) const;
  Cell cell_at(int i) const;

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* s) const;
  };
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
  std::string db_path_;
};

class Database {
 public:
  enum class Mode { ReadOnly, ReadWrite, Create };
  Database() = default;
  Database(const std::string& path, Mode mode);
  Database(Database&&) noexcept = default;
  Database& operator=(Database&&) noexcept = default;

  void exec(std::string_view sql);
  Statement prepare(std::string_view sql);
  ResultSet query(std::string_view sql);  // every row of one statement
  // A query typed by someone who may not be trusted (r1 serve's SQL box): one statement that an
  // authorizer lets only read (no writes, ATTACH, PRAGMA other than schema listings,
  // load_extension), interrupted after `time_limit_ms`, at most `max_rows` rows returned.
  struct GuardedResult {
    ResultSet rs;
    bool truncated = false;  // more rows than max_rows
  };
  GuardedResult guarded_query(std::string_view sql, size_t max_rows, int time_limit_ms);
  int64_t last_insert_id() const;
  int changes() const;
  int user_version();
  void set_user_version(int v);
  const std::string& path() const { return path_; }
  bool read_only() const { return mode_ == Mode::ReadOnly; }
  explicit operator bool() const { return static_cast<bool>(db_); }

  // BEGIN IMMEDIATE ... COMMIT; rolls back if destroyed before commit().
  class Transaction {
   public:
    explicit Transaction(Database& db);
    ~Transaction();
    void commit();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

   private:
    Database& db_;
    bool done_ = false;
  };

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  std::unique_ptr<sqlite3, Closer> db_;
  std::string path_;
  Mode mode_ = Mode::ReadOnly;
};

}  // namespace r1::experiments
