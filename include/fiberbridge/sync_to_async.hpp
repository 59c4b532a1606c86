/// @file
/// fiberbridge/sync_to_async.hpp — SyncToAsync: call blocking code from a fiber (asgiref's
/// `await sync_to_async(f)(...)`).
///
/// @code
/// int rows = fb::sync_to_async(query_db)("SELECT 1");  // thread-sensitive (default)
/// auto offload = fb::sync_to_async(fb::SyncToAsyncOptions{.thread_sensitive = false});
/// auto hash = offload(slow_hash)(data);  // on the blocking pool
/// @endcode
///
/// Only the calling fiber suspends; its scheduler thread keeps running other fibers. The body
/// runs on the thread the router picks (API.md rules 1-5):
///   1. the OS thread parked in the nearest enclosing async_to_sync of this call chain;
///   2. the thread of the active ThreadSensitiveContext;
///   3. the thread waiting on the private scheduler of async_to_sync(force_new_loop);
///   4. WouldDeadlockError if the target is held by this call chain (a body waiting on us);
///   5. the process-wide sync thread (one OS thread, created lazily).
/// With `thread_sensitive = false` the body runs on `executor`, else on the built-in blocking
/// pool (reused threads, bounded, grows on demand).
///
/// Arguments are decay-copied (the body may outlive the caller if the caller is cancelled; use
/// std::ref on purpose). The result is moved out; an exception comes back as the same object.
/// The body runs in a copy of the caller's context variables; changed or added variables are
/// copied back afterwards (success, exception or cancellation).
///
/// Cancellation: if the caller's task is stopped while waiting, the fiber wakes at once with
/// CancelledError and the body runs on, detached. A body whose first parameter is
/// std::stop_token receives a token that is stopped too, so it can end early.
///
/// Throws NotInFiberError off a fiber, CancelledError when stopped, WouldDeadlockError (rule 4),
/// std::invalid_argument for `executor` together with `thread_sensitive`.
/// Compiled from examples/headers/sync_to_async.cpp.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <stdexcept>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>

#include "fiberbridge/detail/bridge_shell.hpp"
#include "fiberbridge/detail/result_slot.hpp"
#include "fiberbridge/executor.hpp"
#include "fiberbridge/task.hpp"
#include "fiberbridge/traits.hpp"

namespace fiberbridge {

/// SyncToAsyncOptions — where a sync_to_async body runs.
struct SyncToAsyncOptions {
  bool thread_sensitive = true;     ///< asgiref's default: one thread per routing scope
  Executor* executor = nullptr;     ///< only with thread_sensitive == false; nullptr = blocking pool
};

/// Deduces SyncToAsync<F> from a callable (F decayed): `fb::SyncToAsync offload(hash, options);`.
template <class F>
SyncToAsync(F, SyncToAsyncOptions = {}) -> SyncToAsync<F>;

namespace detail {

// The type-erased half of one call: the router hands it to a thread, which calls invoke().
class SyncCallBase {
 public:
  virtual ~SyncCallBase() = default;
  // Runs the body, stores its result; may throw. Runs in the body's scope, whose
  // this_task::stop_token() is handed to a body that takes one (made only then).
  virtual void invoke() = 0;
};

template <class F, class Args>
class SyncCall;

template <class F, class... A>
class SyncCall<F, std::tuple<A...>> final : public SyncCallBase {
 public:
  static constexpr bool takes_stop_token = std::is_invocable_v<F, std::stop_token, A...>;
  using Result = typename std::conditional_t<takes_stop_token, std::invoke_result<F, std::stop_token, A...>,
                                             std::invoke_result<F, A...>>::type;

  SyncCall(F f, std::tuple<A...> args) : f_(std::move(f)), args_(std::move(args)) {}
  void invoke() override {
    slot_.fill([&]() -> Result {
      if constexpr (takes_stop_token) {
        return std::apply(
            [&](A&... a) -> Result { return std::move(f_)(fiberbridge::this_task::stop_token(), std::move(a)...); },
            args_);
      } else {
        return std::apply([&](A&... a) -> Result { return std::move(f_)(std::move(a)...); }, args_);
      }
    });
  }
  Result take() { return slot_.take(); }

