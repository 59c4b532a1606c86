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

namespace detail {
// Runs `body` as a fiber chosen by the rules above and parks this thread until it is done.
// Rethrows the body's exception.
void run_async_call(unique_function body, const AsyncToSyncOptions& options);
}  // namespace detail

/// AsyncToSync — fiber code made callable from plain threads. Copyable if F is; any thread
/// may make, copy or destroy one. `options() const noexcept` gives the options it was made with.
template <class F>
class AsyncToSync : public detail::BridgeShell<F, AsyncToSyncOptions> {
 public:
  /// Wraps `f`; on any thread; does not throw unless copying F does.
  explicit AsyncToSync(F f, AsyncToSyncOptions options = {})
      : detail::BridgeShell<F, AsyncToSyncOptions>(std::move(f), options) {}

  /// Runs f(a...) as a fiber (arguments decay-copied) and returns its result (void allowed).
  /// Call it on a plain thread, which parks and serves the thread-sensitive work routed to it
  /// until the fiber is done. Throws AsyncToSyncInFiberError on a fiber, std::logic_error when
  /// the chosen runtime is being destroyed, and whatever f throws (the same object).
  template <class... A>
  auto operator()(A&&... a) const {
    using R = std::invoke_result_t<F, std::decay_t<A>...>;
    detail::ResultSlot<R> slot;
    detail::run_async_call(
        [&slot, fn = this->f_, args = std::tuple<std::decay_t<A>...>(std::forward<A>(a)...)]() mutable {
          slot.fill([&]() -> R { return std::apply(std::move(fn), std::move(args)); });
        },
        this->options_);
    return slot.take();
  }
};

/// async_to_sync — AsyncToSync<std::decay_t<F>>(f, options); on any thread.
template <class F>
  requires(!std::is_same_v<std::decay_t<F>, AsyncToSyncOptions>)
AsyncToSync<std::decay_t<F>> async_to_sync(F&& f, AsyncToSyncOptions options = {}) {
  return detail::make_bridge<AsyncToSync>(std::forward<F>(f), options);
}

/// async_to_sync(options) — the decorator form: returns a callable F -> AsyncToSync<F>.
inline auto async_to_sync(AsyncToSyncOptions options) { return detail::bridge_decorator<AsyncToSync>(options); }

}  // namespace fiberbridge
