// observe/runtime_observer.cpp — see runtime_observer.hpp.
#include "observe/runtime_observer.hpp"

#include <cstdio>
#include <ostream>
#include <utility>

#include "detail/clock.hpp"
#include "observe/describe.hpp"
#include "scheduler/fiber_props.hpp"

namespace fiberbridge::detail {

void RuntimeObserver::start() {
  if (options_.slow_fiber_threshold.count() <= 0) return;
  watch(*this);
  watched_ = true;
}

void RuntimeObserver::stop() noexcept {
  if (std::exchange(watched_, false)) unwatch(*this);
}

std::uint64_t RuntimeObserver::next_fiber_id(long thread) noexcept {
  const std::uint64_t stride = names_.size() + 1;
  if (thread >= 0) {
    ThreadCounters& c = group_.counters(static_cast<std::size_t>(thread));
    ThreadCounters::bump(c.launched);
    return c.launched.load(std::memory_order_relaxed) * stride + static_cast<std::uint64_t>(thread) + 1;
  }
  return (outside_spawns_.fetch_add(1, std::memory_order_relaxed) + 1) * stride + names_.size() + 1;
}

std::string RuntimeObserver::describe_fiber(std::uint64_t id) const {
  std::string found = "(a fiber that has finished meanwhile)";
  live_.for_each([&](const TaskStateBase& t) {
    if (t.fiber_id == id) found = describe_task(t);
  });
  return found;
}

void RuntimeObserver::deliver(const SlowFiberReport& report) {
  slow_reports_.fetch_add(1, std::memory_order_relaxed);
  if (options_.on_slow_fiber) {
    try {
      options_.on_slow_fiber(report);
    } catch (...) {  // the watchdog serves every runtime: a throwing callback loses its report only
    }
    return;
  }
  const std::string text = report.to_string();
  std::fwrite(text.data(), 1, text.size(), stderr);
}

void RuntimeObserver::scheduler_metrics(RuntimeMetrics& m) const {
  const std::size_t n = names_.size();
  m.threads = static_cast<unsigned>(n);
  m.live_fibers = live_.size();
  m.spawned = outside_spawns_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < n; ++i) {
    const ThreadCounters& c = group_.counters(i);
    m.spawned += c.launched.load(std::memory_order_relaxed);
    m.steals += c.steals.load(std::memory_order_relaxed);
    m.parks += c.parks.load(std::memory_order_relaxed);
    m.unparks += c.unparks.load(std::memory_order_relaxed);
    m.switches += c.switches.load(std::memory_order_relaxed);
    m.ready_per_thread.push_back(group_.queue(i).fibers());
  }
  m.slow_fiber_reports = slow_reports_.load(std::memory_order_relaxed);
}

void RuntimeObserver::dump_fibers(std::ostream& out) const {
  const std::int64_t now = steady_ns();
  const std::size_t n = names_.size();
  out << "runtime \"" << options_.name << "\": " << n << " scheduler thread(s), " << live_.size() << " live fiber(s)\n";
  std::vector<std::uint64_t> running(n);
  std::vector<std::int64_t> stalled(n);
  for (std::size_t i = 0; i < n; ++i) {
    const ThreadCounters& c = group_.counters(i);
    running[i] = c.running_id.load(std::memory_order_relaxed);
    stalled[i] = c.stalled_since_ns.load(std::memory_order_relaxed);
    out << "  thread " << names_[i] << ": "
        << (running[i] != 0 ? "running fiber " + std::to_string(running[i]) : std::string("idle or switching")) << ", "
        << group_.queue(i).fibers() << " ready\n";
  }
  live_.for_each([&](const TaskStateBase& t) {
    const char* on = nullptr;
    std::int64_t since = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (running[i] == t.fiber_id) {
        on = names_[i].c_str();
        since = stalled[i];
      }
    }
    const auto* record = static_cast<const FiberProps*>(t.sched_record.load(std::memory_order_acquire));
    out << "  ";
    write_fiber_line(out, t, record, on, since, now);
  });
}

}  // namespace fiberbridge::detail
