// examples/demo.cpp — fiberbridge's main job in miniature: many concurrent requests written as
// straight-line fiber code, doing real blocking work in SQLite through the bridges.
//
//   demo [--requests N] [--db PATH] [--threads N]
//
// One request (handle_request below) reads top to bottom like blocking code, yet only its own
// fiber ever waits; the runtime's few scheduler threads keep serving the other requests:
//
//   1. it waits for a simulated upstream service (boost::this_fiber::sleep_for);
//   2. it runs a blocking checksum on the built-in blocking pool
//      (sync_to_async with thread_sensitive = false);
//   3. it INSERTs its payload with a thread-sensitive sync_to_async (the default). The request
//      fibers were spawned from main() outside any async_to_sync, so the body runs on the
//      process-wide sync thread (routing rule 5): the one thread that opened the SQLite connection
//      and the only one that ever touches it;
//   4. it runs a blocking function that reads the row back and, from inside that sync code, calls
//      fiber code with async_to_sync. That fiber writes an audit row with sync_to_async, which
//      routing rule 1 sends to the thread parked in async_to_sync: the sync thread again, so the
//      connection still never leaves its thread;
//   5. it checks that it got its own data back.
//
// The Database class checks the calling thread on every use, so a routing mistake would show up
// as an error rather than as a silent data race. Exit status: 0 when every request got its own
// data back, 1 when something failed (message on stderr), 2 for bad arguments.
#include <fiberbridge/fiberbridge.hpp>

#include <boost/fiber/operations.hpp>
#include <pthread.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace fb = fiberbridge;
using namespace std::chrono_literals;

// ---- Which threads ran what -------------------------------------------------------------------

// ThreadLog — records, per role ("SQLite statements", "request fibers", ...), the OS threads that
// ran it, numbered T1, T2, ... in the order they were first seen and named as the OS names them.
// Called from fibers and plain threads alike; the lock is never held across a suspension.
class ThreadLog {
 public:
  void note(const std::string& role) {
    std::lock_guard lock(m_);
    auto [it, added] = numbers_.try_emplace(std::this_thread::get_id(), static_cast<int>(numbers_.size()) + 1);
    if (added) names_[it->second] = thread_name();
    roles_[role].insert(it->second);
  }
  // "2 threads: T3 fb-worker-1, T9 fb-worker-0"; long lists are cut after a few names.
  std::string describe(const std::string& role) {
    std::lock_guard lock(m_);
    const std::set<int>& ts = roles_[role];
    std::string out = std::to_string(ts.size()) + (ts.size() == 1 ? " thread:" : " threads:");
    int shown = 0;
    for (int t : ts) {
      if (++shown > 4) return out + " ...";
      out += (shown > 1 ? ", T" : " T") + std::to_string(t) + " " + names_[t];
    }
    return out;
  }
  std::size_t count(const std::string& role) {
    std::lock_guard lock(m_);
    return roles_[role].size();
  }

 private:
  static std::string thread_name() {
    char name[32] = "?";
    pthread_getname_np(pthread_self(), name, sizeof name);
    return name;
  }
  std::mutex m_;
  std::map<std::thread::id, int> numbers_;
  std::map<int, std::string> names_;
  std::map<std::string, std::set<int>> roles_;
};

ThreadLog threads;

// ---- The one SQLite connection ----------------------------------------------------------------

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

// ---- One request ------------------------------------------------------------------------------

// slow_checksum — blocking work that needs no particular thread (think: a legacy library call).
std::uint32_t slow_checksum(const std::string& data) {
  threads.note("blocking pool (checksums)");
  std::this_thread::sleep_for(1ms);
  std::uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : data) h = (h ^ c) * 16777619u;
  return h;
}

std::atomic<int> in_flight{0}, max_in_flight{0};

