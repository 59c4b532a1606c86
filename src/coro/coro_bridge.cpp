// coro/coro_bridge.cpp — the coroutine variant of the two bridges (see fiberbridge/coro.hpp).
//
// Reuses the fiber variant's pieces: routing (detail::choose_route / detail::submit), the
// execution state (Scope, ScopeSwap, copy_back), the async_to_sync frame
// (CurrentThreadExecutor) and the runtime choice. What differs is only how the awaiting side
// waits: a coroutine's completion handler is posted back to its executor instead of a fiber
// condition variable being notified, and a coroutine's Scope lives in its executor
// (ScopedExecutor) instead of fiber-specific storage.
//
// Lifetime rules: the shared control block (CoroSyncControl, CoroRoot) is held by every side
// that may still touch it. A coroutine's completion handler is posted under the control's lock
// and at most once; the runtime's IoService cancels registered work on the reactor thread
// before its io_context stops, and refuses new work afterwards, so a detached body never posts
// into a destroyed io_context.
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "asio/io_service.hpp"
#include "bridge/async_call.hpp"
#include "bridge/router.hpp"
#include "bridge/sync_job.hpp"
#include "context/exec_state.hpp"
#include "detail/must_run.hpp"
#include "fiberbridge/coro.hpp"
#include "fiberbridge/errors.hpp"
#include "fiberbridge/runtime.hpp"
#include "runtime_impl.hpp"

namespace fiberbridge::detail {

struct CoroState {
  Scope scope;
  Runtime* runtime = nullptr;  // whose reactor runs the coroutine (rule 3, "main loop" of bodies)
};

using IoExecutor = boost::asio::io_context::executor_type;

namespace {

// The coroutine state installed on this (reactor) thread right now. Plain-thread state.
thread_local CoroState* tl_coro = nullptr;

}  // namespace

// The runtime of the coroutine running here: its own, else the one whose reactor this is.
Runtime* coroutine_runtime() noexcept {
  if (tl_coro != nullptr) return tl_coro->runtime;
  if (IoService* s = reactor_io_service()) return io_runtime(*s);
  return nullptr;
}

void coro_run(const std::shared_ptr<CoroState>& st, void (*fn)(void*), void* arg) {
  CoroState* const outer = std::exchange(tl_coro, st.get());
  struct Restore {
    CoroState* outer;
    ~Restore() { tl_coro = outer; }
  } restore{outer};
  ScopeSwap swap(st->scope);  // a copy: the coroutine's ContextData is shared, so changes persist
  fn(arg);
}

// ---- coro::sync_to_async ----

struct CoroSyncControl final : IoCancellable, SyncBody {
  static constexpr const char* kBridgeName = "coro::sync_to_async";

  // The awaiting coroutine's side (touched only on its thread).
  std::shared_ptr<ContextData> caller_context;
  RoutingState routing;
  Runtime* runtime = nullptr;
  SyncToAsyncOptions options;
  std::optional<Route> route;

  std::mutex m;
  std::unique_ptr<CoroCompletion> completion;  // posted once, then null
  std::exception_ptr error;                    // the outcome, set before the completion is posted
  IoService* service = nullptr;                // registered there while the completion is pending

  // Posts the coroutine's completion, once. Under the lock: IoService's cancel pass takes the
  // same lock, so the io_context is alive for the whole post.
  void complete(std::exception_ptr e) noexcept {
    std::lock_guard g(m);
    if (!completion) return;
    error = std::move(e);
    try {
      completion->post();
    } catch (...) {  // cannot post (out of memory): the coroutine is lost, never resumed twice
    }
    completion.reset();
    if (service != nullptr) {
      io_unregister(*service, this);
      service = nullptr;
    }
  }
  void body_done(std::exception_ptr e) noexcept {
    release_hold();
    complete(std::move(e));
  }
  void cancel_on_reactor() noexcept override {
    body_stop.request_stop();
    complete(std::make_exception_ptr(CancelledError()));
  }
};

CoroSyncCall::CoroSyncCall(std::shared_ptr<SyncCallBase> call, const SyncToAsyncOptions& options)
    : ctl_(std::make_shared<CoroSyncControl>()) {
  ExecState& state = current_state();  // this thread's, with the coroutine's scope installed
  if (state.scope.stop_requested()) throw CancelledError();
  CoroSyncControl& c = *ctl_;
  c.caller_context = state.scope.context;
  c.begin(std::move(call), *c.caller_context);
  c.routing = state.scope.routing;
  c.runtime = coroutine_runtime();
  c.options = options;
  c.route = choose_route(options, c.routing, c.runtime);  // WouldDeadlockError (rule 4) from here
}

CoroSyncCall::~CoroSyncCall() = default;

void CoroSyncCall::start(std::unique_ptr<CoroCompletion> completion) noexcept {
  CoroSyncControl& c = *ctl_;
  {
    std::lock_guard g(c.m);
    c.completion = std::move(completion);
  }
  try {
    if (IoService* s = reactor_io_service()) {
      if (!io_register(*s, ctl_)) throw CancelledError();  // the runtime is shutting down
      std::lock_guard g(c.m);
      c.service = s;
    }
    (void)submit_routed(ctl_, std::move(*c.route), c.options, c.routing, c.runtime);
  } catch (...) {  // not submitted: the same report as a body that failed
    c.body_done(std::current_exception());
  }
}

void CoroSyncCall::cancel(const std::shared_ptr<CoroSyncControl>& ctl) noexcept { ctl->cancel_on_reactor(); }

std::exception_ptr CoroSyncCall::take_error() noexcept {
  std::lock_guard g(ctl_->m);
  return std::move(ctl_->error);
}

void CoroSyncCall::copy_back() noexcept {
  try {
    ctl_->end(*ctl_->caller_context);
  } catch (...) {  // out of memory while merging: the body's changes are lost, the call's outcome is not
  }
}

// ---- coro::async_to_sync ----

namespace {

struct CoroRoot final : IoCancellable {
  std::atomic<bool> done{false};
  std::exception_ptr error;
  std::shared_ptr<CurrentThreadExecutor> frame;
  boost::asio::cancellation_signal signal;  // reactor thread only
  std::stop_source stop;
  IoService* service = nullptr;
  std::mutex m;
  bool finished = false;