 private:
  F f_;
  std::tuple<A...> args_;
  ResultSlot<Result> slot_;
};

// Throws std::invalid_argument for an executor together with thread_sensitive.
void validate(const SyncToAsyncOptions& options);

struct FiberSyncCall;

// The calling fiber's reference to its finished call (the body, its result inside): dropped
// when the caller has moved the result out.
class SyncCallRef {
 public:
  SyncCallRef(FiberSyncCall* block, SyncCallBase* call) noexcept : block_(block), call_(call) {}
  SyncCallRef(const SyncCallRef&) = delete;
  SyncCallRef& operator=(const SyncCallRef&) = delete;
  ~SyncCallRef();
  SyncCallBase& call() const noexcept { return *call_; }

 private:
  FiberSyncCall* block_;
  SyncCallBase* call_;
};

// Builds one call in one allocation (the bridge's state, the context copy and, at an offset
// aligned for it, the body made by `make(at, arg)`: `size` bytes aligned to `align`), routes,
// submits and waits for it. Returns once its result is stored, else throws (NotInFiberError
// and CancelledError before `make` runs).
SyncCallRef run_sync_call(std::size_t size, std::size_t align, SyncCallBase* (*make)(void* at, void* arg), void* arg,
                          const SyncToAsyncOptions& options);

// Both variants' SyncToAsync but for `Wait::run<Call>(f, args, options)`, which makes the call
// (see bridge_shell.hpp): the options are validated at construction, the arguments are
// decay-copied into a tuple the call is built from.
template <class F, class Wait>
class SyncBridge : public BridgeShell<F, SyncToAsyncOptions> {
  static_assert(!is_async_callable_v<F>,
                "sync_to_async can only be applied to sync functions: this callable is already async "
                "(a SyncToAsync, coro::SyncToAsync or mark_async result) - call it directly on the fiber, "
                "or co_await it in a coroutine.");

 public:
  explicit SyncBridge(F f, SyncToAsyncOptions options = {})
      : BridgeShell<F, SyncToAsyncOptions>(std::move(f), options) {
    validate(this->options_);
  }

  template <class... A>
  auto operator()(A&&... a) const {
    using Args = std::tuple<std::decay_t<A>...>;
    using Call = SyncCall<F, Args>;
    return Wait::template run<Call>(this->f_, Args(std::forward<A>(a)...), this->options_);
  }
};

// The fiber variant's call: built inside the call's one allocation, the fiber waits, then the
// result is moved out.
struct FiberWait {
  template <class Call, class F, class Args>
  static auto run(const F& f, Args&& args, const SyncToAsyncOptions& options) {
    struct Make {
      const F& f;
      Args& args;
    } make{f, args};
    SyncCallRef ref = run_sync_call(
        sizeof(Call), alignof(Call),
        [](void* at, void* m) -> SyncCallBase* {
          auto& mk = *static_cast<Make*>(m);
          return ::new (at) Call(mk.f, std::move(mk.args));
        },
        &make, options);
    return static_cast<Call&>(ref.call()).take();
  }
};

}  // namespace detail

/// SyncToAsync — a blocking callable made callable from fibers. Copyable if F is; any thread
/// may make, copy or destroy one.
///
/// `operator()(a...) const` — call it on a fiber: runs f(a...) on the routed thread (rules
/// above) while only the calling fiber suspends, and returns its result (void allowed). Throws
/// NotInFiberError off a fiber, CancelledError when the caller's task is stopped (before or
/// while waiting), WouldDeadlockError (rule 4), std::system_error when no thread can be
/// started for the body, and whatever f throws (the same object).
///
/// `options() const noexcept` — the options it was made with.
///
/// `explicit SyncToAsync(F f, SyncToAsyncOptions options = {})` — on any thread; throws
/// std::invalid_argument for an executor together with thread_sensitive.
template <class F>
class SyncToAsync : public detail::SyncBridge<F, detail::FiberWait> {
 public:
  using detail::SyncBridge<F, detail::FiberWait>::SyncBridge;
};

/// sync_to_async — the factory of SyncToAsync, on any thread:
///  * `sync_to_async(f, options = {})` is SyncToAsync<std::decay_t<F>>(f, options);
///  * `sync_to_async(options)` is the decorator form: a callable F -> SyncToAsync<F>, as in
///    `auto offload = sync_to_async(SyncToAsyncOptions{.thread_sensitive = false});`.
/// Both throw std::invalid_argument for an executor together with thread_sensitive (the
/// decorator form at once, as asgiref does at decoration time).
inline constexpr detail::BridgeFactory<SyncToAsync, SyncToAsyncOptions, &detail::validate> sync_to_async{};

}  // namespace fiberbridge
