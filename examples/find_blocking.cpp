// examples/find_blocking.cpp — finding the fiber that blocks its scheduler thread.
//
//   find_blocking [--help]
//
// A "request handler" fiber calls a blocking function directly (the classic bug: a database
// driver, sleep, a mutex held across I/O) instead of through sync_to_async. The runtime's
// slow-fiber detector reports it on stderr once it has held its thread for 100 ms
// (RuntimeOptions::slow_fiber_threshold), naming the fiber, its spawn site and the blocked
// thread, with that thread's stack. Meanwhile a well-behaved fiber waits in sync_to_async, and
// Runtime::dump shows every live fiber and what it waits for. Exit status 0 when the report came.
#include <fiberbridge/fiberbridge.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "no_options.hpp"

namespace fb = fiberbridge;
using namespace std::chrono_literals;

namespace {

// Stands for a blocking driver call that should have gone through sync_to_async.
void legacy_lookup() { std::this_thread::sleep_for(300ms); }

const char* const usage =
    "usage: find_blocking [--help]\n"
    "  Runs a fiber that blocks its scheduler thread (a direct sleep instead of sync_to_async)\n"
    "  next to one that waits properly; prints the runtime's slow-fiber report (stderr) and\n"
    "  Runtime::dump (stdout). Exit status 0 when exactly one report came.\n";

}  // namespace

int main(int argc, char** argv) {
  accept_no_options(argc, argv, "find_blocking", usage);
  std::atomic<int> reports{0};
  fb::RuntimeOptions options{.threads = 2, .name = "app"};
  options.on_slow_fiber = [&](const fb::SlowFiberReport& r) {
    std::fputs(r.to_string().c_str(), stderr);  // what the default handler prints
    reports.fetch_add(1);
  };
  fb::Runtime rt{options};

  // The right way: the blocking call runs on the sync thread, only this fiber waits.
  auto good = rt.spawn({.name = "report-writer"}, [] { fb::sync_to_async([] { std::this_thread::sleep_for(400ms); })(); });
  // The bug: the blocking call runs on the scheduler thread itself.
  auto bad = rt.spawn({.name = "lookup-handler"}, [] { legacy_lookup(); });

  std::this_thread::sleep_for(200ms);
  std::cout << "--- Runtime::dump while both fibers are busy ---\n";
  rt.dump(std::cout);
  bad.get();
  good.get();
  if (reports.load() != 1) {
    std::fprintf(stderr, "find_blocking: expected one slow-fiber report, got %d\n", reports.load());
    return 1;
  }
  return 0;
}
