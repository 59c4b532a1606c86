// detail/task_state.hpp — the state a spawned fiber shares with its Task handle and waiters.
//
// Invariants:
//  * `finish()` is called exactly once, by the fiber, after the value (if any) is stored;
//    after it `ready()` is true and the value/exception never change.
//  * Waiters are fibers (suspended on `cv_`, woken under `m_` so a waiter cannot free the
//    state while the notifier still touches it) and plain threads (a callback in
//    `thread_waiters_`, run once after `ready_` is set).
//  * The stop source is the task's cancellation state; `request_stop` is sticky and idempotent.
#pragma once

#include <boost/fiber/condition_variable.hpp>
#include <boost/intrusive/list_hook.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <typeinfo>
#include <type_traits>
#include <vector>

#include "fiberbridge/detail/unique_function.hpp"

namespace fiberbridge::detail {

// What a named spawn said about the fiber (Runtime::spawn(SpawnOptions, ...)).
struct SpawnLabel {
  std::string name;
  const char* file = nullptr;
  unsigned line = 0;
};

class TaskStateBase {
 public:
  TaskStateBase() = default;
  TaskStateBase(const TaskStateBase&) = delete;
  TaskStateBase& operator=(const TaskStateBase&) = delete;
  virtual ~TaskStateBase() = default;

  bool ready() const noexcept { return ready_.load(std::memory_order_acquire); }

  // Waits until ready or the deadline passes. On a fiber only the fiber suspends, and a stop
  // of the *waiting* fiber's task throws CancelledError. On a plain thread the thread parks
  // and serves the thread-sensitive work routed to it (see async_to_sync).
  bool wait_until(std::chrono::steady_clock::time_point deadline);
  void wait() { (void)wait_until(std::chrono::steady_clock::time_point::max()); }

  // Called by the fiber when it is done; `error` is null on success.
  void finish(std::exception_ptr error) noexcept;
  void rethrow_if_failed() const {
    if (error_) std::rethrow_exception(error_);
  }
  std::exception_ptr error() const noexcept { return error_; }
  // Moves the exception out, so the consumer drops the last reference to it (on its own thread).
  std::exception_ptr take_error() noexcept {
    std::lock_guard g(m_);
    return std::move(error_);
  }

  void request_stop() noexcept { stop_.request_stop(); }
  std::stop_token stop_token() const noexcept { return stop_.get_token(); }
  std::stop_source& stop_source() noexcept { return stop_; }

  // Runs `fn` once the state is ready (at once, on this thread, if it already is).
  // Returns an id for `remove_on_ready`, or 0 when `fn` already ran.
  std::uint64_t on_ready(unique_function fn);
  void remove_on_ready(std::uint64_t id);

  // Membership in the spawning runtime's registry of live fibers (src/detail/live_registry).
  boost::intrusive::list_member_hook<> live_hook;

  // Diagnostics (Runtime::dump, slow-fiber reports), set before the fiber is registered.
  const std::type_info* callable = nullptr;  // the spawned callable's type
  std::unique_ptr<SpawnLabel> label;         // named spawns only
  std::uint64_t fiber_id = 0;                // assigned by the runtime
  const char* role = nullptr;                // set when a bridge spawned it (e.g. "async_to_sync")
  // The fiber's scheduler record (src/scheduler/fiber_props.hpp) once it is launched; valid
  // while the task is in the live registry.
  std::atomic<void*> sched_record{nullptr};

 private:
  std::atomic<bool> ready_{false};
  std::exception_ptr error_;
  std::stop_source stop_;
  std::mutex m_;
  boost::fibers::condition_variable_any cv_;
  std::uint64_t next_id_ = 1;
  std::vector<std::pair<std::uint64_t, unique_function>> thread_waiters_;

  friend bool fiber_wait_until(TaskStateBase&, std::chrono::steady_clock::time_point);
};

template <class R>
class TaskState final : public TaskStateBase {
 public:
  std::optional<R> value;
};

template <>
class TaskState<void> final : public TaskStateBase {};

}  // namespace fiberbridge::detail
