// bridge/async_target.hpp — where an async_to_sync call (fiber or coroutine variant) runs.
//
// Owns the choice of API.md, first match wins: the outer fiber's runtime when the calling thread
// runs a sync_to_async body (and not force_new_loop); this thread's AsyncSingleThreadContext; a
// fresh private one-thread runtime with force_new_loop; options.runtime; the default runtime.
// For a private runtime it also makes the call's frame the rule-3 loop owner while the call runs.
#pragma once

#include <memory>

#include "bridge/current_thread_executor.hpp"
#include "context/exec_state.hpp"
#include "fiberbridge/async_to_sync.hpp"
#include "fiberbridge/runtime.hpp"

namespace fiberbridge::detail {

class AsyncTarget {
 public:
  AsyncTarget(const Scope& caller, const AsyncToSyncOptions& options, std::shared_ptr<CurrentThreadExecutor> frame);
  ~AsyncTarget() { finish(); }
  AsyncTarget(const AsyncTarget&) = delete;
  AsyncTarget& operator=(const AsyncTarget&) = delete;

  Runtime& runtime() const noexcept { return *runtime_; }
  // Ends the call's claim: the previous loop owner comes back, and a fresh private runtime is
  // destroyed (like asyncio.run, stopping and joining what the call left behind). Idempotent.
  void finish();

 private:
  std::unique_ptr<Runtime> fresh_;
  Runtime* runtime_ = nullptr;
  bool owns_loop_ = false;
  std::shared_ptr<CurrentThreadExecutor> previous_owner_;
};

}  // namespace fiberbridge::detail
