// detail/use_fiber.hpp — the non-template half of `use_fiber` (see fiberbridge/asio.hpp).
//
// Invariants:
//  * The state is shared (shared_ptr) by the waiting fiber, the completion handler and the
//    cancel request posted to the operation's executor; whoever runs last frees it.
//  * `complete()` and `abandon()` notify under the lock, and the fiber re-checks under it.
//  * The cancellation signal is only touched on the operation's executor (Asio's rule:
//    cancellation_signal is not thread-safe), never from the thread that requested the stop.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/fiber/condition_variable.hpp>
#include <boost/system/error_code.hpp>

#include <exception>
#include <memory>
#include <mutex>

#include "fiberbridge/detail/wait_mark.hpp"

namespace fiberbridge::detail {

struct FiberOpBase {
  std::mutex m;
  boost::fibers::condition_variable_any cv;
  bool done = false;       // the handler ran
  bool abandoned = false;  // stopped, and the operation cannot be cancelled: the fiber left
  bool stopped = false;    // a stop was requested while waiting (set before the cancel is emitted)
  boost::asio::cancellation_signal signal;
  boost::system::error_code ec;
  std::exception_ptr error;

  void complete() {
    count_io_completion();
    std::lock_guard g(m);
    done = true;
    cv.notify_all();
  }
  virtual ~FiberOpBase() = default;
};

// Throws NotInFiberError unless the caller is a runtime fiber.
void check_fiber_op_allowed();
// The calling fiber's task was stopped.
bool fiber_stop_requested() noexcept;
// Suspends the calling fiber until the handler ran (true) or, after a stop of the fiber's
// task, the operation was abandoned because it cannot be cancelled (false). A stop posts the
// cancellation to `cancel_ex`.
bool wait_fiber_op(const std::shared_ptr<FiberOpBase>& op, boost::asio::any_io_executor cancel_ex);

}  // namespace fiberbridge::detail
