/// @file
/// fiberbridge/async_to_sync.hpp — AsyncToSync: call fiber code from a plain thread (asgiref's
/// `async_to_sync(coro)(...)`).
///
/// @code
/// int n = fb::async_to_sync([](int x) {  // runs as a fiber
///   return fb::sync_to_async(load)(x) + 1;  // `load` runs back on this thread
/// })(41);
/// @endcode
///
/// The calling thread parks while f(a...) runs as a new fiber; while parked it runs the
/// thread-sensitive work routed to it (rule 1 of sync_to_async), and it returns only when the
/// fiber has finished *and* no routed work is pending. Where the fiber runs, first match wins:
///   * on the runtime of the outer fiber, if this thread is running a sync_to_async body
///     (asgiref's "main loop") and force_new_loop is false;
///   * on the single thread of this thread's active AsyncSingleThreadContext;
///   * on a fresh private one-thread scheduler if force_new_loop (fibers it leaves behind are
///     stopped and joined before the call returns, like asyncio.run);
///   * on options.runtime, else Runtime::default_runtime().
/// Fibers spawned by f that outlive the call route their thread-sensitive work to the nearest
/// async_to_sync frame still waiting (asgiref #491/#494), never to a finished one.
///
/// Throws AsyncToSyncInFiberError on a fiber; rethrows f's exception (the same object).
/// Compiled from examples/headers/async_to_sync.cpp.
#pragma once

#include <tuple>
#include <type_traits>
#include <utility>

#include "fiberbridge/detail/bridge_shell.hpp"
#include "fiberbridge/detail/result_slot.hpp"
#include "fiberbridge/detail/unique_function.hpp"

namespace fiberbridge {

class Runtime;

/// AsyncToSyncOptions — where an async_to_sync fiber runs.
struct AsyncToSyncOptions {
  bool force_new_loop = false;  ///< run on a fresh private scheduler thread, never on an outer runtime
  Runtime* runtime = nullptr;   ///< used when there is no outer runtime; nullptr = default_runtime()
};

template <class F>
class AsyncToSync;
/// Deduces AsyncToSync<F> from a callable (F decayed): `fb::AsyncToSync run(handler);`.
template <class F>
AsyncToSync(F, AsyncToSyncOptions = {}) -> AsyncToSync<F>;

namespace detail {

// Runs `body` as a fiber chosen by the rules above and parks this thread until it is done.
// Rethrows the body's exception.
void run_async_call(unique_function body, const AsyncToSyncOptions& options);

// Both variants' AsyncToSync but for `Run::run(f, args, options)`, which makes the call with
// the decay-copied arguments (see bridge_shell.hpp).
template <class F, class Run>
class AsyncBridge : public BridgeShell<F, AsyncToSyncOptions> {
 public:
  using BridgeShell<F, AsyncToSyncOptions>::BridgeShell;

  template <class... A>
  auto operator()(A&&... a) const {
    return Run::run(this->f_, std::tuple<std::decay_t<A>...>(std::forward<A>(a)...), this->options_);
  }
};

// The fiber variant's async_to_sync call: f runs as a fiber, its result comes back in a slot.
struct FiberRun {
  template <class Fn, class... Args>
  static auto run(const Fn& f, std::tuple<Args...> args, const AsyncToSyncOptions& options) {
    using R = std::invoke_result_t<Fn, Args...>;
    ResultSlot<R> slot;
    run_async_call(
        [&slot, fn = f, args = std::move(args)]() mutable {
          slot.fill([&]() -> R { return std::apply(std::move(fn), std::move(args)); });
        },
        options);
    return slot.take();
  }
};

}  // namespace detail

/// AsyncToSync — fiber code made callable from plain threads. Copyable if F is; any thread
/// may make, copy or destroy one.
///
/// `operator()(a...) const` — runs f(a...) as a fiber (arguments decay-copied) and returns its
/// result (void allowed). Call it on a plain thread, which parks and serves the
/// thread-sensitive work routed to it until the fiber is done. Throws AsyncToSyncInFiberError
/// on a fiber, std::logic_error when the chosen runtime is being destroyed, and whatever f
/// throws (the same object).
///
/// `options() const noexcept` — the options it was made with.
///
/// `explicit AsyncToSync(F f, AsyncToSyncOptions options = {})` — on any thread.
template <class F>
class AsyncToSync : public detail::AsyncBridge<F, detail::FiberRun> {
 public:
  using detail::AsyncBridge<F, detail::FiberRun>::AsyncBridge;
};

/// async_to_sync — the factory of AsyncToSync, on any thread: `async_to_sync(f, options = {})`
/// is AsyncToSync<std::decay_t<F>>(f, options); `async_to_sync(options)` is the decorator form,
/// a callable F -> AsyncToSync<F> (as in `async_to_sync(AsyncToSyncOptions{.force_new_loop = true})`).
inline constexpr detail::BridgeFactory<AsyncToSync, AsyncToSyncOptions> async_to_sync{};

}  // namespace fiberbridge
