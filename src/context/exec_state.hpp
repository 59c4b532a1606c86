// context/exec_state.hpp — what every fiber and every OS thread carries: its current context
// variables, its routing state and its stop token.
//
// Owns: `ExecState`. A runtime fiber's lives in its entry frame and is reached through the
// fiber's scheduler record (FiberProps), so it follows the fiber when it migrates (thread_local
// would not); a plain thread's is a thread_local; other fibers (Boost.Fiber fibers a user
// created) keep theirs in Boost fiber-specific storage.
//
// Invariants:
//  * `Scope` is the part that travels (asgiref keeps it in contextvars): `spawn` snapshots it
//    into the child, a sync_to_async body runs in a copy of the caller's, the fiber of an
//    async_to_sync gets a copy of the calling thread's plus a new frame. A new std::thread
//    starts with an empty one.
//  * Running a body on a thread swaps the thread's Scope out and back (`ScopeSwap`); the
//    thread-critical locals (`tcl`) are never swapped: they belong to the thread or fiber.
//  * A ContextData's map is immutable; setting a variable replaces the map (copy-on-write)
//    under the ContextData's mutex, so another thread may read a consistent snapshot (used by
//    the copy-back after a cancelled call while the body still runs).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fiberbridge/detail/task_state.hpp"

namespace fiberbridge {
class Runtime;
}

namespace fiberbridge::detail {

class CurrentThreadExecutor;
class SyncExecutor;

// An immutable, sorted map from variable key to value.
struct VarMap {
  std::vector<std::pair<std::uint64_t, std::shared_ptr<const void>>> entries;
  const std::shared_ptr<const void>* find(std::uint64_t key) const;
};

struct ContextData {
  mutable std::mutex m;
  std::shared_ptr<const VarMap> map;  // null = empty
  std::atomic<bool> entered{false};   // Context::run in progress

  std::shared_ptr<const VarMap> snapshot() const {
    std::lock_guard g(m);
    return map;
  }
  void replace(std::shared_ptr<const VarMap> next) {
    std::lock_guard g(m);
    map = std::move(next);
  }
  // A new holder sharing this one's snapshot (Python's Context.copy()).
  std::shared_ptr<ContextData> copy() const;
};

// Rule-4 bookkeeping: "this call chain holds executor `target` while `active`".
// `active` is cleared by the call's body when it ends (one allocation for the record and the
// flag: the call and every scope of its chain share the record).
struct Hold {
  Hold(const SyncExecutor* t, std::shared_ptr<const Hold> n) noexcept : target(t), next(std::move(n)) {}
  const SyncExecutor* target;
  mutable std::atomic<bool> active{true};
  std::shared_ptr<const Hold> next;
};

struct RoutingState {
  std::shared_ptr<CurrentThreadExecutor> frame;  // rule 1: nearest async_to_sync frame
  std::shared_ptr<SyncExecutor> sensitive;       // rule 2: active ThreadSensitiveContext's thread
  std::shared_ptr<const Hold> holds;             // rule 4
};

struct Scope {
  std::shared_ptr<ContextData> context;  // never null once the state exists
  RoutingState routing;
  std::stop_token stop;                  // of the body's awaiting call (or of a coroutine)
  Runtime* outer_runtime = nullptr;      // while a sync body runs: the awaiting fiber's runtime
  // A runtime fiber's own task, which holds its stop state (made lazily: `stop` stays empty).
  // Set only in the fiber's entry frame, which the task outlives; child and body scopes are
  // built fresh, never copied from a fiber's.
  TaskStateBase* task = nullptr;
  // A fiber sync_to_async body's: the calling fiber's task, held (a cancelled caller's body
  // runs on after the task may have ended), whose stop is the body's. Its std::stop_source is
  // made only if the body asks for a token, so a call costs none (`stop` stays empty).
  boost::intrusive_ptr<TaskStateBase> caller_task;

