// detail/task_state.hpp — the state a spawned fiber shares with its Task handle and waiters.
//
// One block per spawn: the state holds its own reference count (boost::intrusive_ptr), the
// fiber's body (TaskBody), the fiber's starting context (in `context_storage_`, with the
// shared_ptr control block that hands it to the fiber: src/task_context.cpp) and a stop source
// created only when somebody asks for a std::stop_token. A spawned state of up to
// kStateInStackMax bytes is built at the top of the fiber's own stack (no allocation); that
// stack then goes back to the pool only when the state's last reference does (`stack_home`).
//
// Invariants:
//  * `finish()` is called exactly once, by the fiber, after the value (if any) is stored;
//    after it `ready()` is true and the value/exception never change.
//  * `lock_` (a Boost.Fiber spinlock, held for a few stores) guards the waiter lists. Fiber
//    waiters are `JoinWaiter` records on the waiting fibers' own stacks, woken through a Boost
//    waker (epoch-checked: a late wake of a fiber that already left is a no-op) under `lock_`,
//    so a waiter cannot leave (and its record go) while a waker still touches it. Plain-thread
//    waiters are callbacks (`first_waiter_`, then `thread_waiters_`), run once, outside the
//    lock, after `ready_` is set.
//  * Stop: `request_stop` is sticky and idempotent. The requested bit lives in `stop_bits_`;
//    the std::stop_source is made by the first `stop_token()` and published with a CAS; a stop
//    requested before or during that creation is applied by the creator (see task_stop.cpp).
//    The task's own fiber, while it waits in a join, is woken by `request_stop` through
//    `stop_waiter_` (no stop source needed for that): under this task's lock and then, tried
//    without waiting (two tasks may join each other), the awaited task's. While it waits in a
//    sync_to_async call or a use_fiber operation it is woken through `stop_hook_` (`StopHook`,
//    src/detail/stop_watch.hpp), under this task's lock.
#pragma once

// Not used here any more (the join has no condition variable), but fiberbridge.hpp has always
// brought Boost.Fiber's condition variable and this_fiber operations with it: kept for users.
#include <boost/fiber/condition_variable.hpp>
#include <boost/fiber/detail/spinlock.hpp>
#include <boost/fiber/waker.hpp>
#include <boost/intrusive/list_hook.hpp>
#include <boost/smart_ptr/intrusive_ptr.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <stop_token>
#include <string>
#include <tuple>
#include <typeinfo>
#include <type_traits>
#include <utility>
#include <vector>

#include "fiberbridge/detail/unique_function.hpp"

namespace fiberbridge::detail {

// What a named spawn said about the fiber (Runtime::spawn(SpawnOptions, ...)).
struct SpawnLabel {
  std::string name;
  const char* file = nullptr;
  unsigned line = 0;
};

class TaskStateBase;
struct ExecState;

// The largest task state (body included) built in the fiber's stack; larger ones are allocated.
inline constexpr std::size_t kStateInStackMax = 1024;

// A fiber stack taken for one spawn (src/scheduler/stack_pool.hpp, StackHome) and the room at its
// top for the task state, or nullptr when the state does not fit there.
struct SpawnStack {
  void* home = nullptr;
  void* place = nullptr;
};
// A StackHome's holds (src/task.cpp): a task state in the stack holds it until its last reference.
void hold_stack(void* home) noexcept;
void drop_stack(void* home) noexcept;
// Gives back the fiber's hold on a stack taken for a spawn that did not happen.
struct DropStackUnlessSpawned {
  void* home;
  ~DropStackUnlessSpawned() {
    if (home != nullptr) drop_stack(home);
  }
};

// A fiber waiting for a task, on that fiber's stack. `linked` (under the awaited task's lock):
// in that task's list, which also means suspended, since the fiber holds the lock until it is
// switched out. Only a linked waiter is ever woken, so no wake reaches a running fiber.
struct JoinWaiter {
  boost::fibers::waker waker;
  TaskStateBase* target = nullptr;  // the awaited task
  JoinWaiter* next = nullptr;
  bool linked = false;
};

class TaskStateBase {
 public:
  TaskStateBase() noexcept = default;
  TaskStateBase(const TaskStateBase&) = delete;
  TaskStateBase& operator=(const TaskStateBase&) = delete;
  virtual ~TaskStateBase();

