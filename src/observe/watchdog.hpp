// observe/watchdog.hpp — the blocking-call detector: one process-wide thread that notices a
// scheduler thread still running the same fiber after a runtime's slow_fiber_threshold.
//
// How (Go's sysmon, asyncio's slow_callback_duration): the switch path only bumps a per-thread
// switch counter and stores the running fiber's id (ThreadCounters). The watchdog samples the
// counters of every watched runtime every threshold/5 (2-100 ms); a thread whose counter has
// not moved while it runs one of the runtime's fibers is stalled since the first sample that
// saw the value. Past the threshold it is reported once, with the blocked thread's stack
// (observe/stack_capture), and not again until that thread switches. A stalled thread's queued
// fibers, and its claim on the reactor, are offered to an idle peer at every sample (Go's sysmon
// retakes a P the same way).
// Threading: watch/unwatch from any thread; unwatch returns once the watchdog no longer
// touches the source (reports are made with the watchdog's lock held, so a report callback
// must not destroy its own runtime).
#pragma once

#include <pthread.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fiberbridge/runtime.hpp"

namespace fiberbridge::detail {

struct ThreadCounters;

// What the watchdog needs from a runtime (implemented by Runtime::Impl).
class WatchedRuntime {
 public:
  virtual ~WatchedRuntime() = default;
  virtual std::chrono::milliseconds slow_threshold() const noexcept = 0;
  virtual std::size_t watched_threads() const noexcept = 0;
  virtual ThreadCounters& watched_counters(std::size_t i) noexcept = 0;
  virtual pthread_t watched_handle(std::size_t i) const noexcept = 0;
  virtual std::string watched_thread_name(std::size_t i) const = 0;
  // What identifies fiber `id` in the code (its spawn name and site, else its callable's type).
  virtual std::string describe_fiber(std::uint64_t id) const = 0;
  // Delivers a report (the user's callback, else stderr) and counts it.
  virtual void deliver(const SlowFiberReport& report) = 0;
  // Thread `i` has run one fiber since the last sample: fibers queued behind it, and the reactor
  // if it kept it (scheduler/drive_token.hpp), go to an idle peer (scheduler/spread_policy.hpp
  // checks for lasting surplus only at a switch).
  virtual void stalled(std::size_t i) noexcept = 0;
};

void watch(WatchedRuntime& rt);
void unwatch(WatchedRuntime& rt) noexcept;

}  // namespace fiberbridge::detail
