// bridge/sync_job.hpp — one sync_to_async call, all but the waiting: shared by the fiber
// variant (bridge/sync_to_async.cpp) and the coroutine variant (coro/coro_bridge.cpp).
//
// `SyncBody` is the coroutine variant's call state both sides see: the body's context copy and
// scope, its stop source, the rule-4 hold. The fiber variant keeps the same state inside its
// one-allocation call block (fiber_sync_call.hpp). `submit_routed` binds the body's scope for a
// route and hands the executor a `SyncJob<Ptr>` (Ptr: the control's strong reference type),
// choosing again while the chosen frame chain closes under it.
// Running the job swaps the body's scope onto the running thread, invokes the body with its
// stop token and reports the outcome to `Control::body_done`. A job that an executor destroys
// without running it reports an error instead, so the caller never waits forever — unless the
// router took it back to resubmit it elsewhere (`resubmitting`).
#pragma once

#include <atomic>
#include <exception>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <string>

#include "bridge/router.hpp"
#include "context/exec_state.hpp"
#include "detail/must_run.hpp"
#include "fiberbridge/sync_to_async.hpp"

namespace fiberbridge::detail {

// A body's scope before the rule-4 hold: its context holder, the caller's routing state, its
// stop token, `outer` as the runtime of the calling code.
inline Scope body_scope_base(std::shared_ptr<ContextData> context, const RoutingState& routing, std::stop_token stop,
                             Runtime* outer) {
  Scope body;
  body.context = std::move(context);
  body.routing = routing;
  body.stop = std::move(stop);
  body.outer_runtime = outer;
  return body;
}

struct SyncBody {
  std::shared_ptr<SyncCallBase> call;
  std::shared_ptr<const VarMap> before;  // the caller's context when the call began
  std::shared_ptr<ContextData> body_context;
  Scope body_scope;  // moved onto the body's thread when it starts
  std::stop_source body_stop;
  std::shared_ptr<const Hold> hold;         // rule 4, when the target is a single thread
  std::atomic<bool> resubmitting{false};    // a job destroyed now was refused, not dropped

  // The body runs in a copy of the caller's context (O(1): the map is immutable and shared).
  void begin(std::shared_ptr<SyncCallBase> c, const ContextData& caller) {
    call = std::move(c);
    before = caller.snapshot();
    body_context = std::make_shared<ContextData>();
    body_context->map = before;
  }
  // Copies what the body changed so far back into the caller's context (all of it unless the
  // caller was cancelled first). Call it on the caller's side, after the wait.
  void end(ContextData& caller) const { copy_back(before, body_context->snapshot(), caller); }
  // The body's scope for `route`: the caller's routing state plus a rule-4 hold when the target
  // is a single thread, the body's own stop token, `outer` as the runtime of the calling code.
  void bind(const Route& route, const RoutingState& routing, Runtime* outer) {
    Scope body = body_scope_base(body_context, routing, body_stop.get_token(), outer);
    if (route.holdable()) {
      hold = std::make_shared<const Hold>(route.target(), body.routing.holds);
      body.routing.holds = hold;
    } else {
      hold.reset();
    }
    body_scope = std::move(body);
  }
  void release_hold() noexcept {
    if (hold) hold->active.store(false, std::memory_order_release);
  }
};

// A job destroyed unrun: the caller hears of it, unless the router took the job back.
template <class Control>
struct ReportUnrunJob {
  void operator()(Control& ctl) const {
    if (ctl.resubmitting.load(std::memory_order_acquire)) return;
    ctl.body_done(std::make_exception_ptr(std::runtime_error(
        std::string("fiberbridge: the executor destroyed a ") + Control::kBridgeName + " call without running it")));
  }
};

// Runs `ctl`'s body on this thread, in its scope, and reports the outcome. Control: see SyncJob.
template <class Control>
void run_sync_body(Control& ctl) {
  std::exception_ptr error;
  {
    ScopeSwap swap(std::move(ctl.body_scope));
    try {
      ctl.call->invoke();  // a body that takes a stop token gets its scope's
    } catch (...) {
      error = std::current_exception();
    }
  }
  ctl.body_done(std::move(error));
}

// Ptr: a strong reference (shared_ptr or boost::intrusive_ptr) to a Control, which has the members
// of SyncBody that are used here (`call`, `body_scope`, `bind`, `resubmitting`),
// `void body_done(std::exception_ptr) noexcept` and `static constexpr const char* kBridgeName`
// (named in the "destroyed without running" error).
template <class Ptr>
class SyncJob {
  using Control = typename Ptr::element_type;

 public:
  explicit SyncJob(Ptr ctl) noexcept : ctl_(std::move(ctl)) {}
  void operator()() {
    Ptr ctl = ctl_.take();
    run_sync_body(*ctl);
  }

 private:
  MustRun<Control, ReportUnrunJob<Control>, Ptr> ctl_;
};

// The job for `ctl`: its own queue node when the control has one (`queued_job()`, see
// FiberSyncCall), else a SyncJob holding a strong reference.
template <class Ptr>
unique_function make_sync_job(const Ptr& ctl) {
  if constexpr (requires { ctl->queued_job(); }) {
    return ctl->queued_job();
  } else {
    return unique_function{SyncJob<Ptr>(ctl)};
  }
}

// Submits `ctl`'s body along `route`; when the frame chain closed between choosing and
// submitting (the job was not taken) it disarms the job and chooses again. Returns where the
// body went, for Runtime::dump. Throws what choose_route and the executor throw.
template <class Ptr>
const char* submit_routed(const Ptr& ctl, Route route, const SyncToAsyncOptions& options,
                          const RoutingState& routing, Runtime* outer) {
  for (;;) {
    ctl->bind(route, routing, outer);
    unique_function job = make_sync_job(ctl);
    if (submit(route, job)) return route.name();
    ctl->resubmitting.store(true, std::memory_order_release);
    job = {};
    ctl->resubmitting.store(false, std::memory_order_release);
    route = choose_route(options, routing, outer);
  }
}

}  // namespace fiberbridge::detail
