/// @file
/// fiberbridge/runtime.hpp — Runtime: scheduler threads running fibers (asyncio's event loop).
///
/// @code
/// fb::Runtime rt{fb::RuntimeOptions{.threads = 2}};
/// auto task = rt.spawn({.name = "add-one"}, [](int x) { return x + 1; }, 41);
/// int answer = task.get();  // 42
/// @endcode
///
/// A Runtime owns N scheduler threads running Boost.Fiber with fiberbridge's own work-stealing
/// algorithm: fibers migrate between this runtime's threads only, an idle thread parks (no
/// spinning forever) and is woken when work arrives for it. Several runtimes may coexist.
/// Code on a fiber must not rely on thread_local (fibers migrate). Fibers may use Boost.Fiber
/// primitives (mutex, condition_variable, channels, this_fiber::yield/sleep_for) directly.
/// Compiled from examples/headers/runtime.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <source_location>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "fiberbridge/detail/unique_function.hpp"
#include "fiberbridge/task.hpp"

namespace fiberbridge {

namespace detail {
struct RuntimeAccess;
}

/// SlowFiberReport — a fiber that kept its scheduler thread longer than
/// `RuntimeOptions::slow_fiber_threshold` without switching (a blocking call made directly on a
/// fiber, or a long CPU loop): every other fiber of that thread waited meanwhile. A plain value,
/// handed to `RuntimeOptions::on_slow_fiber` on the watchdog thread.
struct SlowFiberReport {
  std::uint64_t fiber_id = 0;             ///< as in Runtime::dump
  std::string thread_name;                ///< the scheduler thread it blocked
  std::chrono::milliseconds running_for{};  ///< at the time of the report (at least the threshold)
  std::string where;                      ///< spawn name and site, else the callable's type
  std::string stacktrace;                 ///< of the blocked thread, empty where unavailable
  /// to_string — the report as one human-readable text (what the default handler prints on
  /// stderr). Any thread; throws std::bad_alloc only.
  std::string to_string() const;
};

namespace detail {
// FIBERBRIDGE_SLOW_FIBER_MS from the environment, else 100 ms.
std::chrono::milliseconds default_slow_fiber_threshold() noexcept;
}  // namespace detail

/// RuntimeOptions — the shape of a Runtime: a plain value, read once by the Runtime constructor.
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
  /// Spawns from outside the runtime (plain threads, other runtimes' fibers) that may wait to
  /// be turned into fibers. Beyond it a spawning plain thread waits until a scheduler thread
  /// drains them (backpressure; a fiber of another runtime yields meanwhile). They drain as
  /// soon as any scheduler thread switches, so only fibers that never yield can hold them up.
  /// 0 counts as 1.
  std::size_t inbox_capacity = 65536;
  /// ~Runtime prints to stderr how many fibers it still waits for after this grace period
  /// (fibers blocked forever on a raw Boost.Fiber primitive are the user's bug).
  unsigned shutdown_grace_ms = 5000;
  /// Blocking-call detector: a fiber that runs this long without switching is reported once
  /// (see SlowFiberReport). 0 turns it off. Default: FIBERBRIDGE_SLOW_FIBER_MS, else 100 ms.
  /// Cost on the switch path: three relaxed stores per switch, no clock read. The same sampler
  /// (every threshold/5, 2-100 ms) hands fibers queued behind a fiber that does not switch to
  /// an idle scheduler thread; with 0, such fibers wait until that fiber switches (an idle
  /// thread is otherwise woken for a queued batch only once it has waited 50 µs and its thread
  /// switches).
  std::chrono::milliseconds slow_fiber_threshold{detail::default_slow_fiber_threshold()};
  /// Where reports go; empty = one report on stderr. Called on the watchdog thread (not on the
  /// blocked one), with the watchdog's lock held: it must not block for long (other runtimes'
  /// reports wait meanwhile) and must not destroy a Runtime. Exceptions it throws are dropped.
  std::function<void(const SlowFiberReport&)> on_slow_fiber{};
};

