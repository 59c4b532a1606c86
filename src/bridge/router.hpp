// bridge/router.hpp — where a sync_to_async body runs: routing rules 1-5 in one place.
//
// For thread_sensitive calls, first match wins (asgiref's order, API.md):
//   1. the nearest async_to_sync frame of this call chain that is still waiting;
//   2. the thread of the active ThreadSensitiveContext;
//   3. the thread waiting on this private runtime (async_to_sync force_new_loop /
//      AsyncSingleThreadContext), while it waits;
//   4. WouldDeadlockError when the chosen single thread (rule 2 or 5) is held by this call
//      chain, i.e. a body of this chain runs there now and waits for us;
//   5. the process-wide sync thread.
// Non-thread-sensitive calls go to the user's Executor, else to the blocking pool.
#pragma once

#include <memory>

#include "bridge/current_thread_executor.hpp"
#include "context/exec_state.hpp"
#include "fiberbridge/sync_to_async.hpp"

namespace fiberbridge::detail {

struct Route {
  std::shared_ptr<CurrentThreadExecutor> frame;  // rules 1 and 3: submit along the frame chain
  std::shared_ptr<SyncExecutor> executor;        // otherwise
  Executor* user = nullptr;                      // a user executor (thread_sensitive == false)
  bool holdable() const noexcept { return !frame && executor && executor->single_threaded(); }
  const SyncExecutor* target() const noexcept { return executor.get(); }
  // Where the body runs, for Runtime::dump. Lives as long as the calling fiber's routing state
  // (the sync thread and the pool are never destroyed; a ThreadSensitiveContext's thread is
  // held by the routing state; the other names are literals).
  const char* name() const noexcept {
    if (frame) return frame->name();
    if (user != nullptr) return "a user Executor";
    return executor ? executor->name() : "?";
  }
};

// Picks the place for a call made with `options` by a fiber with routing state `routing` on
// runtime `runtime`. Throws WouldDeadlockError (rule 4).
Route choose_route(const SyncToAsyncOptions& options, const RoutingState& routing, Runtime* runtime);

// Submits `work` to `route`. Returns false when the chosen frame chain closed, or the chosen
// thread retired, meanwhile (choose again); throws what the executor throws (then `work` was not taken, or was dropped).
bool submit(Route& route, unique_function& work);

}  // namespace fiberbridge::detail
