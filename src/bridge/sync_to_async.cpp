// bridge/sync_to_async.cpp — the fiber side and the thread side of one sync_to_async call.
//
// The fiber builds the call in one block (FiberSyncCall: the body, the shared state, the
// body's context copy; see fiber_sync_call.hpp), routes it, and suspends parked detached
// (scheduler/fiber_wake.hpp, the same wake-up path as a use_fiber operation): only the fiber
// suspends, and the body's completion makes it ready through wake_fiber. The body runs in a
// copy of the caller's scope (context copy, routing state plus the rule-4 hold, the caller's
// stop: its task, held by the body, or its token). When the caller's task is stopped the fiber
// leaves at once with CancelledError and the body runs on detached; it only touches the call
// block, which its job's reference keeps alive until it finishes.
#include <stdexcept>
#include <stop_token>

#include "bridge/fiber_sync_call.hpp"
#include "bridge/sync_job.hpp"
#include "context/exec_state.hpp"
#include "detail/stop_watch.hpp"
#include "fiberbridge/detail/wait_mark.hpp"
#include "fiberbridge/errors.hpp"
#include "fiberbridge/runtime.hpp"
#include "fiberbridge/sync_to_async.hpp"
#include "scheduler/fiber_wake.hpp"

namespace fiberbridge::detail {

namespace {

// Wakes the waiting fiber when its caller is stopped (the body sees the same stop).
struct WakeOnStop {
  FiberSyncCall* ctl;
  void operator()() noexcept {
    boost::fibers::detail::spinlock_lock g(ctl->m);  // held across the wake: see body_done
    wake_waiter(ctl->waiter);
  }
};

}  // namespace

void validate(const SyncToAsyncOptions& options) {
  if (options.thread_sensitive && options.executor != nullptr)
    throw std::invalid_argument(
        "sync_to_async: executor must not be set when thread_sensitive is true (set thread_sensitive = false "
        "to run on your executor)");
}

SyncCallRef::~SyncCallRef() { block_->release(); }

SyncCallRef run_sync_call(std::size_t size, std::size_t align, SyncCallBase* (*make)(void*, void*), void* arg,
                          const SyncToAsyncOptions& options) {
  ExecState* const fiber = runtime_fiber_state();
  if (fiber == nullptr) throw NotInFiberError();
  ExecState& state = *fiber;  // the fiber's own object: stays valid if the fiber migrates
  const Scope& caller = state.scope;
  if (caller.stop_requested()) throw CancelledError();

  boost::intrusive_ptr<FiberSyncCall> ctl = FiberSyncCall::create(size, align, make, arg);
  ctl->begin(caller);
  // Where the body went, for Runtime::dump: outlives the call (see Route::name).
  const char* target_name = nullptr;
  try {
    target_name = submit_routed(ctl, choose_route(options, state.scope.routing, state.runtime()), options,
                                state.scope.routing, state.runtime());
  } catch (...) {
    ctl->unbind();  // not submitted: no job holds the scope (and the anchor) any more
    throw;
  }

  bool cancelled = false;
  std::exception_ptr error;
  {
    StopWatch on_stop(caller, WakeOnStop{ctl.get()});  // before the lock (stop_watch.hpp)
    WaitMark mark(WaitKind::kSyncToAsync, target_name);
    boost::fibers::detail::spinlock_lock lk(ctl->m);
    // A stop wins even over a result that arrived meanwhile: stop_requested() is sticky and
    // this is an interruption point (asgiref re-raises CancelledError when the call is done too).
    for (;;) {
      if (caller.stop_requested()) {
        cancelled = true;
        break;
      }
      if (ctl->done) {
        error = std::move(ctl->error);  // the consumer drops the last reference, on its own thread
        break;
      }
      wait_parked(ctl->waiter, lk);  // body_done or the stop callback wakes us
    }
  }
  ctl->end(*state.scope.context);
  if (cancelled) throw CancelledError();
  if (error) std::rethrow_exception(std::move(error));
  SyncCallBase* call = ctl->call;
  return SyncCallRef(ctl.detach(), call);
}

}  // namespace fiberbridge::detail
