/// @file
/// fiberbridge/task.hpp — Task<R>: the handle of a fiber spawned on a Runtime (asyncio's Task).
///
/// @code
/// fb::Runtime rt;
/// fb::Task<int> t = rt.spawn([] { return 6 * 7; });
/// int v = t.get();  // a plain thread parks; a fiber suspends only itself
/// @endcode
///
/// A Task is move-only. Destroying it detaches: the fiber runs on, like an asyncio task that
/// nobody awaits. `get()` consumes the result (like std::future): afterwards the handle is empty.
/// Memory: a small task state (up to 1 KiB with the callable and the result) lives at the top
/// of the fiber's stack, so a finished fiber whose handle is still held keeps its stack until
/// `get()` or the handle's destruction (a joinable boost::fibers::fiber does the same). Keep
/// handles of finished tasks only as long as their results are needed.
/// Compiled from examples/headers/task.cpp.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <utility>

#include "fiberbridge/detail/task_state.hpp"

namespace fiberbridge {

class Runtime;

/// Task — the handle of a spawned fiber that returns R (void allowed): wait for it, take its
/// result or exception, or request its stop. Move-only. Its members may be called from any
/// thread or fiber; like std::future the object itself is not synchronised: do not move it,
/// assign it or call get() while another thread uses it. Destroying it detaches the fiber.
template <class R>
class Task {
 public:
  /// An empty handle (valid() == false).
  Task() noexcept = default;
  /// @cond INTERNAL
  explicit Task(boost::intrusive_ptr<detail::TaskState<R>> state) noexcept : state_(std::move(state)) {}  // Runtime::spawn
  /// @endcond
  /// Takes over the other handle, which becomes empty.
  Task(Task&&) noexcept = default;
  /// Takes over the other handle (which becomes empty); the fiber of the old one is detached.
  Task& operator=(Task&&) noexcept = default;
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  /// valid — false for a default-constructed or moved-from Task and after `get()`. No throw.
  bool valid() const noexcept { return state_ != nullptr; }

  /// get — waits for the fiber and returns its result, or rethrows its exception (the same
  /// object). On a fiber: suspends only this fiber; throws CancelledError if *this* fiber's task
  /// is stopped meanwhile. On a plain thread: parks the thread and, while parked, runs the
  /// thread-sensitive work routed to it. Throws std::logic_error on an empty handle.
  R get() {
    check_valid("get");
    state_->wait();
    auto state = std::move(state_);
    if (auto error = state->take_error()) std::rethrow_exception(std::move(error));
    if constexpr (!std::is_void_v<R>) return std::move(*state->value);
  }

  /// wait — like get() without consuming the result; does not rethrow the fiber's exception.
  /// Same threads and errors as get(): CancelledError on a stopped fiber, std::logic_error on an
  /// empty handle.
  void wait() {
    check_valid("wait");
    state_->wait();
  }

  /// wait_for — true when the task is ready within `d`, false on timeout; same waiting rules,
  /// threads and errors as wait().
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) {
    check_valid("wait_for");
    const auto now = std::chrono::steady_clock::now();
    // Compare in the caller's unit: converting hours::max() to nanoseconds would overflow.
    const auto limit = std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(
        std::chrono::steady_clock::time_point::max() - now);
    if (d >= limit) return state_->wait_until(std::chrono::steady_clock::time_point::max());
    return state_->wait_until(now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(d));
  }

  /// ready — true once the fiber has finished (value or exception). False on an empty handle.
  /// Never waits; any thread; no throw.
  bool ready() const noexcept { return state_ && state_->ready(); }

  /// request_stop — cooperative cancellation: sticky, idempotent, callable from any thread.
  /// The fiber sees it through `this_task::stop_requested()` and gets CancelledError at its next
  /// interruption point (a sync_to_async call, or Task::get/wait/wait_for on a fiber).
  void request_stop() noexcept {
    if (state_) state_->request_stop();
  }

 private:
  void check_valid(const char* what) const {
    if (!state_)
      throw std::logic_error(std::string("Task::") + what +
                             " on an empty Task (default-constructed, moved from, or get() already called)");
  }
  boost::intrusive_ptr<detail::TaskState<R>> state_;  // one block per spawn, counted inside
};

/// this_task — what the current fiber (or sync body) knows about its own cancellation.
namespace this_task {
/// stop_requested — true once the current task was stopped (sticky). Also true inside a
/// sync_to_async body whose awaiting fiber was stopped. False on a plain thread outside any body.
/// Any thread or fiber; no throw.
bool stop_requested() noexcept;
/// stop_token — the current task's stop token (an empty token on a plain thread). Any thread or
/// fiber; no throw.
std::stop_token stop_token() noexcept;
}  // namespace this_task

}  // namespace fiberbridge
