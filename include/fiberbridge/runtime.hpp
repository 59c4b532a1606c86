// fiberbridge/runtime.hpp — Runtime: scheduler threads running fibers (asyncio's event loop).
//
//   fb::Runtime rt{fb::RuntimeOptions{.threads = 2}};
//   auto task = rt.spawn([](int x) { return x + 1; }, 41);
//   assert(task.get() == 42);
//
// A Runtime owns N scheduler threads running Boost.Fiber with fiberbridge's own work-stealing
// algorithm: fibers migrate between this runtime's threads only, an idle thread parks (no
// spinning forever) and is woken when work arrives for it. Several runtimes may coexist.
// Code on a fiber must not rely on thread_local (fibers migrate). Fibers may use Boost.Fiber
// primitives (mutex, condition_variable, channels, this_fiber::yield/sleep_for) directly.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/asio/any_io_executor.hpp>

#include "fiberbridge/detail/unique_function.hpp"
#include "fiberbridge/task.hpp"

namespace fiberbridge {

namespace detail {
struct RuntimeAccess;
}

/// RuntimeOptions — the shape of a Runtime.
struct RuntimeOptions {
  /// Scheduler threads; 0 = std::thread::hardware_concurrency().
  unsigned threads = 0;
  /// Per-fiber stack in bytes. Values below 16 KiB are raised to 16 KiB (Boost.Fiber's own
  /// blocking paths need about 6 KiB). Every stack has a guard page below it: an overflow
  /// crashes with SIGSEGV at the guard instead of corrupting memory.
  std::size_t stack_size = 64 * 1024;
  /// Prefix of the scheduler threads' names (as shown by top/gdb), at most 10 characters used.
  std::string name = "fb-worker";
  /// Idle policy: how long an idle scheduler thread may spin before it parks, at most. The
  /// actual spin adapts to recent wake-up latencies and is skipped when the waker shares our
  /// CPU. 0 = never spin. Negative = the process default (FIBERBRIDGE_MAX_SPIN_NS, else 50 µs).
  std::chrono::nanoseconds max_spin{-1};
  /// ~Runtime prints to stderr how many fibers it still waits for after this grace period
  /// (fibers blocked forever on a raw Boost.Fiber primitive are the user's bug).
  unsigned shutdown_grace_ms = 5000;
};

/// Runtime — non-copyable, non-movable. `~Runtime` requests a stop on every fiber still running
/// (fibers suspended in a bridge or in Task::get wake with CancelledError), waits for them,
/// then joins its threads; it never hangs on an idle runtime.
///
/// Destroyed by one of its own fibers (the last `std::shared_ptr<Runtime>` dropped on one of
/// them): `~Runtime` asks every other fiber to stop and returns at once, without waiting. The
/// destroying fiber runs on; `current_runtime()` and `spawn()` keep working there and in the
/// stopping fibers (they see a stand-in Runtime that refuses spawns from outside and stops new
/// fibers at once). The threads are joined and the memory released by a background thread once
/// every fiber, the destroying one included, has returned.
class Runtime {
 public:
  Runtime();
  explicit Runtime(RuntimeOptions options);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// default_runtime — the process-wide runtime, created lazily on first use
  /// (hardware_concurrency threads). It is never destroyed before exit; at exit remaining
  /// fibers are stopped with a bounded wait.
  static Runtime& default_runtime();

  /// threads — the number of scheduler threads.
  unsigned threads() const noexcept;

  /// io_executor — the executor of this runtime's Asio I/O context (created on first use).
  /// With <fiberbridge/asio.hpp>, Asio operations started on a fiber with `use_fiber` suspend
  /// only that fiber. Callable from any thread.
  boost::asio::any_io_executor io_executor();

  /// spawn — runs f(a...) as a new fiber on this runtime; arguments are decay-copied. The
  /// child gets a snapshot of the caller's context variables and routing state. Callable
  /// from any thread or fiber. Throws std::bad_alloc if the fiber cannot be created and
  /// std::logic_error if the runtime is shutting down.
  /// Order: the caller keeps running; the child starts later. No start order among siblings is
  /// promised: a scheduler thread runs woken fibers first, then unstarted ones newest first (a
  /// tree of spawns is walked depth-first, keeping few stacks alive), with bounded waits for
  /// both (see docs/architecture.md).
  template <class F, class... A>
  Task<std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>> spawn(F&& f, A&&... a) {
    using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>;
    auto state = std::make_shared<detail::TaskState<R>>();
    detail::unique_function body(
        [st = state.get(), fn = std::decay_t<F>(std::forward<F>(f)),
         args = std::make_tuple(std::decay_t<A>(std::forward<A>(a))...)]() mutable {
          if constexpr (std::is_void_v<R>) {
            std::apply(std::move(fn), std::move(args));
          } else {
            st->value.emplace(std::apply(std::move(fn), std::move(args)));
          }
        });
    spawn_impl(state, std::move(body));
    return Task<R>(std::move(state));
  }

  class Impl;

 private:
  friend struct detail::RuntimeAccess;
  explicit Runtime(std::unique_ptr<Impl> impl) noexcept;  // the stand-in of a self-destroyed runtime
  void spawn_impl(std::shared_ptr<detail::TaskStateBase> state, detail::unique_function body);
  std::unique_ptr<Impl> impl_;
};

/// in_fiber — true while running on a fiber of some Runtime; false on plain threads, including
/// a thread parked in async_to_sync that is running routed sync work.
bool in_fiber() noexcept;

/// current_runtime — the Runtime of the current fiber, or nullptr off a runtime fiber.
Runtime* current_runtime() noexcept;

namespace detail {
// The runtime `spawn()` uses: the current fiber's runtime, else the default runtime.
Runtime& spawn_runtime();
}  // namespace detail

/// spawn — like Runtime::spawn on the current fiber's runtime, else on default_runtime().
template <class F, class... A>
auto spawn(F&& f, A&&... a) {
  return detail::spawn_runtime().spawn(std::forward<F>(f), std::forward<A>(a)...);
}

}  // namespace fiberbridge
