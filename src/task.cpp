// task.cpp — a TaskState's completion, a fiber waiting for it, and this_task.
//
// The join is an atomic `ready_` flag plus waiter records, no mutex and no condition variable:
// a fiber waiting for a task links a JoinWaiter (on its own stack) into the task under the
// task's spinlock and suspends; `finish` sets `ready_` and wakes the linked fibers under the
// same lock. A waiter is woken by completion, by its deadline (Boost's sleep queue, through the
// same epoch-checked waker, so only the first of them counts), or by a stop of its *own* task
// (then CancelledError): the own task's `request_stop` wakes its `stop_waiter_`, so waiting
// needs no std::stop_source. Every wake happens under the awaited task's lock while the record
// is linked, i.e. while the fiber is suspended: a wake never reaches a running fiber (it would
// be queued twice once the fiber next yields). A plain thread waits in the bridges' way (it serves
// routed work meanwhile): TaskStateBase::wait_until is in src/bridge/task_wait.cpp.
#include <boost/fiber/context.hpp>

#include <memory>
#include <optional>

#include "context/exec_state.hpp"
#include "fiberbridge/detail/wait_mark.hpp"
#include "fiberbridge/errors.hpp"
#include "fiberbridge/runtime.hpp"
#include "fiberbridge/task.hpp"
#include "scheduler/stack_pool.hpp"

namespace fiberbridge::detail {

void hold_stack(void* home) noexcept { static_cast<StackHome*>(home)->hold(); }
void drop_stack(void* home) noexcept { static_cast<StackHome*>(home)->drop(); }

namespace {

using Clock = std::chrono::steady_clock;
using boost::fibers::detail::spinlock_lock;

void unlink(JoinWaiter*& head, JoinWaiter& w) noexcept {
  for (JoinWaiter** p = &head; *p != nullptr; p = &(*p)->next) {
    if (*p == &w) {
      *p = w.next;
      break;
    }
  }
  w.next = nullptr;
  w.linked = false;
}

// A stop of a scope that is not a task's (a fiber whose scope carries a plain token): wakes the
// fibers joining `task` so that they re-check their stop.
struct WakeJoiners {
  TaskStateBase* task;
  void operator()() noexcept;
};

}  // namespace

// The waiting fiber's record in its own task (for a stop), for the duration of one wait.
class JoinRegistration {
 public:
  JoinRegistration(TaskStateBase* own, JoinWaiter& w) noexcept : own_(own), w_(w) {}
  // Installs this round's waker; under the own task's lock, which request_stop reads it under
  // (it wakes the record only while it is linked, see JoinWaiter).
  void arm(const boost::fibers::waker& waker, TaskStateBase& target) noexcept {
    if (own_ == nullptr) {
      w_.waker = waker;
      w_.target = &target;
      return;
    }
    spinlock_lock lk(own_->lock_);
    w_.waker = waker;
    w_.target = &target;
    own_->stop_waiter_ = &w_;
  }
  ~JoinRegistration() {
    if (own_ == nullptr) return;
    spinlock_lock lk(own_->lock_);
    if (own_->stop_waiter_ == &w_) own_->stop_waiter_ = nullptr;
  }
  static void wake_all(TaskStateBase& t) noexcept {
    spinlock_lock lk(t.lock_);
    for (JoinWaiter* w = t.waiters_; w != nullptr; w = w->next) w->waker.wake();
  }

