// observe/runtime_observer.hpp — one runtime as the observability side sees it: the slow-fiber
// watchdog's source, Runtime::metrics' scheduler part, Runtime::dump's fiber list, fiber ids.
//
// Owns: the report counter and the count of spawns from outside; reads (never writes) the
// runtime's scheduler counters, live registry, thread names and handles, which the runtime
// owns and keeps alive longer than this object (it is a member of Runtime::Impl, declared
// after them). Registered with the watchdog from `start()` until `stop()` (before the runtime
// joins its threads).
#pragma once

#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <thread>
#include <vector>

#include "detail/live_registry.hpp"
#include "fiberbridge/runtime.hpp"
#include "observe/watchdog.hpp"
#include "scheduler/work_stealing.hpp"

namespace fiberbridge::detail {

class RuntimeObserver final : public WatchedRuntime {
 public:
  RuntimeObserver(const RuntimeOptions& options, SchedulerGroup& group, const LiveRegistry& live,
                  const std::vector<std::string>& thread_names, std::vector<std::thread>& threads) noexcept
      : options_(options), group_(group), live_(live), names_(thread_names), threads_(threads) {}
  ~RuntimeObserver() override { stop(); }

  void start();           // watches the runtime if its slow_fiber_threshold is not 0
  void stop() noexcept;   // idempotent; before any thread is joined or detached

  // A runtime-unique fiber id: a per-thread sequence interleaved by thread (no shared counter).
  // `thread` is the calling scheduler thread's index, or -1 off the runtime's threads.
  std::uint64_t next_fiber_id(long thread) noexcept;

  void scheduler_metrics(RuntimeMetrics& m) const;
  void dump_fibers(std::ostream& out) const;

  // WatchedRuntime
  std::chrono::milliseconds slow_threshold() const noexcept override { return options_.slow_fiber_threshold; }
  std::size_t watched_threads() const noexcept override { return names_.size(); }
  ThreadCounters& watched_counters(std::size_t i) noexcept override { return group_.counters(i); }
  pthread_t watched_handle(std::size_t i) const noexcept override { return threads_[i].native_handle(); }
  std::string watched_thread_name(std::size_t i) const override { return names_[i]; }
  std::string describe_fiber(std::uint64_t id) const override;
  void deliver(const SlowFiberReport& report) override;
  void stalled(std::size_t i) noexcept override {
    // Its claim on the reactor goes too (scheduler/drive_token.hpp): an idle peer serves I/O.
    group_.drive().drop_claim(i);
    if ((group_.queue(i).has_stealable() || group_.has_reactor()) && group_.idle.load(std::memory_order_seq_cst) != 0)
      group_.wake_idle_peer(i);
  }

 private:
  const RuntimeOptions& options_;
  SchedulerGroup& group_;
  const LiveRegistry& live_;
  const std::vector<std::string>& names_;
  std::vector<std::thread>& threads_;
  bool watched_ = false;
  std::atomic<std::uint64_t> outside_spawns_{0};
  std::atomic<std::uint64_t> slow_reports_{0};
};

}  // namespace fiberbridge::detail
