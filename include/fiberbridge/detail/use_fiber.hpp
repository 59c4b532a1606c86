// detail/use_fiber.hpp — the non-template half of `use_fiber` (see fiberbridge/asio.hpp).
//
// Invariants:
//  * The state is shared (shared_ptr) by the waiting fiber, the completion handler and the
//    cancel request posted to the operation's executor; whoever runs last frees it.
//  * The waiting fiber is woken directly (no mutex, no condition variable): it records itself
//    in `waiter` and suspends under `m` (Boost.Fiber releases the spinlock only once the fiber
//    is switched out, detached from its thread: src/scheduler/fiber_wake.hpp);
//    `settle_fiber_op` marks the outcome and takes `waiter` under `m`, then makes it ready on
//    the calling scheduler thread (no cross-thread wake), or hands it back to its runtime.
//  * The cancellation signal is only touched on the operation's executor (Asio's rule:
//    cancellation_signal is not thread-safe), never from the thread that requested the stop.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/fiber/context.hpp>
#include <boost/fiber/detail/spinlock.hpp>
#include <boost/system/error_code.hpp>

#include <exception>
#include <memory>

#include "fiberbridge/detail/wait_mark.hpp"

namespace fiberbridge::detail {

struct FiberOpBase;
// Marks the operation done (the handler ran) or abandoned, and wakes the waiting fiber if it
// is suspended. Any thread; never blocks.
void settle_fiber_op(FiberOpBase& op, bool abandoned) noexcept;

struct FiberOpBase {
  boost::fibers::detail::spinlock m;        // guards the flags and `waiter`; held a few stores
  boost::fibers::context* waiter = nullptr;  // the suspended fiber, until settle_fiber_op
  bool done = false;       // the handler ran
  bool abandoned = false;  // stopped, and the operation cannot be cancelled: the fiber left
  bool stopped = false;    // a stop was requested while waiting (set before the cancel is emitted)
  boost::asio::cancellation_signal signal;
  boost::system::error_code ec;
  std::exception_ptr error;

  void complete() noexcept {
    count_io_completion();
    settle_fiber_op(*this, false);
  }
  virtual ~FiberOpBase() = default;
};

struct ExecState;
// The calling runtime fiber's state, for wait_fiber_op (one lookup per operation). Throws
// NotInFiberError off a runtime fiber, and CancelledError if `throw_if_stopped` and the fiber's
// task was stopped.
ExecState& enter_fiber_op(bool throw_if_stopped);
// Suspends the calling fiber (`self`: from enter_fiber_op) until the handler ran (true) or,
// after a stop of the fiber's task, the operation was abandoned because it cannot be cancelled
// (false). A stop posts the cancellation to `cancel_ex`.
bool wait_fiber_op(ExecState& self, const std::shared_ptr<FiberOpBase>& op, boost::asio::any_io_executor cancel_ex);

}  // namespace fiberbridge::detail