  // boost::intrusive_ptr's hooks (found by argument-dependent lookup).
  friend void intrusive_ptr_add_ref(TaskStateBase* s) noexcept { s->refs_.fetch_add(1, std::memory_order_relaxed); }
  friend void intrusive_ptr_release(TaskStateBase* s) noexcept {
    if (s->refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (void* home = s->stack_home) {  // built in its fiber's stack: end it, then let the stack go
      s->~TaskStateBase();
      drop_stack(home);
    } else {
      delete s;
    }
  }

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
  // Moves the exception out, so the consumer drops the last reference to it (on its own
  // thread). Only after ready(): the exception never changes then.
  std::exception_ptr take_error() noexcept { return std::move(error_); }

  // Sticky and idempotent; any thread. Stops the token if one was made, and wakes the task's
  // own fiber if it waits in a join.
  void request_stop() noexcept;
  bool stop_requested() const noexcept { return (stop_bits_.load(std::memory_order_acquire) & kStopRequested) != 0; }
  // The task's std::stop_token; the first call makes the stop source (throws std::bad_alloc).
  std::stop_token stop_token();
  // What wakes the task's own fiber when the task is stopped while the fiber waits outside a
  // join (a sync_to_async call, a use_fiber operation), without a stop source: `request_stop` calls `wake(hook)`
  // after setting the stop bit, under this task's lock, so a hook removed by
  // `set_stop_hook(nullptr)` is never called afterwards. One at a time (the fiber's own wait).
  struct StopHook {
    void (*wake)(StopHook* self) noexcept;
  };
  void set_stop_hook(StopHook* hook) noexcept;

  // Runs `fn` once the state is ready (at once, on this thread, if it already is).
  // Returns an id for `remove_on_ready`, or 0 when `fn` already ran.
  std::uint64_t on_ready(unique_function fn);
  void remove_on_ready(std::uint64_t id);
  // Whether `finish` is done with the ready callbacks it took (an acquire of its last touch of
  // them): then what they captured (a waiting thread's frame, which it reuses only when nobody
  // else holds it) is released. A waiter sees ready() as soon as it is set, before the
  // callbacks even ran. No wait: a finishing thread that shares our CPU was preempted by the
  // very wake-up its callback made, and spinning until it ran again cost 1.7 us per
  // async_to_sync pinned (P4 12.3 -> 10.5 us without it), where a missed reuse costs one
  // allocation; on another CPU it is done by the time the wake-up reaches us. Any thread.
  bool callbacks_done() const noexcept;

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
  // The StackHome of the fiber stack this state was built in (holding it), or nullptr when the
  // state is on the heap.
  void* stack_home = nullptr;

  // The fiber's starting context lives here (src/context/task_context.cpp): a ContextData and the
  // control block of the shared_ptr the fiber's scope holds; sizes checked there (a ContextData
  // is 64 bytes on x86-64 glibc; the margin is for larger std::mutex types, such as aarch64's).
  static constexpr std::size_t kContextStorage = 12 * sizeof(void*);
  static constexpr std::size_t kAnchorStorage = 6 * sizeof(void*);
  alignas(std::max_align_t) unsigned char context_storage_[kContextStorage];
  alignas(std::max_align_t) unsigned char anchor_storage_[kAnchorStorage];
  bool context_made_ = false;

 private:
  static constexpr std::uint8_t kStopRequested = 1, kSourceCreating = 2, kSourceReady = 4;
  void wake_stop_waiter() noexcept;
  void wake_stop_hook() noexcept;

  std::atomic<unsigned> refs_{0};
  std::atomic<bool> ready_{false};
  std::atomic<bool> firing_{false};  // finish() runs or destroys the ready callbacks
  std::atomic<std::uint8_t> stop_bits_{0};
  boost::fibers::detail::spinlock lock_;
  JoinWaiter* waiters_ = nullptr;      // fibers joining this task
  JoinWaiter* stop_waiter_ = nullptr;  // this task's own fiber while it waits in a join
  StopHook* stop_hook_ = nullptr;      // this task's own fiber while it waits in a bridge or I/O
  std::stop_source stop_{std::nostopstate};
  std::exception_ptr error_;
  std::uint64_t next_id_ = 1;
  // Plain-thread waiters: the first inline (an async_to_sync or a Task::get from a plain thread
  // has one: no allocation), more in the vector.
  std::uint64_t first_waiter_id_ = 0;  // 0: the slot is free
  unique_function first_waiter_;
  std::vector<std::pair<std::uint64_t, unique_function>> thread_waiters_;

  friend bool fiber_wait_until(TaskStateBase&, ExecState&, std::chrono::steady_clock::time_point);
  friend class JoinRegistration;
};

template <class R>
class TaskState : public TaskStateBase {
 public:
  std::optional<R> value;
};

template <>
class TaskState<void> : public TaskStateBase {};

// The state of a spawned fiber with its body (the callable and the decay-copied arguments)
// inside: one block per spawn whatever the body's size. `invoke` runs on the fiber and destroys
// the body before the task is reported finished, so what it captured is released before a
// joiner wakes (as when the body was a closure of its own).
template <class R, class Fn, class Args>
class TaskBody final : public TaskState<R> {
 public:
  TaskBody(Fn&& fn, Args&& args) : body_(std::in_place, std::move(fn), std::move(args)) {}