/// RuntimeMetrics — a snapshot of counters (each per thread, relaxed: the sums are not one
/// atomic picture, and reading them never stops the runtime). A plain value returned by
/// Runtime::metrics().
struct RuntimeMetrics {
  unsigned threads = 0;                  ///< scheduler threads
  std::uint64_t live_fibers = 0;         ///< spawned and not yet finished
  std::uint64_t spawned = 0;             ///< fibers spawned since the runtime started
  std::uint64_t steals = 0;              ///< fibers one scheduler thread took from another's queue
  std::uint64_t parks = 0;               ///< times a scheduler thread went to sleep (nothing to run)
  std::uint64_t unparks = 0;             ///< times a sleeping scheduler thread was woken for work
  std::uint64_t switches = 0;            ///< fiber switches decided by the scheduler
  std::uint64_t io_completions = 0;      ///< use_fiber operations completed for this runtime's fibers
  std::uint64_t slow_fiber_reports = 0;  ///< SlowFiberReports made
  std::vector<std::size_t> ready_per_thread;  ///< fibers queued to run, per scheduler thread
  // The process (shared by every runtime):
  std::size_t sync_thread_queue = 0;         ///< bodies waiting for the sync thread (rule 5)
  std::size_t thread_sensitive_threads = 0;  ///< threads of ThreadSensitiveContexts alive
  std::size_t pool_threads = 0;              ///< blocking-pool threads (busy + idle)
  std::size_t pool_busy = 0;                 ///< blocking-pool threads running a body
  std::size_t pool_idle = 0;                 ///< blocking-pool threads parked, waiting for work
  std::size_t pool_queued = 0;               ///< non-thread-sensitive bodies waiting for a pool thread
};

/// SpawnOptions — a name for the fiber, shown by Runtime::dump and slow-fiber reports, with the
/// place of the spawn call (captured where the options are written), as in
/// `rt.spawn({.name = "db-writer"}, write_loop, conn)`. A plain value.
struct SpawnOptions {
  std::string name;  ///< the fiber's name; empty = none
  std::source_location where = std::source_location::current();  ///< the spawn call's place
};

