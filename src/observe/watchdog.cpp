// observe/watchdog.cpp — see watchdog.hpp.
#include "observe/watchdog.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "observe/stack_capture.hpp"
#include "scheduler/work_stealing.hpp"

namespace fiberbridge::detail {

namespace {

using Clock = std::chrono::steady_clock;

struct ThreadWatch {
  std::uint64_t switches = ~std::uint64_t{0};  // the value seen since `since`
  std::uint64_t fiber = 0;
  Clock::time_point since{};
  bool reported = false;
};

class Watchdog {
 public:
  static Watchdog& get() {
    static Watchdog* w = new Watchdog;  // never destroyed: runtimes may outlive static destruction
    return *w;
  }

  void add(WatchedRuntime& rt) {
    std::lock_guard g(m_);
    watched_[&rt].assign(rt.watched_threads(), ThreadWatch{});
    if (!started_) {
      started_ = true;
      std::thread([this] { loop(); }).detach();
    }
    cv_.notify_all();
  }

  void remove(WatchedRuntime& rt) noexcept {
    std::lock_guard g(m_);  // never while a sample or a report runs
    watched_.erase(&rt);
  }

 private:
  void loop() {
    ::pthread_setname_np(::pthread_self(), "fb-watchdog");
    std::unique_lock lk(m_);
    for (;;) {
      if (watched_.empty()) {
        cv_.wait(lk);
        continue;
      }
      auto period = std::chrono::milliseconds(100);
      for (auto& [rt, threads] : watched_)
        period = std::min(period, std::max(std::chrono::milliseconds(2), rt->slow_threshold() / 5));
      cv_.wait_for(lk, period);
      const auto now = Clock::now();
      for (auto& [rt, threads] : watched_) sample(*rt, threads, now);
    }
  }

  static void sample(WatchedRuntime& rt, std::vector<ThreadWatch>& threads, Clock::time_point now) {
    for (std::size_t i = 0; i < threads.size(); ++i) {
      ThreadCounters& c = rt.watched_counters(i);
      const std::uint64_t switches = c.switches.load(std::memory_order_relaxed);
      const std::uint64_t fiber = c.running_id.load(std::memory_order_relaxed);
      ThreadWatch& w = threads[i];
      if (switches != w.switches || fiber != w.fiber) {
        w = ThreadWatch{switches, fiber, now, false};
        c.stalled_since_ns.store(0, std::memory_order_relaxed);
        continue;
      }
      if (fiber == 0) continue;  // idle, or Boost's own context
      c.stalled_since_ns.store(std::chrono::duration_cast<std::chrono::nanoseconds>(w.since.time_since_epoch()).count(),
                               std::memory_order_relaxed);
      rt.stalled(i);
      if (w.reported || now - w.since < rt.slow_threshold()) continue;
      w.reported = true;
      SlowFiberReport r;
      r.fiber_id = fiber;
      r.thread_name = rt.watched_thread_name(i);
      r.where = rt.describe_fiber(fiber);
      r.stacktrace = capture_stack(rt.watched_handle(i), std::chrono::milliseconds(100));
      // The stack may show that the thread moved on meanwhile; the report stands for the stall seen.
      r.running_for = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - w.since);
      rt.deliver(r);
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  bool started_ = false;
  std::unordered_map<WatchedRuntime*, std::vector<ThreadWatch>> watched_;
};

}  // namespace

void watch(WatchedRuntime& rt) { Watchdog::get().add(rt); }
void unwatch(WatchedRuntime& rt) noexcept { Watchdog::get().remove(rt); }

}  // namespace fiberbridge::detail
