// examples/demo/main.cpp — fiberbridge's main job in miniature: many concurrent requests written as
// straight-line fiber code, doing real blocking work in SQLite through the bridges.
//
//   demo [--requests N] [--db PATH] [--threads N]
//
// One request (handle_request in request.hpp) reads top to bottom like blocking code, yet only its
// own fiber ever waits; the runtime's few scheduler threads keep serving the other requests:
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
//
// The parts: thread_log.hpp (which threads ran what), database.hpp (the one SQLite connection),
// request.hpp (one request), server.hpp (all requests on one database), command_line.hpp, and
// this file, which runs the server and reports.
#include <fiberbridge/fiberbridge.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "command_line.hpp"
#include "request.hpp"
#include "server.hpp"
#include "thread_log.hpp"

namespace fb = fiberbridge;

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
