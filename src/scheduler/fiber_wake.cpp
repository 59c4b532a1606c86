// scheduler/fiber_wake.cpp — see fiber_wake.hpp.
#include "scheduler/fiber_wake.hpp"

#include <boost/fiber/scheduler.hpp>

#include <mutex>

#include "scheduler/fiber_props.hpp"
#include "scheduler/work_stealing.hpp"

namespace fiberbridge::detail {

using boost::fibers::context;

void park_detached_on_next_suspend() noexcept {
  if (WorkStealing::on_this_thread() == nullptr) return;
  if (FiberProps* p = FiberProps::ensure(context::active())) p->park_detached = true;
}

void wait_parked(context*& waiter, boost::fibers::detail::spinlock_lock& lk) noexcept {
  using boost::fibers::detail::spinlock_lock;
  context* self = context::active();
  waiter = self;
  park_detached_on_next_suspend();  // whoever takes `waiter` runs us next
  // Boost releases the lock *object* it is given after the switch, on this thread: the mutex
  // first, then the object's owns flag. A waker may take the mutex in between and another
  // thread adopt and resume us, so the object must not be one we touch after resuming (a late
  // `owns = false` would land on our relocked `lk`; TSan saw the race). Hence a thread_local
  // object that only this thread's switches use.
  thread_local spinlock_lock handoff;
  boost::fibers::detail::spinlock* m = lk.release();  // still locked, now owned by `handoff`
  handoff = spinlock_lock(*m, std::adopt_lock);
  self->suspend(handoff);  // releases the mutex once this fiber is switched out
  lk = spinlock_lock(*m);  // on whichever thread resumed us
}

void park_detached_if_asked(context* self, SchedulerGroup& group, std::size_t index) noexcept {
  FiberProps* p = FiberProps::of(self);
  if (p == nullptr || !p->park_detached) return;
  p->park_detached = false;
  p->parked_group = &group;
  p->parked_home = index;
  // Boost's context::detach asserts that the context is not the active one; the scheduler's
  // own call does not care (the switch that follows never reads the suspending context's
  // scheduler), and the fiber is out of every queue: it is suspending, untimed.
  self->get_scheduler()->detach_worker_context(self);
}

namespace {
// On a scheduler thread, in any context: `ctx` (detached, suspended) becomes ready here.
void adopt(context* ctx) noexcept {
  context* active = context::active();
  active->get_scheduler()->attach_worker_context(ctx);
  active->schedule(ctx);  // local now: the algorithm queues it (and detaches it while queued)
}
}  // namespace

void wake_fiber(context* ctx) noexcept {
  FiberProps* p = FiberProps::of(ctx);
  SchedulerGroup* group = p != nullptr ? p->parked_group : nullptr;
  if (group == nullptr) {
    context::active()->schedule(ctx);  // attached: local when it is ours, else remote
    return;
  }
  p->parked_group = nullptr;
  WorkStealing* here = WorkStealing::on_this_thread();
  if (here != nullptr && &here->group() == group) {
    adopt(ctx);
    return;
  }
  p->handed_ctx = ctx;
  group->hand_over(p->parked_home, p);
}

void SchedulerGroup::hand_over(std::size_t i, FiberProps* fiber) noexcept {
  std::atomic<FiberProps*>& head = slots_[i]->handed;
  FiberProps* top = head.load(std::memory_order_relaxed);
  do {
    fiber->handed_next = top;
  } while (!head.compare_exchange_weak(top, fiber, std::memory_order_seq_cst, std::memory_order_relaxed));
  unpark(i);  // its dispatcher adopts it (the permit survives a race with going to sleep)
}

void adopt_handed(WorkStealing& here) noexcept {
  for (FiberProps* p = here.group().take_handed(here.index()); p != nullptr;) {
    FiberProps* next = p->handed_next;
    context* ctx = p->handed_ctx;
    p->handed_next = nullptr;
    p->handed_ctx = nullptr;
    adopt(ctx);
    p = next;
  }
}

}  // namespace fiberbridge::detail
