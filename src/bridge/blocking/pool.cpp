// bridge/blocking/pool.cpp — the blocking pool's face: submit (hand a job to the most recently
// idle worker, else queue it), stats, the process-wide instance.
#include "bridge/blocking/pool_state.hpp"

#include <system_error>

#include "bridge/bridge_metrics.hpp"
#include "observe/metrics_sources.hpp"

namespace fiberbridge::detail {

void BlockingPool::Shared::start_first_worker() {
  reserve(1);
  try {
    spawn_worker();
  } catch (...) {
    unreserve(1);
    throw;
  }
}

void BlockingPool::Shared::apply(MonitorAction action) {
  if (action == MonitorAction::wake) monitor_parker.unpark();
  if (action != MonitorAction::start) return;
  try {
    std::thread([s = shared_from_this()] { s->watch(); }).detach();
  } catch (...) {  // submits still check for stalls; the next queued job retries
    std::lock_guard g(m);
    monitor = Monitor::absent;
  }
}

BlockingPool::BlockingPool(unsigned max_threads, std::chrono::milliseconds idle_timeout,
                           std::chrono::microseconds stall_time)
    : s_(std::make_shared<Shared>(max_threads, idle_timeout, stall_time)) {}

BlockingPool::~BlockingPool() {
  bool wake = false;
  {
    std::lock_guard g(s_->m);
    s_->closed = true;
    wake = s_->monitor == Shared::Monitor::parked;
  }
  if (wake) s_->monitor_parker.unpark();
}

bool BlockingPool::submit(unique_function& work) {
  Shared& s = *s_;
  std::unique_lock lk(s.m);
  if (s.may_claim() && s.queue.empty()) {  // jobs that wait keep their turn (plan_growth)
    Shared::Handover h{s.claim_idle(), std::move(work)};
    lk.unlock();
    Shared::hand_over(h);
    return true;
  }
  const bool had_threads = s.threads > 0;
  if (!had_threads) s.start_first_worker();  // throws std::system_error, leaving `work` untouched
  const Shared::Clock::time_point now = Shared::Clock::now();
  s.queue.emplace_back(std::move(work), now);  // allocates before moving `work`
  Shared::Growth growth;
  if (had_threads) s.plan_growth(now, growth);
  const Shared::MonitorAction monitor = s.monitor_action();
  lk.unlock();
  s.carry_out(growth);
  s.apply(monitor);
  return true;
}

BlockingPool::Stats BlockingPool::stats() const {
  std::lock_guard g(s_->m);
  Stats st;
  st.threads = s_->threads;
  st.idle = s_->idle.size();
  st.busy = st.threads > st.idle ? st.threads - st.idle : 0;
  st.queued = s_->queue.size();
  return st;
}

BlockingPool& BlockingPool::instance() {
  static auto* pool = [] {
    add_metrics_source(&bridge_metrics);
    return new BlockingPool(256, std::chrono::seconds(10));
  }();
  return *pool;
}

}  // namespace fiberbridge::detail
