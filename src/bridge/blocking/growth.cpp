// bridge/blocking/growth.cpp — when the blocking pool adds threads: the growth rule, checked on
// each submit and by the monitor thread while jobs wait (see bridge/blocking_pool.hpp).
#include "bridge/blocking/pool_state.hpp"

#include <pthread.h>

#include <new>

namespace fiberbridge::detail {

bool BlockingPool::Shared::stalled(Clock::time_point now) const {
  if (queue.empty() || starting > 0 || waking > 0) return false;
  const Clock::time_point since = queue.front().since;
  return now - std::max(since, last_start) > stall_time || now - since > kSlowQueueStalls * stall_time;
}

void BlockingPool::Shared::plan_growth(Clock::time_point now, Growth& g) {
  if (stalled(now)) {  // wake every idle worker the queue needs, then start threads for the rest
    hand_queued_to_idle(g, queue.size());
    g.spawn = reserve(static_cast<unsigned>(std::min<std::size_t>(queue.size(), max_threads - threads)));
    return;
  }
  hand_queued_to_idle(g, free_wake_slots());  // free wake-up slots go to the oldest jobs
  if (!queue.empty() && idle.empty() && threads < core_threads) g.spawn = reserve(1);  // the core starts eagerly
}

void BlockingPool::Shared::hand_queued_to_idle(Growth& g, std::size_t limit) {
  const std::size_t n = std::min({limit, queue.size(), idle.size()});
  if (n == 0) return;
  try {
    g.handovers.reserve(n);  // the only allocation; without memory the jobs stay queued for now
  } catch (const std::bad_alloc&) {
    return;
  }
  for (std::size_t i = 0; i < n; ++i) g.handovers.push_back({claim_idle(), pop_queued()});
}

void BlockingPool::Shared::carry_out(Growth& g) {
  for (Handover& h : g.handovers) hand_over(h);
  start_workers(g.spawn);
}

void BlockingPool::Shared::start_workers(unsigned n) {
  for (unsigned i = 0; i < n; ++i) {
    try {
      spawn_worker();
    } catch (...) {  // no thread or no memory now; a later stall check tries again
      std::lock_guard g(m);
      unreserve(n - i);
      return;
    }
  }
}

void BlockingPool::Shared::watch() {
  ::pthread_setname_np(::pthread_self(), "fb-pool-monitor");
  std::unique_lock lk(m);
  for (;;) {
    if (queue.empty()) {
      if (closed) {
        monitor = Monitor::absent;
        return;
      }
      monitor = Monitor::parked;  // the next queued job wakes us
      lk.unlock();
      monitor_parker.park();
      lk.lock();
      continue;
    }
    monitor = Monitor::awake;  // also after a stale wake-up that found jobs
    const Clock::time_point now = Clock::now();
    Growth growth;
    plan_growth(now, growth);
    const Clock::time_point next = next_check(now);
    lk.unlock();
    carry_out(growth);
    (void)monitor_parker.park_until(next);
    lk.lock();
  }
}

auto BlockingPool::Shared::next_check(Clock::time_point now) const -> Clock::time_point {
  if (queue.empty()) return now + stall_time;
  const Clock::time_point since = queue.front().since;
  const Clock::time_point due = std::min(std::max(since, last_start) + stall_time, since + kSlowQueueStalls * stall_time);
  return due > now ? due : now + stall_time;
}

}  // namespace fiberbridge::detail
