// bench/ours.hpp — fiberbridge-side helpers shared by the benchmarks: long-lived runtimes
// (created once per process, outside any timed region) and running a benchmark loop on a fiber.
#pragma once

#include <benchmark/benchmark.h>

#include <fiberbridge/fiberbridge.hpp>

#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <string>

namespace fbbench {

namespace fb = fiberbridge;

// A runtime with `threads` scheduler threads and `stack` bytes per fiber, one per shape, kept
// for the life of the process (creating threads is not what we time).
// They are destroyed by shutdown_runtimes() at the end of main, on the main thread (not by static
// destructors, which run after the main thread's thread_local state is gone).
struct RuntimeSlots {
  std::mutex m;
  std::unique_ptr<fb::Runtime> slots[3][2];  // threads 1..2 (0 unused) x {64 KiB, 16 KiB}
};
inline RuntimeSlots& runtime_slots() {
  static auto* s = new RuntimeSlots;  // never destroyed by exit
  return *s;
}
inline fb::Runtime& runtime(unsigned threads, std::size_t stack = 64 * 1024) {
  auto& rs = runtime_slots();
  const int s = stack == 64 * 1024 ? 0 : 1;
  std::lock_guard g(rs.m);
  auto& slot = rs.slots[threads][s];
  if (!slot) {
    fb::RuntimeOptions o;
    o.threads = threads;
    o.stack_size = stack;
    o.name = "fb-bench";
    slot = std::make_unique<fb::Runtime>(o);
  }
  return *slot;
}

inline void shutdown_runtimes() {
  auto& rs = runtime_slots();
  for (auto& row : rs.slots)
    for (auto& slot : row) slot.reset();
}

// BENCHMARK_MAIN, then the runtimes are destroyed on the main thread.
#define FBBENCH_MAIN()                                               \
  int main(int argc, char** argv) {                                  \
    benchmark::Initialize(&argc, argv);                              \
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1; \
    benchmark::RunSpecifiedBenchmarks();                             \
    benchmark::Shutdown();                                           \
    fbbench::shutdown_runtimes();                                    \
    return 0;                                                        \
  }                                                                  \
  static_assert(true)

// Runs `body` (which contains the `for (auto _ : state)` loop) on a fiber of `rt` and waits.
// An exception turns into SkipWithError instead of killing the whole suite.
template <class F>
void on_fiber(benchmark::State& state, fb::Runtime& rt, F&& body) {
  std::string error;
  try {
    rt.spawn([&] {
        try {
          body();
        } catch (const std::exception& e) {
          error = e.what();
        }
      }).get();
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (!error.empty()) state.SkipWithError(error.c_str());
}

// The same guard for loops that run on the benchmark thread itself.
template <class F>
void guarded(benchmark::State& state, F&& body) {
  try {
    body();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

}  // namespace fbbench
