// kv_service/store.hpp — the SQLite key-value table. Blocking code: every call runs on the
// process-wide sync thread (thread-sensitive sync_to_async), which therefore owns the one
// connection. Commits are synchronous (journal + synchronous=FULL), so a write that was
// acknowledged to a client is on disk.
#pragma once

#include <sqlite3.h>

#include <optional>
#include <stdexcept>
#include <string>

namespace kv {

class Store {
 public:
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  ~Store() { close(); }

  void open(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      std::string msg = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
      close();
      throw std::runtime_error("cannot open SQLite database '" + path + "': " + msg);
    }
    exec("PRAGMA synchronous=FULL");
    exec("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB NOT NULL)");
    get_ = prepare("SELECT v FROM kv WHERE k = ?1");
    put_ = prepare("INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v");
    del_ = prepare("DELETE FROM kv WHERE k = ?1");
  }

  void close() noexcept {
    for (sqlite3_stmt** s : {&get_, &put_, &del_}) {
      sqlite3_finalize(*s);
      *s = nullptr;
    }
    if (db_ != nullptr) sqlite3_close(db_);
    db_ = nullptr;
  }

  std::optional<std::string> get(const std::string& key) {
    Reset r{get_};
    bind_text(get_, 1, key);
    const int rc = sqlite3_step(get_);
    if (rc == SQLITE_DONE) return std::nullopt;
    if (rc != SQLITE_ROW) fail("SELECT");
    const auto* p = static_cast<const char*>(sqlite3_column_blob(get_, 0));
    return std::string(p != nullptr ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(get_, 0)));
  }

  void put(const std::string& key, const std::string& value) {
    Reset r{put_};
    bind_text(put_, 1, key);
    if (sqlite3_bind_blob(put_, 2, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT) != SQLITE_OK)
      fail("bind");
    if (sqlite3_step(put_) != SQLITE_DONE) fail("INSERT");
  }

  bool erase(const std::string& key) {
    Reset r{del_};
    bind_text(del_, 1, key);
    if (sqlite3_step(del_) != SQLITE_DONE) fail("DELETE");
    return sqlite3_changes(db_) > 0;
  }

 private:
  struct Reset {
    sqlite3_stmt* s;
    ~Reset() {
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
    }
  };
  void exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
  }
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &s, nullptr) != SQLITE_OK) fail(sql);
    return s;
  }
  void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
    if (sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) != SQLITE_OK) fail("bind");
  }
  [[noreturn]] void fail(const char* what) {
    throw std::runtime_error(std::string("sqlite: ") + what + ": " + (db_ ? sqlite3_errmsg(db_) : "closed"));
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* get_ = nullptr;
  sqlite3_stmt* put_ = nullptr;
  sqlite3_stmt* del_ = nullptr;
};

}  // namespace kv
