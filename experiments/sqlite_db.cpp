// The only file that knows SQLite's C API.
#include "experiments/sqlite_db.h"

#include <sqlite3.h>

#include <charconv>
#include <chrono>
#include <cmath>

namespace r1::experiments {
namespace {

[[noreturn]] void fail(sqlite3* db, const std::string& path, std::string_view what) {
  std::string msg = path + ": " + std::string(what) + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
  throw ExperimentsError(msg);
}

}  // namespace

std::string cell_text(const Cell& c) {
  if (std::holds_alternative<std::monostate>(c)) return "";
  if (auto* i = std::get_if<int64_t>(&c)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&c)) {
    if (std::isnan(*d)) return "nan";
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, *d);
    return std::string(buf, r.ptr);
  }
  return std::get<std::string>(c);
}

void Statement::Finalizer::operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }

Statement::Statement(sqlite3_stmt* s, std::string db_path) : stmt_(s), db_path_(std::move(db_path)) {}

Statement& Statement::bind(int index, int64_t v) {
  if (sqlite3_bind_int64(stmt_.get(), index, v) != SQLITE_OK) fail(sqlite3_db_handle(stmt_.get()), db_path_, "bind");
  return *this;
}
Statement& Statement::bind(int index, double v) {
  int rc = std::isnan(v) ? sqlite3_bind_null(stmt_.get(), index) : sqlite3_bind_double(stmt_.get(), index, v);
  if (rc != SQLITE_OK) fail(sqlite3_db_handle(stmt_.get()), db_path_, "bind");
  return *this;
}
Statement& Statement::bind(int index, std::string_view v) {
  if (sqlite3_bind_text(stmt_.get(), index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) != SQLITE_OK)
    fail(sqlite3_db_handle(stmt_.get()), db_path_, "bind");
  return *this;
}
Statement& Statement::bind_static(int index, std::string_view v) {
  if (sqlite3_bind_text(stmt_.get(), index, v.data(), static_cast<int>(v.size()), SQLITE_STATIC) != SQLITE_OK)
    fail(sqlite3_db_handle(stmt_.get()), db_path_, "bind");
  return *this;
}
Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_.get(), index);
  return *this;
}
Statement& Statement::bind(int index, const Cell& v) {
  if (auto* i = std::get_if<int64_t>(&v)) return bind(index, *i);
  if (auto* d = std::get_if<double>(&v)) return bind(index, *d);
  if (auto* s = std::get_if<std::string>(&v)) return bind(index, std::string_view(*s));
  return bind_null(index);
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3* db = sqlite3_db_handle(stmt_.get());
  std::string sql = sqlite3_sql(stmt_.get()) ? sqlite3_sql(stmt_.get()) : "";
  if (sql.size() > 80) sql = sql.substr(0, 77) + "...";
  sqlite3_reset(stmt_.get());
  fail(db, db_path_, "in \"" + sql + "\"");
}

void Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

bool Statement::read_only() const { return sqlite3_stmt_readonly(stmt_.get()) != 0; }
int Statement::columns() const { return sqlite3_column_count(stmt_.get()); }
std::string Statement::column_name(int i) const { return sqlite3_column_name(stmt_.get(), i); }
bool Statement::is_null(int i) const { return sqlite3_column_type(stmt_.get(), i) == SQLITE_NULL; }
int64_t Statement::int_at(int i) const { return sqlite3_column_int64(stmt_.get(), i); }
double Statement::double_at(int i) const { return sqlite3_column_double(stmt_.get(), i); }
std::string Statement::text_at(int i) const {
  const unsigned char* t = sqlite3_column_text(stmt_.get(), i);
  int n = sqlite3_column_bytes(stmt_.get(), i);
  return t ? std::string(reinterpret_cast<const char*>(t), n) : std::string();
}
Cell Statement::cell_at(int i) const {
  switch (sqlite3_column_type(stmt_.get(), i)) {
    case SQLITE_INTEGER: return int_at(i);
    case SQLITE_FLOAT: return double_at(i);
    case SQLITE_NULL: return std::monostate{};
    default: return text_at(i);
  }
}

void Database::Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

Database::Database(const std::string& path, Mode mode) : path_(path), mode_(mode) {
  int flags = SQLITE_OPEN_NOMUTEX;
  if (mode == Mode::ReadOnly) flags |= SQLITE_OPEN_READONLY;
  else flags |= SQLITE_OPEN_READWRITE;
  if (mode == Mode::Create) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) fail(raw, path, "cannot open database");
  // Writers batch their rows; readers never block them (WAL) and wait a little for a checkpoint.
  sqlite3_busy_timeout(raw, 10000);
  sqlite3_extended_result_codes(raw, 1);
}

void Database::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_.get(), s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "error";
    sqlite3_free(err);
    throw ExperimentsError(path_ + ": " + msg);
  }
}

