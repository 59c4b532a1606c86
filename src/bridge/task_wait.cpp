// bridge/task_wait.cpp — waiting for a TaskState (Task::get / wait): on a fiber only the fiber
// suspends (task.cpp); a plain thread parks the way async_to_sync does, serving the
// thread-sensitive work routed to it meanwhile, in a CurrentThreadExecutor: the one it is
// already serving if it is inside a routed sync body (so work routed to it keeps running and
// waiting never deadlocks where async_to_sync would not), else a private one nobody routes to.
#include <memory>

#include "bridge/current_thread_executor.hpp"
#include "context/exec_state.hpp"
#include "fiberbridge/errors.hpp"
#include "fiberbridge/runtime.hpp"
#include "fiberbridge/task.hpp"

namespace fiberbridge::detail {

namespace {

bool thread_wait_until(TaskStateBase& s, std::chrono::steady_clock::time_point deadline) {
  std::shared_ptr<CurrentThreadExecutor> serving;
  if (CurrentThreadExecutor* current = CurrentThreadExecutor::serving()) {
    serving = current->shared_from_this();
  } else {
    serving = CurrentThreadExecutor::acquire(nullptr);  // this thread's spare frame, if it has one
  }
  const std::uint64_t id = s.on_ready([serving] { serving->wake(); });
  const bool ok = serving->run_until([&s] { return s.ready(); }, deadline, /*close_when_done=*/false);
  if (id != 0) s.remove_on_ready(id);
  (void)s.callbacks_done();  // if so, the callback's copy of `serving` is gone: the frame can be reused
  CurrentThreadExecutor::recycle(std::move(serving));  // kept only if nobody else holds it
  return ok;
}

}  // namespace

bool TaskStateBase::wait_until(std::chrono::steady_clock::time_point deadline) {
  ExecState* const fiber = runtime_fiber_state();
  if (ready()) {
    // An interruption point even when there is nothing to wait for.
    if (fiber != nullptr && fiber->scope.stop_requested()) throw CancelledError();
    return true;
  }
  return fiber != nullptr ? fiber_wait_until(*this, *fiber, deadline) : thread_wait_until(*this, deadline);
}

}  // namespace fiberbridge::detail