  // The task whose stop this scope sees, or nullptr (then `stop` is the scope's).
  TaskStateBase* stop_owner() const noexcept { return task != nullptr ? task : caller_task.get(); }
  bool stop_requested() const noexcept {
    TaskStateBase* t = stop_owner();
    return t != nullptr ? t->stop_requested() : stop.stop_requested();
  }
  // A real token (for stop_callback or a body): makes the task's stop source on first use
  // (std::bad_alloc).
  std::stop_token stop_token() const {
    TaskStateBase* t = stop_owner();
    return t != nullptr ? t->stop_token() : stop;
  }
};

struct ExecState {
  Scope scope;
  // Runtime fibers only: the runtime's own slot holding its address (re-pointed to a stand-in
  // when a fiber destroys its runtime, see ~Runtime), so that a fiber never reads a stale one.
  const std::atomic<Runtime*>* runtime_slot = nullptr;
  Runtime* runtime() const noexcept {
    return runtime_slot != nullptr ? runtime_slot->load(std::memory_order_acquire) : nullptr;
  }
  std::unordered_map<std::uint64_t, std::shared_ptr<void>> tcl;
  bool owned_by_storage = false;  // created by current_state(); freed by the storage
};

// The current fiber's (or plain thread's) state, created empty on first use.
ExecState& current_state();
// The current runtime fiber's state, or nullptr off a runtime fiber (in_fiber() is this not
// being null): one lookup where a caller needs both the answer and the state.
ExecState* runtime_fiber_state() noexcept;
// Installs `state` for the current fiber; used when a runtime fiber starts. Borrowed: the
// caller (the fiber's entry frame) keeps it alive until drop_state().
void install_state(ExecState& state);
// Installs `state` as the current context's for the guard's lifetime: a scheduler thread's
// dispatcher running a reactor's handlers (src/asio/) gets the reactor's own state, whichever
// thread drives it. Elsewhere (no scheduler record to hang it on) it does nothing.
class StateOverride {
 public:
  explicit StateOverride(ExecState& state) noexcept;
  ~StateOverride();
  StateOverride(const StateOverride&) = delete;
  StateOverride& operator=(const StateOverride&) = delete;

 private:
  void* record_;  // the context's FiberProps, or null
  void* saved_;
};
// Uninstalls (and frees, if it owns it) the current fiber's state now (a fiber does it before
// reporting completion).
void drop_state();

// A snapshot of the current scope for a child: same routing, a fresh holder of the same
// context snapshot (the child's changes never leak back).
Scope inherit_scope();
// The same for a spawned fiber, without an allocation: the context snapshot is stored in the
// child's task state (`seed_task_context`) and the returned scope has no context; the fiber's
// entry frame then takes `task_context(task)` (src/context/task_context.cpp).
Scope inherit_scope_into(TaskStateBase& task);
void seed_task_context(TaskStateBase& task, std::shared_ptr<const VarMap> map) noexcept;
// The task's context as a shared_ptr whose control block lives in the task state too and holds
// a reference to it (weak_ptrs, such as a Token's, keep only the memory). Once per task.
std::shared_ptr<ContextData> task_context(TaskStateBase& task) noexcept;

// Runs a sync body's scope on this thread for the lifetime of the guard.
class ScopeSwap {
 public:
  explicit ScopeSwap(Scope scope) : state_(current_state()), saved_(std::exchange(state_.scope, std::move(scope))) {}
  ~ScopeSwap() { state_.scope = std::move(saved_); }
  ScopeSwap(const ScopeSwap&) = delete;
  ScopeSwap& operator=(const ScopeSwap&) = delete;

 private:
  ExecState& state_;
  Scope saved_;
};

// Copies every variable of `after` that is new or different from `before` into `into`
// (asgiref's _restore_context: never removes one).
void copy_back(const std::shared_ptr<const VarMap>& before, const std::shared_ptr<const VarMap>& after,
               ContextData& into);

}  // namespace fiberbridge::detail