Statement Database::prepare(std::string_view sql) {
  sqlite3_stmt* s = nullptr;
  const char* tail = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &s, &tail) != SQLITE_OK)
    fail(db_.get(), path_, "cannot prepare query");
  if (!s) throw ExperimentsError(path_ + ": empty query");
  // One statement at a time: trailing text other than whitespace/semicolons is an error.
  for (const char* p = tail; p && p < sql.data() + sql.size(); ++p) {
    if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r' && *p != ';') {
      sqlite3_finalize(s);
      throw ExperimentsError(path_ + ": only one SQL statement is allowed per query");
    }
  }
  return Statement(s, path_);
}

ResultSet Database::query(std::string_view sql) {
  Statement st = prepare(sql);
  ResultSet rs;
  for (int i = 0; i < st.columns(); ++i) rs.columns.push_back(st.column_name(i));
  while (st.step()) {
    std::vector<Cell> row;
    row.reserve(rs.columns.size());
    for (int i = 0; i < st.columns(); ++i) row.push_back(st.cell_at(i));
    rs.rows.push_back(std::move(row));
  }
  return rs;
}

namespace {

// What an untrusted query may do: read tables, call functions other than load_extension, run
// recursive CTEs, and list the schema. Everything else is refused when the statement is prepared.
int read_only_authorizer(void*, int action, const char* a, const char*, const char*, const char*) {
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    case SQLITE_FUNCTION: {
      std::string_view f = a ? a : "";
      return (f == "load_extension" || f == "fts3_tokenizer" || f == "readfile" || f == "writefile" || f == "edit")
                 ? SQLITE_DENY
                 : SQLITE_OK;
    }
    case SQLITE_PRAGMA: {
      std::string_view p = a ? a : "";
      bool listing = p == "table_info" || p == "table_xinfo" || p == "table_list" || p == "index_list" ||
                     p == "index_info" || p == "foreign_key_list";
      return listing ? SQLITE_OK : SQLITE_DENY;
    }
    default:
      return SQLITE_DENY;
  }
}

struct Deadline {
  std::chrono::steady_clock::time_point until;
};

int past_deadline(void* p) {
  return std::chrono::steady_clock::now() > static_cast<Deadline*>(p)->until ? 1 : 0;
}

}  // namespace

Database::GuardedResult Database::guarded_query(std::string_view sql, size_t max_rows, int time_limit_ms) {
  Deadline deadline{std::chrono::steady_clock::now() + std::chrono::milliseconds(time_limit_ms)};
  sqlite3* db = db_.get();
  // Installed for this query only; removed on every way out (the connection is reused).
  struct Guard {
    sqlite3* db;
    Guard(sqlite3* d, Deadline* dl) : db(d) {
      sqlite3_set_authorizer(db, read_only_authorizer, nullptr);
      sqlite3_progress_handler(db, 1000, past_deadline, dl);
    }
    ~Guard() {
      sqlite3_set_authorizer(db, nullptr, nullptr);
      sqlite3_progress_handler(db, 0, nullptr, nullptr);
    }
  } guard(db, &deadline);
  Statement st;
  try {
    st = prepare(sql);
  } catch (const ExperimentsError& e) {
    std::string msg = e.what();
    if (msg.find("not authorized") != std::string::npos)
      throw ExperimentsError("refused: the SQL box only reads (no writes, ATTACH, PRAGMA or load_extension)");
    throw;
  }
  if (!st.read_only()) throw ExperimentsError("refused: the SQL box only reads");
  GuardedResult out;
  for (int i = 0; i < st.columns(); ++i) out.rs.columns.push_back(st.column_name(i));
  try {
    while (st.step()) {
      if (out.rs.rows.size() == max_rows) {
        out.truncated = true;
        break;
      }
      std::vector<Cell> row;
      row.reserve(out.rs.columns.size());
      for (int i = 0; i < st.columns(); ++i) row.push_back(st.cell_at(i));
      out.rs.rows.push_back(std::move(row));
    }
  } catch (const ExperimentsError&) {
    if (sqlite3_errcode(db) == SQLITE_INTERRUPT || past_deadline(&deadline))
      throw ExperimentsError("stopped: the query ran longer than " + std::to_string(time_limit_ms) + " ms");
    throw;
  }
  return out;
}

int64_t Database::last_insert_id() const { return sqlite3_last_insert_rowid(db_.get()); }
int Database::changes() const { return sqlite3_changes(db_.get()); }

int Database::user_version() {
  Statement st = prepare("PRAGMA user_version");
  st.step();
  return static_cast<int>(st.int_at(0));
}
void Database::set_user_version(int v) { exec("PRAGMA user_version = " + std::to_string(v)); }

Database::Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }
Database::Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.exec("ROLLBACK");
    } catch (...) {
    }
  }
}
void Database::Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace r1::experiments
