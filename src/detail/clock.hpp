// detail/clock.hpp — the monotonic clock as plain nanoseconds, for timestamps kept in atomics
// and fields where 0 means "unset" (a time_point cannot be stored in a std::atomic<int64_t>).
//
// Both functions read the same scale: steady_clock's epoch, which is CLOCK_MONOTONIC on Linux
// (libstdc++ reads it through the vDSO, no syscall). So a value from one may be subtracted from
// a value of the other, or from a steady_clock::time_point's time_since_epoch (the watchdog's
// stall marks): Runtime::dump does both.
//  * steady_ns: precise. For short intervals (a spin budget, a 50 µs backlog age).
//  * coarse_steady_ns: CLOCK_MONOTONIC_COARSE, one tick (a few ms) of resolution, but it skips
//    the clock source read. For marks taken on hot paths that only feed human-scale reports
//    (every bridge and use_fiber wait takes one; a precise read was about 5 % of a use_fiber
//    completion in perf). It may lag steady_ns by up to a tick: never time short intervals with it.
#pragma once

#include <time.h>

#include <chrono>
#include <cstdint>

namespace fiberbridge::detail {

inline std::int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline std::int64_t coarse_steady_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace fiberbridge::detail