  void invoke() {
    struct Drop {
      std::optional<Body>& body;
      ~Drop() { body.reset(); }
    } drop{body_};
    if constexpr (std::is_void_v<R>) {
      std::apply(std::move(body_->fn), std::move(body_->args));
    } else {
      this->value.emplace(std::apply(std::move(body_->fn), std::move(body_->args)));
    }
  }

 private:
  struct Body {
    Body(Fn&& f, Args&& a) : fn(std::move(f)), args(std::move(a)) {}
    Fn fn;
    Args args;
  };
  std::optional<Body> body_;
};

// A new spawned state holding `f` and `a...` (decay-copied), with one reference held by the
// returned pointer: in `where.place` (holding the stack) when there is one, else on the heap.
// Throws std::bad_alloc and what copying the arguments throws.
template <class R, class F, class... A>
using TaskBodyOf = TaskBody<R, std::decay_t<F>, std::tuple<std::decay_t<A>...>>;
template <class R, class F, class... A>
boost::intrusive_ptr<TaskBodyOf<R, F, A...>> make_task_body(const SpawnStack& where, F&& f, A&&... a) {
  using Body = TaskBodyOf<R, F, A...>;
  Body* body = where.place != nullptr
                   ? new (where.place) Body(std::decay_t<F>(std::forward<F>(f)), std::tuple<std::decay_t<A>...>(std::forward<A>(a)...))
                   : new Body(std::decay_t<F>(std::forward<F>(f)), std::tuple<std::decay_t<A>...>(std::forward<A>(a)...));
  if (where.place != nullptr) {
    body->stack_home = where.home;
    hold_stack(where.home);
  }
  boost::intrusive_ptr<Body> state(body);
  state->callable = &typeid(std::decay_t<F>);
  return state;
}

// A new state with one reference held by the returned pointer (std::bad_alloc).
template <class R>
boost::intrusive_ptr<TaskState<R>> make_task_state() {
  return boost::intrusive_ptr<TaskState<R>>(new TaskState<R>());
}

}  // namespace fiberbridge::detail
