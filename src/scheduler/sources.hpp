// scheduler/sources.hpp — what a scheduler thread serves besides its ready queue, as seen by the
// scheduling algorithm (the layers above implement these; the scheduler includes none of them).
//
//  * OutsideWork: work handed in from threads that are not scheduler threads (the runtime's inbox
//    of spawns). The algorithm turns it into fibers itself, from the dispatcher context, when the
//    dispatcher runs (at least every ReadyQueue::kDispatchEvery picks, and before a thread idles):
//    no condition variable, no hop through the thread's main fiber.
//  * Reactor: the runtime's I/O event loop (src/asio/), driven tokio-style by the scheduler
//    threads themselves: one idle thread at a time waits in it instead of on its futex, and busy
//    threads poll it (bounded) from the dispatcher so I/O and timers never starve behind fibers.
//    Handlers therefore run on scheduler threads, in the dispatcher context (never on a fiber,
//    never while a fiber holds a Boost.Fiber lock), one thread at a time.
#pragma once

#include <chrono>
#include <cstddef>

namespace fiberbridge::detail {

class OutsideWork {
 public:
  // Whether work is waiting (seq_cst: one side of the idle handshake, see work_stealing.hpp).
  virtual bool pending() const noexcept = 0;
  // On a scheduler thread, in its dispatcher context: creates fibers for the waiting work; they
  // are queued on this thread (peers steal the surplus).
  virtual void run_here() noexcept = 0;

 protected:
  ~OutsideWork() = default;
};

class Reactor {
 public:
  // Runs up to `limit` ready handlers without waiting; returns how many ran.
  virtual std::size_t poll(std::size_t limit) noexcept = 0;
  // Called before the thread announces it waits in the reactor: an interrupt() from now on
  // ends the coming wait_until (interrupts before it may be forgotten; the scheduler keeps
  // its own record of those).
  virtual void prepare_wait() noexcept = 0;
  // Waits until an event, an interrupt() or `deadline`, then runs the ready handlers (bounded).
  virtual void wait_until(std::chrono::steady_clock::time_point deadline) noexcept = 0;
  // Any thread: ends the current (or next, after prepare_wait) wait_until early.
  virtual void interrupt() noexcept = 0;

 protected:
  ~Reactor() = default;
};

}  // namespace fiberbridge::detail
