// bridge/sync_to_async.cpp — the fiber side and the thread side of one sync_to_async call.
//
// The fiber builds a CallControl (shared with the thread that runs the body), routes it,
// and waits on a fiber condition variable: only the fiber suspends. The body runs in a copy
// of the caller's scope (context copy, routing state plus the rule-4 hold, a stop token that
// follows the caller's). When the caller's task is stopped the fiber leaves at once with
// CancelledError and the body runs on detached; it only touches the shared CallControl.
#include <boost/fiber/condition_variable.hpp>

#include <atomic>
#include <stdexcept>

#include "fiberbridge/detail/wait_mark.hpp"
#include "bridge/sync_job.hpp"
#include "context/exec_state.hpp"
#include "fiberbridge/errors.hpp"
#include "fiberbridge/runtime.hpp"
#include "fiberbridge/sync_to_async.hpp"

namespace fiberbridge::detail {

namespace {

struct CallControl : SyncBody {
  static constexpr const char* kBridgeName = "sync_to_async";

  std::mutex m;
  boost::fibers::condition_variable_any cv;
  bool done = false;
  std::exception_ptr error;

  void body_done(std::exception_ptr e) noexcept {
    release_hold();
    std::lock_guard g(m);
    if (done) return;
    done = true;
    error = std::move(e);
    cv.notify_all();  // under the lock: the fiber cannot leave (and drop its reference) meanwhile
  }
};

struct ForwardStop {
  CallControl* ctl;
  void operator()() noexcept {
    ctl->body_stop.request_stop();
    std::lock_guard g(ctl->m);
    ctl->cv.notify_all();
  }
};

}  // namespace

void validate(const SyncToAsyncOptions& options) {
  if (options.thread_sensitive && options.executor != nullptr)
    throw std::invalid_argument(
        "sync_to_async: executor must not be set when thread_sensitive is true (set thread_sensitive = false "
        "to run on your executor)");
}

void run_sync_call(const std::shared_ptr<SyncCallBase>& call, const SyncToAsyncOptions& options) {
  if (!in_fiber()) throw NotInFiberError();
  ExecState& state = current_state();  // the fiber's own object: stays valid if the fiber migrates
  const std::stop_token stop = state.scope.stop;
  if (stop.stop_requested()) throw CancelledError();

  auto ctl = std::make_shared<CallControl>();
  ctl->begin(call, *state.scope.context);
  // Where the body went, for Runtime::dump: outlives the call (see Route::name).
  const char* target_name =
      submit_routed(ctl, choose_route(options, state.scope.routing, state.runtime()), options, state.scope.routing,
                    state.runtime());

  bool cancelled = false;
  std::exception_ptr error;
  {
    std::stop_callback<ForwardStop> on_stop(stop, ForwardStop{ctl.get()});
    WaitMark mark(WaitKind::kSyncToAsync, target_name);
    std::unique_lock lk(ctl->m);
    // A stop wins even over a result that arrived meanwhile: stop_requested() is sticky and
    // this is an interruption point (asgiref re-raises CancelledError when the call is done too).
    for (;;) {
      if (stop.stop_requested()) {
        cancelled = true;
        break;
      }
      if (ctl->done) {
        error = std::move(ctl->error);  // the consumer drops the last reference, on its own thread
        break;
      }
      ctl->cv.wait(lk);
    }
  }
  ctl->end(*state.scope.context);
  if (cancelled) throw CancelledError();
  if (error) std::rethrow_exception(std::move(error));
}

}  // namespace fiberbridge::detail