/// Runtime — scheduler threads running fibers; non-copyable, non-movable. `~Runtime` requests a stop on every fiber still running
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
  /// A runtime with the default RuntimeOptions (hardware_concurrency threads). Any thread or
  /// fiber; throws std::system_error if a thread cannot be started, std::bad_alloc.
  Runtime();
  /// A runtime of the given shape; starts its scheduler threads now. Any thread or fiber;
  /// throws std::system_error if a thread cannot be started, std::bad_alloc.
  explicit Runtime(RuntimeOptions options);
  /// Stops and joins the runtime as described above. Call it on a plain thread, or on one of its
  /// own fibers (then it returns at once); does not throw.
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  /// default_runtime — the process-wide runtime, created lazily on first use
  /// (hardware_concurrency threads). It is never destroyed before exit; at exit remaining
  /// fibers are stopped with a bounded wait. Any thread or fiber; throws what the constructor
  /// throws on first use.
  static Runtime& default_runtime();

  /// threads — the number of scheduler threads. Any thread; does not throw.
  unsigned threads() const noexcept;

  /// io_executor — the executor of this runtime's Asio I/O context (created on first use).
  /// With <fiberbridge/asio.hpp>, Asio operations started on a fiber with `use_fiber` suspend
  /// only that fiber. The context is driven by this runtime's scheduler threads (no thread of
  /// its own). Callable from any thread; throws std::system_error if the I/O context cannot be
  /// created (no epoll or eventfd descriptor left).
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
    return spawn_body<R>(nullptr, std::forward<F>(f), std::forward<A>(a)...);
  }

  /// spawn with a name (and the call's source location) for dump() and slow-fiber reports.
  /// Otherwise the same as spawn(F&&, A&&...): any thread or fiber, the same exceptions.
  template <class F, class... A>
  Task<std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>> spawn(SpawnOptions options, F&& f, A&&... a) {
    using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<A>...>;
    return spawn_body<R>(std::make_unique<detail::SpawnLabel>(detail::SpawnLabel{
                             std::move(options.name), options.where.file_name(), options.where.line()}),
                         std::forward<F>(f), std::forward<A>(a)...);
  }

  /// metrics — a snapshot of this runtime's counters and the process's bridge threads. Any
  /// thread, any time; never stops the runtime. Throws std::bad_alloc only.
  RuntimeMetrics metrics() const;

  /// dump — writes every live fiber: id, name and spawn site (else the callable's type), state
  /// (running on which thread, ready, waiting in sync_to_async and for which thread, in
  /// Task::get, in a use_fiber operation, in async_to_sync, or suspended in a Boost.Fiber wait
  /// or sleep) and for how long, like Go's goroutine dump. Any thread, any time; throws what
  /// writing to `out` throws.
  void dump(std::ostream& out) const;

  /// @cond INTERNAL
  class Impl;  // the runtime's state (src/runtime.cpp)
  /// @endcond

 private:
  // The body runs inside the state (detail::TaskBody), built at the top of the new fiber's
  // stack when it is small; the fiber's entry gets one pointer.
  template <class R, class F, class... A>
  Task<R> spawn_body(std::unique_ptr<detail::SpawnLabel> label, F&& f, A&&... a) {
    using Body = detail::TaskBodyOf<R, F, A...>;
    const detail::SpawnStack stack = take_stack(sizeof(Body), alignof(Body));
    detail::DropStackUnlessSpawned guard{stack.home};
    auto state = detail::make_task_body<R>(stack, std::forward<F>(f), std::forward<A>(a)...);
    state->label = std::move(label);
    guard.home = nullptr;  // spawn_impl owns the fiber's hold on the stack from here
    spawn_impl(state, detail::unique_function([st = state.get()] { st->invoke(); }), stack);
    return Task<R>(std::move(state));
  }

  friend struct detail::RuntimeAccess;
  explicit Runtime(std::unique_ptr<Impl> impl) noexcept;  // the stand-in of a self-destroyed runtime
  // A stack for a new fiber, with room at its top for a task state of `size` bytes when it
  // fits (std::bad_alloc).
  detail::SpawnStack take_stack(std::size_t size, std::size_t align);
  // Spawns; owns the fiber's hold on `stack` (given back if it throws).
  void spawn_impl(boost::intrusive_ptr<detail::TaskStateBase> state, detail::unique_function body,
                  detail::SpawnStack stack);
  std::unique_ptr<Impl> impl_;
};

/// in_fiber — true while running on a fiber of some Runtime; false on plain threads, including
/// a thread parked in async_to_sync that is running routed sync work. Any thread; no throw.
bool in_fiber() noexcept;

/// current_runtime — the Runtime of the current fiber, or nullptr off a runtime fiber. Any
/// thread; does not throw.
Runtime* current_runtime() noexcept;

namespace detail {
// The runtime `spawn()` uses: the current fiber's runtime, else the default runtime.
Runtime& spawn_runtime();
}  // namespace detail

/// spawn — like Runtime::spawn on the current fiber's runtime, else on default_runtime().
/// Any thread or fiber; throws what Runtime::spawn throws.
template <class F, class... A>
auto spawn(F&& f, A&&... a) {
  return detail::spawn_runtime().spawn(std::forward<F>(f), std::forward<A>(a)...);
}
/// spawn with a name — like Runtime::spawn(SpawnOptions, ...) on the runtime spawn() would use.
/// Any thread or fiber; throws what Runtime::spawn throws.
template <class F, class... A>
auto spawn(SpawnOptions options, F&& f, A&&... a) {
  return detail::spawn_runtime().spawn(std::move(options), std::forward<F>(f), std::forward<A>(a)...);
}

}  // namespace fiberbridge