 private:
  TaskStateBase* own_;
  JoinWaiter& w_;
};

void WakeJoiners::operator()() noexcept { JoinRegistration::wake_all(*task); }

bool fiber_wait_until(TaskStateBase& s, ExecState& waiter, Clock::time_point deadline) {
  const Scope& scope = waiter.scope;
  if (scope.stop_requested()) throw CancelledError();
  std::optional<std::stop_callback<WakeJoiners>> on_stop;
  if (scope.task == nullptr && scope.stop.stop_possible()) on_stop.emplace(scope.stop, WakeJoiners{&s});
  WaitMark mark(WaitKind::kTaskGet, nullptr);
  boost::fibers::context* const self = boost::fibers::context::active();
  JoinWaiter me;
  JoinRegistration reg(scope.task, me);
  for (;;) {
    // A fresh waker per round: the previous one was used up by whatever woke us.
    boost::fibers::waker waker = self->create_waker();
    reg.arm(waker, s);
    spinlock_lock lk(s.lock_);
    // Read under the awaited task's lock: a stop requested before this section is seen here,
    // one requested after finds this fiber linked and suspended (task_stop.cpp).
    if (scope.stop_requested()) {
      lk.unlock();
      throw CancelledError();
    }
    if (s.ready()) return true;
    // A deadline already passed still suspends (Boost wakes the fiber at its next dispatch): a
    // loop polling wait_for(0) lets the awaited fiber run, even on a one-thread runtime.
    me.next = s.waiters_;
    me.linked = true;
    s.waiters_ = &me;
    if (deadline == Clock::time_point::max()) {
      self->suspend(lk);  // releases the lock once this fiber is switched out
    } else {
      (void)self->wait_until(deadline, lk, std::move(waker));
    }
    lk.lock();
    if (me.linked) unlink(s.waiters_, me);  // not woken by finish(): a deadline or a stop
    const bool ready = s.ready();
    lk.unlock();
    if (scope.stop_requested()) throw CancelledError();  // a stop wins over a result (sticky)
    if (ready) return true;
    if (deadline != Clock::time_point::max() && Clock::now() >= deadline) return false;
  }
}

void TaskStateBase::finish(std::exception_ptr error) noexcept {
  error_ = std::move(error);
  unique_function first;
  std::vector<std::pair<std::uint64_t, unique_function>> waiters;
  bool fire = false;
  {
    spinlock_lock lk(lock_);
    fire = first_waiter_id_ != 0 || !thread_waiters_.empty();
    if (fire) firing_.store(true, std::memory_order_relaxed);  // published by the ready_ store
    ready_.store(true, std::memory_order_release);
    // Woken under the lock: a woken fiber takes it before it leaves, so its record and its
    // context outlive the wake.
    for (JoinWaiter* w = std::exchange(waiters_, nullptr); w != nullptr;) {
      JoinWaiter* next = std::exchange(w->next, nullptr);
      w->linked = false;
      w->waker.wake();
      w = next;
    }
    if (first_waiter_id_ != 0) {
      first = std::move(first_waiter_);
      first_waiter_id_ = 0;
    }
    if (!thread_waiters_.empty()) waiters.swap(thread_waiters_);
  }
  if (!fire) return;
  if (first) first();
  for (auto& w : waiters) w.second();
  first = {};
  waiters.clear();
  firing_.store(false, std::memory_order_release);
}

bool TaskStateBase::callbacks_done() const noexcept { return !firing_.load(std::memory_order_acquire); }

std::uint64_t TaskStateBase::on_ready(unique_function fn) {
  {
    spinlock_lock lk(lock_);
    if (!ready()) {
      const std::uint64_t id = next_id_++;
      if (first_waiter_id_ == 0) {
        first_waiter_id_ = id;
        first_waiter_ = std::move(fn);
      } else {
        thread_waiters_.emplace_back(id, std::move(fn));
      }
      return id;
    }
  }
  fn();
  return 0;
}

void TaskStateBase::remove_on_ready(std::uint64_t id) {
  unique_function dropped;  // destroyed outside the lock
  spinlock_lock lk(lock_);
  if (id != 0 && id == first_waiter_id_) {
    dropped = std::move(first_waiter_);
    first_waiter_id_ = 0;
    return;
  }
  for (auto it = thread_waiters_.begin(); it != thread_waiters_.end(); ++it) {
    if (it->first == id) {
      dropped = std::move(it->second);
      thread_waiters_.erase(it);
      return;
    }
  }
}

}  // namespace fiberbridge::detail

namespace fiberbridge::this_task {

bool stop_requested() noexcept { return detail::current_state().scope.stop_requested(); }
std::stop_token stop_token() noexcept {
  try {
    return detail::current_state().scope.stop_token();
  } catch (...) {  // no memory for the stop state: a token that is never stopped
    return {};
  }
}

}  // namespace fiberbridge::this_task
