// examples/demo/database.hpp — the one SQLite connection, usable only on the thread that opened it.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <thread>

#include "thread_log.hpp"

// Database — one SQLite connection that belongs to the thread that opened it. Every method checks
// that it runs on that thread (the connection is opened with SQLITE_OPEN_NOMUTEX: SQLite itself
// would not notice concurrent use). Throws std::runtime_error on any SQLite error.
class Database {
 public:
  explicit Database(const std::string& path) : owner_(std::this_thread::get_id()) {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw std::runtime_error("cannot open SQLite database '" + path + "': " + why);
    }
    try {
      exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
           "CREATE TABLE IF NOT EXISTS requests(id INTEGER PRIMARY KEY, run INTEGER NOT NULL,"
           "  request INTEGER NOT NULL, payload TEXT NOT NULL);"
           "CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY, run INTEGER NOT NULL,"
           "  request INTEGER NOT NULL, checksum INTEGER NOT NULL);");
      run_ = static_cast<int>(query_int("SELECT coalesce(max(run), 0) + 1 FROM requests", {}));
    } catch (const std::exception& e) {
      sqlite3_close(db_);
      throw std::runtime_error("cannot use SQLite database '" + path + "': " + e.what());
    }
  }
  ~Database() { sqlite3_close(db_); }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  int run() const { return run_; }
  long long rows_written() const { return written_; }
  long long rows_read() const { return read_; }

  long long insert_request(int request, const std::string& payload) {
    Statement st(*this, "INSERT INTO requests(run, request, payload) VALUES(?, ?, ?)");
    st.bind(1, run_).bind(2, request).bind(3, payload).step();
    ++written_;
    return sqlite3_last_insert_rowid(db_);
  }
  std::string payload_of(long long row) {
    Statement st(*this, "SELECT payload FROM requests WHERE id = ?");
    if (!st.bind(1, row).step()) throw std::runtime_error("row " + std::to_string(row) + " is missing");
    ++read_;
    return reinterpret_cast<const char*>(sqlite3_column_text(st.get(), 0));
  }
  void insert_audit(int request, std::uint32_t checksum) {
    Statement st(*this, "INSERT INTO audit(run, request, checksum) VALUES(?, ?, ?)");
    st.bind(1, run_).bind(2, request).bind(3, static_cast<long long>(checksum)).step();
    ++written_;
  }
  long long audit_rows(int request) {
    ++read_;
    return query_int("SELECT count(*) FROM audit WHERE run = ? AND request = ?", {run_, request});
  }
  long long count(const char* table, bool this_run_only) {
    std::string sql = std::string("SELECT count(*) FROM ") + table + (this_run_only ? " WHERE run = ?" : "");
    return this_run_only ? query_int(sql.c_str(), {run_}) : query_int(sql.c_str(), {});
  }

 private:
  // Statement — a prepared statement, finalized on scope exit.
  class Statement {
   public:
    Statement(Database& db, const char* sql) : db_(db) {
      db_.check_thread();
      db_.check(sqlite3_prepare_v2(db_.db_, sql, -1, &st_, nullptr));
    }
    ~Statement() { sqlite3_finalize(st_); }
    Statement& bind(int i, long long v) { return db_.check(sqlite3_bind_int64(st_, i, v)), *this; }
    Statement& bind(int i, const std::string& v) {
      return db_.check(sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT)), *this;
    }
    bool step() {  // true when a row is available
      const int rc = sqlite3_step(st_);
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) db_.check(rc);
      return rc == SQLITE_ROW;
    }
    sqlite3_stmt* get() const { return st_; }

   private:
    Database& db_;
    sqlite3_stmt* st_ = nullptr;
  };

  void check_thread() const {
    threads.note("SQLite statements");
    if (std::this_thread::get_id() != owner_)
      throw std::logic_error("the SQLite connection was used off the thread that opened it");
  }
  void check(int rc) const {
    if (rc != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db_));
  }
  void exec(const char* sql) {
    check_thread();
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      std::string why = error ? error : sqlite3_errmsg(db_);
      sqlite3_free(error);
      throw std::runtime_error(why);
    }
  }
  long long query_int(const char* sql, std::initializer_list<long long> args) {
    Statement st(*this, sql);
    int i = 0;
    for (long long a : args) st.bind(++i, a);
    if (!st.step()) throw std::runtime_error(std::string("no result for ") + sql);
    return sqlite3_column_int64(st.get(), 0);
  }

  sqlite3* db_ = nullptr;
  std::thread::id owner_;
  int run_ = 0;
  long long written_ = 0, read_ = 0;
};
