// task_stop.cpp — a task's stop state: a sticky bit, and a std::stop_source made on demand, and
// the wake-ups of the task's own fiber that need no stop source (a join's, a sync_to_async
// call's, a use_fiber operation's).
//
// Why lazy: most tasks never ask for a std::stop_token and are never stopped; the stop source's
// shared state was one heap allocation per spawn. The bit answers stop_requested(); the source
// exists once somebody needs a real token (this_task::stop_token(), a stop_callback in a bridge
// or a use_fiber operation).
//
// Invariants (stop_bits_):
//  * kStopRequested is set once and never cleared; only its first setter goes on.
//  * kSourceCreating is held by exactly one creator while it builds `stop_`; kSourceReady is
//    published (release) after `stop_` is built and never cleared: whoever sees it may use
//    `stop_`. The creator reads kStopRequested in the same atomic step that publishes
//    kSourceReady, so a stop requested before or during the creation is applied by the
//    creator, one requested after by the requester: never lost, and a second request_stop on
//    the source is harmless.
#include <mutex>
#include <thread>

#include "fiberbridge/detail/task_state.hpp"

namespace fiberbridge::detail {

void TaskStateBase::request_stop() noexcept {
  const std::uint8_t before = stop_bits_.fetch_or(kStopRequested, std::memory_order_acq_rel);
  if ((before & kStopRequested) != 0) return;
  if ((before & kSourceReady) != 0) stop_.request_stop();
  wake_stop_waiter();
  wake_stop_hook();
}

void TaskStateBase::set_stop_hook(StopHook* hook) noexcept {
  boost::fibers::detail::spinlock_lock lk(lock_);
  stop_hook_ = hook;
}

// Under the lock the hook is installed and removed under: its owner waits for us to finish
// before it goes. The fiber reads the stop bit after installing the hook: either it sees the
// bit or we see the hook.
void TaskStateBase::wake_stop_hook() noexcept {
  boost::fibers::detail::spinlock_lock lk(lock_);
  if (stop_hook_ != nullptr) stop_hook_->wake(stop_hook_);
}

// The task's own fiber, if it waits in a join (task.cpp), re-checks its stop when woken. It is
// woken only while linked in the awaited task (suspended); otherwise it reads the bit under the
// awaited task's lock before it suspends: either it sees the bit or we see it linked.
void TaskStateBase::wake_stop_waiter() noexcept {
  for (unsigned spins = 0;; ++spins) {
    boost::fibers::detail::spinlock_lock lk(lock_);  // keeps the record (and its target) alive
    JoinWaiter* w = stop_waiter_;
    if (w == nullptr) return;
    if (w->target == this) {  // a fiber joining its own task: this lock is the one
      if (w->linked) w->waker.wake();
      return;
    }
    // Tried, not waited for: with two tasks joining each other, two stops requested at once
    // would otherwise each hold one lock and wait for the other.
    std::unique_lock<boost::fibers::detail::spinlock> target(w->target->lock_, std::try_to_lock);
    if (target.owns_lock()) {
      if (w->linked) w->waker.wake();
      return;
    }
    lk.unlock();
    if (spins > 16) std::this_thread::yield();
  }
}

std::stop_token TaskStateBase::stop_token() {
  std::uint8_t bits = stop_bits_.load(std::memory_order_acquire);
  for (;;) {
    if ((bits & kSourceReady) != 0) return stop_.get_token();
    if ((bits & kSourceCreating) != 0) {  // another thread builds it: a few instructions
      std::this_thread::yield();
      bits = stop_bits_.load(std::memory_order_acquire);
      continue;
    }
    if (stop_bits_.compare_exchange_weak(bits, bits | kSourceCreating, std::memory_order_acq_rel,
                                         std::memory_order_acquire))
      break;
  }
  try {
    stop_ = std::stop_source();
  } catch (...) {
    stop_bits_.fetch_and(static_cast<std::uint8_t>(~kSourceCreating), std::memory_order_acq_rel);
    throw;
  }
  const std::uint8_t seen = stop_bits_.fetch_or(kSourceReady, std::memory_order_acq_rel);
  if ((seen & kStopRequested) != 0) stop_.request_stop();
  return stop_.get_token();
}

}  // namespace fiberbridge::detail