// handle_request — one request, as straight-line fiber code. Returns "" when the request got its
// own data back, else what went wrong.
std::string handle_request(Database& db, int request) {
  threads.note("request fibers");
  const int now = ++in_flight;
  for (int seen = max_in_flight; now > seen && !max_in_flight.compare_exchange_weak(seen, now);) {
  }

  // 1. Wait for a simulated upstream: only this fiber sleeps.
  boost::this_fiber::sleep_for(2ms);
  const std::string payload = "request " + std::to_string(request) + " says hello " +
                              std::string(static_cast<std::size_t>(request % 7 + 1), '!');

  // 2. Blocking work that may run anywhere: the blocking pool.
  const std::uint32_t sum = fb::sync_to_async(slow_checksum, {.thread_sensitive = false})(payload);

  // 3. Thread-sensitive (the default): runs on the sync thread, which owns the connection.
  const long long row = fb::sync_to_async([&db](int r, const std::string& p) {
    return db.insert_request(r, p);
  })(request, payload);

  // 4. Sync code that calls back into fiber code.
  struct Readback {
    std::string payload;
    long long audit_rows = 0;
  };
  const Readback back = fb::sync_to_async([&db](long long row, int request, std::uint32_t sum) {
    Readback b;
    b.payload = db.payload_of(row);  // on the sync thread
    b.audit_rows = fb::async_to_sync([&db](int request, std::uint32_t sum) {
      // A fiber again, on the request's runtime, while the sync thread waits for it.
      threads.note("callback fibers (async_to_sync)");
      boost::this_fiber::yield();
      // Rule 1: these go back to the thread parked in async_to_sync, the connection's owner.
      fb::sync_to_async([&db](int r, std::uint32_t s) { db.insert_audit(r, s); })(request, sum);
      return fb::sync_to_async([&db](int r) { return db.audit_rows(r); })(request);
    })(request, sum);
    return b;
  })(row, request, sum);

  // 5. Did this request get its own data back?
  --in_flight;
  threads.note("request fibers");
  if (back.payload != payload) return "read back '" + back.payload + "' instead of '" + payload + "'";
  if (back.audit_rows != 1) return "found " + std::to_string(back.audit_rows) + " audit rows instead of 1";
  if (fb::sync_to_async(slow_checksum, {.thread_sensitive = false})(back.payload) != sum)
    return "the checksum changed";
  return "";
}

// ---- The server -------------------------------------------------------------------------------

struct Options {
  int requests = 200;
  std::string db = ":memory:";
  unsigned threads = 0;  // 0 = one per CPU
};

struct Summary {
  int run = 0, ok = 0;
  std::vector<std::string> problems;
  long long written = 0, read = 0, request_rows = 0, total_rows = 0;
};

// serve — runs on a fiber: opens the database on the sync thread, runs every request as its own
// fiber, waits for them all (suspending only this fiber), and closes the database.
Summary serve(const Options& opt) {
  // Opened by a thread-sensitive body, so on the sync thread. If opening fails, the exception
  // crosses both bridges unchanged: out of this body into serve(), out of serve() into main().
  auto db = fb::sync_to_async([](const std::string& path) { return std::make_unique<Database>(path); })(opt.db);

  std::vector<fb::Task<std::string>> tasks;
  tasks.reserve(static_cast<std::size_t>(opt.requests));
  for (int r = 1; r <= opt.requests; ++r) tasks.push_back(fb::spawn(handle_request, std::ref(*db), r));

  Summary s;
  for (int r = 1; r <= opt.requests; ++r) {
    std::string problem;
    try {
      problem = tasks[static_cast<std::size_t>(r - 1)].get();
    } catch (const std::exception& e) {
      problem = std::string("failed: ") + e.what();
    }
    if (problem.empty()) ++s.ok;
    else s.problems.push_back("request " + std::to_string(r) + ": " + problem);
  }

  fb::sync_to_async([&db, &s] {  // read the totals and close, on the connection's thread
    s.run = db->run();
    s.written = db->rows_written();
    s.read = db->rows_read();
    s.request_rows = db->count("requests", true);
    s.total_rows = db->count("requests", false);
    db.reset();
  })();
  return s;
}