  bool is_root() const noexcept override { return true; }
  void cancel_on_reactor() noexcept override {
    stop.request_stop();
    if (!done.load(std::memory_order_acquire)) signal.emit(boost::asio::cancellation_type::terminal);
  }
  void finish(std::exception_ptr e) noexcept {
    {
      std::lock_guard g(m);
      if (finished) return;
      finished = true;
      error = std::move(e);
    }
    done.store(true, std::memory_order_release);
    frame->wake();  // we hold the frame: it stays valid even if the caller has returned
    if (service != nullptr) io_unregister(*service, this);
  }
};

struct ReportUnrunRoot {
  void operator()(CoroRoot& root) const {
    root.finish(std::make_exception_ptr(
        CancelledError("fiberbridge: the runtime's I/O context shut down before the coroutine finished")));
  }
};

// co_spawn's completion handler. Destroyed unrun (the io_context went away first): the
// waiting thread gets CancelledError instead of waiting forever.
class RootHandler {
 public:
  explicit RootHandler(std::shared_ptr<CoroRoot> root) noexcept : root_(std::move(root)) {}
  void operator()(std::exception_ptr e) { root_.take()->finish(std::move(e)); }

 private:
  MustRun<CoroRoot, ReportUnrunRoot> root_;
};

struct ForwardRootStop {
  std::shared_ptr<CoroRoot> root;
  IoExecutor io;
  void operator()() noexcept {
    root->stop.request_stop();
    std::lock_guard g(root->m);  // finished: the io_context may be gone
    if (root->finished) return;
    try {
      boost::asio::post(io, [root = root] {
        if (!root->done.load(std::memory_order_acquire)) root->signal.emit(boost::asio::cancellation_type::terminal);
      });
    } catch (...) {  // the coroutine still sees this_task::stop_requested()
    }
  }
};

}  // namespace

void run_coro_async_call(boost::asio::awaitable<void> entry, const AsyncToSyncOptions& options) {
  if (in_fiber()) throw AsyncToSyncInFiberError();
  if (reactor_io_service() != nullptr)
    throw AsyncToSyncInFiberError(
        "You cannot use coro::async_to_sync on a fiberbridge I/O thread (it would block the coroutines it waits "
        "for) - co_await the coroutine directly.");
  ExecState& state = current_state();
  AsyncCall call(state, options);  // where the coroutine runs: the same choice as the fiber variant

  auto root = std::make_shared<CoroRoot>();
  root->frame = call.frame();
  auto cs = std::make_shared<CoroState>();
  cs->scope = call.callee_scope();
  cs->scope.stop = root->stop.get_token();
  cs->runtime = &call.runtime();

  std::shared_ptr<IoService> service = io_service_of(call.runtime());
  if (!io_register(*service, root))
    throw std::logic_error("coro::async_to_sync: the runtime is shutting down (its destructor is running)");
  root->service = service.get();
  const IoExecutor io = io_context_of(*service).get_executor();
  try {
    boost::asio::co_spawn(boost::asio::any_io_executor(ScopedExecutor<IoExecutor>(io, cs)), std::move(entry),
                          boost::asio::bind_cancellation_slot(root->signal.slot(), RootHandler(root)));
  } catch (...) {
    io_unregister(*service, root.get());
    throw;
  }
  // Not held while waiting: ~Runtime must be able to destroy the service (it cancels the
  // coroutine first, which is what wakes us then).
  service.reset();
  {
    std::stop_callback<ForwardRootStop> forward(state.scope.stop_token(), ForwardRootStop{root, io});
    call.serve_until([&root] { return root->done.load(std::memory_order_acquire); });
  }
  std::exception_ptr error;
  {
    std::lock_guard g(root->m);
    error = std::move(root->error);
  }
  call.finish();  // like asyncio.run: stops a private runtime (and its reactor) now
  if (error) std::rethrow_exception(std::move(error));
}

}  // namespace fiberbridge::detail

namespace fiberbridge::coro {

boost::asio::any_io_executor bind_context(const boost::asio::any_io_executor& ex) {
  using detail::IoExecutor;
  using Scoped = detail::ScopedExecutor<detail::IoExecutor>;
  IoExecutor inner = [&]() -> IoExecutor {
    if (const auto* io = ex.target<IoExecutor>()) return *io;
    if (const auto* scoped = ex.target<Scoped>()) return scoped->inner();
    throw std::invalid_argument(
        "coro::bind_context needs an io_context executor (fiberbridge::io_executor(), or this_coro::executor "
        "inside a bridged coroutine)");
  }();
  auto st = std::make_shared<detail::CoroState>();
  st->scope = detail::inherit_scope();
  st->scope.stop = detail::current_state().scope.stop_token();
  st->runtime = detail::coroutine_runtime();
  if (st->runtime == nullptr) st->runtime = current_runtime();
  return boost::asio::any_io_executor(Scoped(inner, std::move(st)));
}

}  // namespace fiberbridge::coro
