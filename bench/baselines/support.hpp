// bench/baselines/support.hpp — what every baseline and benchmark shares: the CPUs the process
// may use (captured before any benchmark pins a thread), pinning, sizes from the environment,
// the trivial body every round trip runs, and the skip for benchmarks that need two CPUs.
#pragma once

#include <benchmark/benchmark.h>

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstdlib>

namespace fbbench {

// The CPUs the process may use, as it was started (captured before any benchmark pins a thread).
inline const cpu_set_t& process_cpus() noexcept {
  static const cpu_set_t set = [] {
    cpu_set_t s;
    CPU_ZERO(&s);
    if (::sched_getaffinity(0, sizeof s, &s) != 0) CPU_SET(0, &s);
    return s;
  }();
  return set;
}
inline const bool process_cpus_captured = (process_cpus(), true);  // at static initialisation

// Number of CPUs this process may run on (1 under `taskset -c 0`).
inline int allowed_cpus() noexcept { return CPU_COUNT(&process_cpus()); }

// Pins the calling thread to one CPU (cpu >= 0) or to every CPU the process may use (cpu < 0).
inline bool pin_this_thread(int cpu) noexcept {
  cpu_set_t set = process_cpus();
  if (cpu >= 0) {
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
  }
  return ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) == 0;
}

// Integer from the environment, else `fallback` (sizes the smoke run shrinks).
inline long env_long(const char* name, long fallback) noexcept {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtol(v, nullptr, 10);
}

// The trivial body every round trip runs: returns an int the caller consumes.
inline int trivial_body() noexcept {
  static std::atomic<int> n{0};
  return n.fetch_add(1, std::memory_order_relaxed);
}

// For benchmarks that need two CPUs (spinning, split placement): on one CPU (the pinned run) the
// benchmark is reported as skipped with `why` and the caller returns at once.
inline bool skip_unless_two_cpus(benchmark::State& state, const char* why) {
  if (allowed_cpus() >= 2) return false;
  state.SkipWithError(why);
  for (auto _ : state) {
  }
  return true;
}

}  // namespace fbbench
