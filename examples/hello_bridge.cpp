// examples/hello_bridge.cpp — the smallest program that crosses both bridges.
//
// main() is ordinary blocking code. async_to_sync runs fiber code from it and parks main until
// that fiber is done; on the fiber, sync_to_async runs blocking code without blocking the
// scheduler thread: only the fiber waits. Because main is parked in async_to_sync, the
// thread-sensitive blocking calls run back on main's own thread (routing rule 1), just as
// asgiref runs them on the thread that called async_to_sync.
#include <fiberbridge/fiberbridge.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

#include "no_options.hpp"

namespace fb = fiberbridge;

// Blocking code: an ordinary function that sleeps like a slow database call.
int slow_square(int x) {
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return x * x;
}

const char* const usage =
    "usage: hello_bridge [--help]\n"
    "  Runs fiber code from main with async_to_sync and, on that fiber, blocking code with\n"
    "  sync_to_async; prints 3*3 + 4*4 and the thread the blocking calls ran on. Exit status 0\n"
    "  when they ran on main's thread, parked in async_to_sync (routing rule 1).\n";

int main(int argc, char** argv) {
  accept_no_options(argc, argv, "hello_bridge", usage);
  const auto main_thread = std::this_thread::get_id();
  bool ran_on_main = false;

  // sync -> async: this plain thread runs fiber code and waits for its result.
  const int total = fb::async_to_sync([&] {
    // async -> sync: on a fiber, blocking code runs on another thread; only this fiber waits.
    const int a = fb::sync_to_async(slow_square)(3);
    const int b = fb::sync_to_async([&](int x) {
      ran_on_main = std::this_thread::get_id() == main_thread;
      return slow_square(x);
    })(4);
    return a + b;
  })();

  std::printf("3*3 + 4*4 = %d; the blocking calls ran on %s\n", total,
              ran_on_main ? "main's thread, parked in async_to_sync" : "another thread (unexpected)");
  return total == 25 && ran_on_main ? 0 : 1;
}
