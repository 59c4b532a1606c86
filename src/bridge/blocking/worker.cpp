// bridge/blocking/worker.cpp — one blocking-pool worker: its loop, how it is handed a job, and
// when it retires.
#include "bridge/blocking/pool_state.hpp"

#include "context/exec_state.hpp"
#include "detail/batch_scheduling.hpp"

namespace fiberbridge::detail {

void BlockingPool::Shared::spawn_worker() {
  auto w = std::make_shared<Worker>();
  std::thread([s = shared_from_this(), w] { s->serve(w); }).detach();
}

void BlockingPool::Shared::serve(const std::shared_ptr<Worker>& self) {
  ::pthread_setname_np(::pthread_self(), "fb-pool");
  prefer_batch_scheduling();  // detail/batch_scheduling.hpp
  // Set up the per-thread state every body swaps its scope into (Boost.Fiber's thread context
  // among it: 50-300 µs on a fresh thread) while still counted as starting, so the warm-up
  // is not taken for a stall.
  (void)current_state();
  std::unique_lock lk(m);
  --starting;
  for (;;) {
    unique_function job;
    if (!queue.empty()) {  // finished or just started: take the next job without parking
      job = pop_queued();
      last_start = Clock::now();
      lk.unlock();
    } else {
      self->idle = true;
      idle.push_back(self);
      lk.unlock();
      job = wait_for_handover(*self);
      if (!job) return;  // retired
      Handover next = on_woken();
      if (next.to) hand_over(next);
    }
    job();
    job = {};
    lk.lock();
  }
}

auto BlockingPool::Shared::on_woken() -> BlockingPool::Shared::Handover {
  std::lock_guard g(m);
  --waking;
  last_start = Clock::now();
  if (queue.empty() || !may_claim()) return {};
  return {claim_idle(), pop_queued()};
}

unique_function BlockingPool::Shared::wait_for_handover(Worker& self) {
  Clock::time_point deadline = Clock::now() + idle_timeout;
  for (;;) {
    (void)self.parker.park_until(deadline);
    if (self.handed.load(std::memory_order_acquire)) {
      self.handed.store(false, std::memory_order_relaxed);
      return std::move(self.job);
    }
    // A notification left over from a hand-over already taken after a timeout: park again.
    if (Clock::now() < deadline) continue;
    std::lock_guard g(m);
    if (!self.idle) {
      deadline = Clock::time_point::max();  // claimed just now: the job is on its way
    } else if (may_retire()) {
      retire(self);
      return {};
    } else {
      deadline = Clock::now() + idle_timeout;
    }
  }
}

bool BlockingPool::Shared::may_retire() const { return starting == 0 || threads - starting > 1; }

void BlockingPool::Shared::retire(Worker& self) {
  idle.erase(std::find_if(idle.begin(), idle.end(), [&](const auto& w) { return w.get() == &self; }));
  self.idle = false;
  --threads;
}

}  // namespace fiberbridge::detail