// ---- Command line -----------------------------------------------------------------------------

const char* const usage =
    "usage: demo [--requests N] [--db PATH] [--threads N]\n"
    "  --requests N  concurrent requests to serve (1..1000000, default 200)\n"
    "  --db PATH     SQLite database (default :memory:); a file gets tables 'requests' and 'audit'\n"
    "  --threads N   scheduler threads of the runtime (1..256, default: one per CPU)\n";

struct BadArguments : std::runtime_error {
  using std::runtime_error::runtime_error;
};

long parse_number(std::string_view flag, std::string_view text, long lo, long hi) {
  long v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < lo || v > hi)
    throw BadArguments(std::string(flag) + " expects a whole number from " + std::to_string(lo) + " to " +
                       std::to_string(hi) + ", not '" + std::string(text) + "'");
  return v;
}

Options parse(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) throw BadArguments(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--requests") opt.requests = static_cast<int>(parse_number(arg, value(), 1, 1000000));
    else if (arg == "--db") opt.db = value();
    else if (arg == "--threads") opt.threads = static_cast<unsigned>(parse_number(arg, value(), 1, 256));
    else if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else throw BadArguments("unknown argument '" + std::string(arg) + "'");
  }
  return opt;
}

void print_threads(const std::string& role) {
  std::printf("  %-33s %s\n", role.c_str(), threads.describe(role).c_str());
}

int main(int argc, char** argv) {
  Options opt;
  try {
    opt = parse(argc, argv);
  } catch (const BadArguments& e) {
    std::fprintf(stderr, "demo: %s\n%s", e.what(), usage);
    return 2;
  }

  fb::Runtime runtime{fb::RuntimeOptions{.threads = opt.threads}};
  std::printf("fiberbridge demo: %d requests on a runtime of %u scheduler threads, SQLite database %s\n",
              opt.requests, runtime.threads(), opt.db.c_str());
  threads.note("main (waits in Task::get)");

  const auto start = std::chrono::steady_clock::now();
  Summary s;
  try {
    // Spawned from a plain thread outside any async_to_sync: the request fibers' thread-sensitive
    // work goes to the sync thread (rule 5), not to this thread, while main waits in get().
    s = runtime.spawn(serve, opt).get();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "demo: %s\n", e.what());
    return 1;
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  std::printf("done in %.1f ms (one after another they would take over %d ms: 4 ms of waiting each)\n", ms,
              4 * opt.requests);
  std::printf("  at most %d requests in flight at once\n", max_in_flight.load());
  std::printf("  run %d: rows written %lld (requests + audit), rows read %lld; 'requests' holds %lld rows of "
              "this run, %lld in all\n",
              s.run, s.written, s.read, s.request_rows, s.total_rows);
  std::printf("  every request got its own data back: %s (%d/%d)\n", s.ok == opt.requests ? "yes" : "NO", s.ok,
              opt.requests);
  std::printf("threads that ran what:\n");
  print_threads("main (waits in Task::get)");
  print_threads("request fibers");
  print_threads("callback fibers (async_to_sync)");
  print_threads("SQLite statements");
  print_threads("blocking pool (checksums)");

  bool ok = s.ok == opt.requests && s.request_rows == opt.requests && s.written == 2LL * opt.requests;
  const bool one_db_thread = threads.count("SQLite statements") == 1;
  std::printf("checks: SQLite ran on one thread only: %s\n", one_db_thread ? "yes" : "NO");
  ok = ok && one_db_thread;
  for (std::size_t i = 0; i < s.problems.size() && i < 10; ++i) std::fprintf(stderr, "  %s\n", s.problems[i].c_str());
  if (!ok) std::fprintf(stderr, "demo: FAILED (see above)\n");
  return ok ? 0 : 1;
}
