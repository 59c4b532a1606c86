// scheduler/fiber_props.hpp — what the scheduling algorithm keeps per Boost.Fiber context.
//
// Owns: the per-fiber record of the work-stealing algorithm, held by Boost as the context's
// `fiber_properties` (one pointer away from the context: no map lookup, unlike fiber-specific
// storage):
//  * `eh`: the fiber's C++ exception-handling state while it is switched out (see EhState);
//  * `queued_at`: when an unstarted fiber was queued (the ready queue's age rule);
//  * `exec_state`: the fiber's context variables, routing state and stop token (ExecState);
//  * what Runtime::dump and the slow-fiber watchdog read (src/observe/): the fiber's id, whether
//    it was last queued or picked, and what it waits for (set by the bridges, `WaitMark`).
// Where it lives: a fiber spawned by a Runtime carries it at the top of its own stack
// (`FrameProps`, placed by the spawner, no allocation; Boost's `delete` of it only runs the
// destructor). Contexts that Boost creates itself (each thread's main and dispatcher contexts,
// fibers a user creates with boost::fibers::fiber) get a `HeapProps` the first time the
// algorithm switches to or from them; Boost deletes it with the context.
// Fibers running on a Runtime must therefore not carry fiber_properties of their own.
#pragma once

#include <boost/fiber/context.hpp>
#include <boost/fiber/properties.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>

#include "fiberbridge/detail/wait_mark.hpp"
#include "scheduler/eh_state.hpp"

namespace fiberbridge::detail {

class SchedulerGroup;
class StackHome;

class FiberProps : public boost::fibers::fiber_properties {
 public:
  FiberProps() noexcept : fiber_properties(nullptr) {}
  explicit FiberProps(boost::fibers::context* ctx) noexcept : fiber_properties(ctx) {}

  EhState eh;                   // valid while the context is switched out
  std::uint64_t queued_at = 0;  // ReadyQueue pick count when queued unstarted
  // The fiber's ExecState (src/context/), while its runtime has one installed: one pointer away
  // from the context, where fiber-specific storage would cost a map node per fiber and a lookup.
  void* exec_state = nullptr;
  // The StackHome at the top of the fiber's stack (runtime fibers only): its call slot.
  StackHome* stack_home = nullptr;

  // Diagnostics. Written relaxed by the scheduler and the fiber itself, read by any thread
  // while the fiber's task is in its runtime's live registry (the record lives until then).
  enum class Sched : std::uint8_t { kNew, kReady, kPicked };  // kPicked: running, or suspended since
  std::uint64_t fiber_id = 0;  // runtime fibers only; 0 for Boost's own contexts and raw fibers
  std::atomic<Sched> sched{Sched::kNew};
  std::atomic<WaitKind> wait{WaitKind::kNone};
  std::atomic<const char*> wait_target{nullptr};  // a static or long-lived string
  std::atomic<std::int64_t> wait_since_ns{0};      // steady_clock, when `wait` was set

  // Parked detached (see scheduler/fiber_wake.hpp). `park_detached`
  // is set by the fiber and read by its own thread's pick_next; the rest is written by that
  // pick_next before the fiber is switched out and read by the waker after it took the wait's
  // lock (which the switch releases), or by the home thread after the hand-over.
  bool park_detached = false;
  SchedulerGroup* parked_group = nullptr;  // the group it was detached from, while parked
  std::size_t parked_home = 0;   // the index of the thread it was detached from
  boost::fibers::context* handed_ctx = nullptr;  // in a hand-over list: the context
  FiberProps* handed_next = nullptr;              // in a hand-over list: the next entry

  // The record of `ctx`, or nullptr if it has none yet.
  static FiberProps* of(boost::fibers::context* ctx) noexcept {
    return static_cast<FiberProps*>(ctx->get_properties());
  }
  // The record of `ctx`, created on the heap if it has none (nullptr only when out of memory).
  static FiberProps* ensure(boost::fibers::context* ctx) noexcept;
};

// A record that lives in memory its owner manages (the top of a fiber's stack).
class FrameProps final : public FiberProps {
 public:
  using FiberProps::FiberProps;
  // Boost deletes a context's properties: for this one that only ends its lifetime.
  static void operator delete(void*) noexcept {}
};

class HeapProps final : public FiberProps {
 public:
  using FiberProps::FiberProps;
};

inline FiberProps* FiberProps::ensure(boost::fibers::context* ctx) noexcept {
  if (FiberProps* p = of(ctx)) return p;
  auto* p = new (std::nothrow) HeapProps(ctx);
  if (p != nullptr) ctx->set_properties(p);
  return p;
}

}  // namespace fiberbridge::detail
