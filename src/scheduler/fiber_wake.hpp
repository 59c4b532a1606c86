// scheduler/fiber_wake.hpp — waits whose waker adopts the fiber: I/O completions run the fiber
// on the thread that ran the handler, tokio-style, instead of waking the thread it last ran on.
//
// Why: Boost.Fiber binds a suspended fiber to its thread's scheduler; only a *ready* detached
// fiber can move (that is how stealing works). An I/O handler runs on whichever scheduler thread
// drives the reactor, so every completion for a fiber of another thread was a cross-thread wake
// (a futex or reactor interrupt there, ~5-45 us on this VM class) while the driving thread had
// nothing to do. A fiber that suspends in such a wait is therefore *parked detached*:
//  * the fiber calls `park_detached_on_next_suspend()` right before `context::suspend(lk)`;
//    its own thread's pick_next detaches it from the scheduler (`park_detached_if_asked`), still
//    before the switch, so that by the time the wait's lock is released (by Boost, after the
//    switch) the fiber belongs to no thread;
//  * the waker, holding that lock, calls `wake_fiber` (and keeps holding it until the call
//    returns: the fiber takes the lock again when it resumes, so it cannot finish, and its
//    runtime cannot be destroyed, while a hand-over still touches the runtime's thread slot):
//    on a scheduler thread of the same runtime it attaches the fiber to its own scheduler and
//    makes it ready locally (no cross-thread hop; a busy thread's peers still steal it);
//    anywhere else (a plain thread, another runtime) it hands it to the thread it was detached
//    from, which adopts it from its dispatcher.
// Only untimed waits park detached: a fiber in Boost's sleep queue is tied to that queue.
#pragma once

#include <boost/fiber/context.hpp>
#include <boost/fiber/detail/spinlock.hpp>

#include <cstddef>
#include <utility>

namespace fiberbridge::detail {

class FiberProps;
class SchedulerGroup;
class WorkStealing;

// On a fiber of a runtime, right before an untimed `context::suspend(lk)` whose waker calls
// wake_fiber: park detached. Elsewhere (no FiberProps record, not a runtime thread) a no-op,
// and the fiber is woken the ordinary way.
void park_detached_on_next_suspend() noexcept;
// Makes `ctx` ready: adopted by the calling thread or handed to its home thread if it parked
// detached, else Boost's schedule (local, or remote to its thread). Any thread.
void wake_fiber(boost::fibers::context* ctx) noexcept;

// The two sides of one such wait, over a `waiter` slot guarded by the wait's spinlock `lk`:
// the fiber records itself, suspends parked detached and holds `lk` again once resumed (check
// the wait's condition, then call again if it does not hold yet); a waker, holding the same
// lock, wakes the recorded fiber, if any, once. The waker keeps the lock until wake_waiter
// returns (see the rule above).
void wait_parked(boost::fibers::context*& waiter, boost::fibers::detail::spinlock_lock& lk) noexcept;
inline void wake_waiter(boost::fibers::context*& waiter) noexcept {
  if (boost::fibers::context* w = std::exchange(waiter, nullptr)) wake_fiber(w);
}

// The scheduler's side (work_stealing.cpp). In pick_next, on the suspending fiber's thread.
void park_detached_if_asked(boost::fibers::context* self, SchedulerGroup& group, std::size_t index) noexcept;
// In the dispatcher of `here`: adopts the fibers handed over to its thread.
void adopt_handed(WorkStealing& here) noexcept;

}  // namespace fiberbridge::detail
