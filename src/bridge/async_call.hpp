// bridge/async_call.hpp — the calling thread's side of one async_to_sync call, for both
// variants (bridge/async_to_sync.cpp: a fiber; coro/coro_bridge.cpp: a coroutine).
//
// Owns the call's frame (the CurrentThreadExecutor the calling thread serves while it waits,
// linked to the frame chain of its scope), the choice of where the callee runs (API.md, first
// match wins: the outer fiber's runtime when the calling thread runs a sync_to_async body and
// not force_new_loop; this thread's AsyncSingleThreadContext; a fresh private one-thread
// runtime with force_new_loop; options.runtime; the default runtime), and the callee's scope:
// a copy of the caller's context, copied back by finish(). For a private runtime the frame is
// the rule-3 loop owner (bridge/loop_owner.hpp) while the call runs.
#pragma once

#include <functional>
#include <memory>

#include "bridge/current_thread_executor.hpp"
#include "context/exec_state.hpp"
#include "fiberbridge/async_to_sync.hpp"
#include "fiberbridge/runtime.hpp"

namespace fiberbridge::detail {

class AsyncCall {
 public:
  // On the calling plain thread, whose state is `caller`. May throw (a fresh runtime).
  AsyncCall(ExecState& caller, const AsyncToSyncOptions& options);
  ~AsyncCall() {
    release();
    CurrentThreadExecutor::recycle(std::move(frame_));
  }
  AsyncCall(const AsyncCall&) = delete;
  AsyncCall& operator=(const AsyncCall&) = delete;

  Runtime& runtime() const noexcept { return *runtime_; }
  const std::shared_ptr<CurrentThreadExecutor>& frame() const noexcept { return frame_; }
  // The callee's scope: the context copy and the caller's routing state with this call's frame
  // on top; no stop token (each variant gives the callee its own).
  Scope callee_scope() const;
  // Serves routed work on this thread until `done()` holds (re-checked after every wake-up of
  // the frame), then closes the frame: later submissions go up the chain.
  void serve_until(const std::function<bool()>& done);
  // After the callee finished: copies its context changes back into the caller's, then
  // release(). Not called when the call failed before the callee ran.
  void finish();
  // Ends the call's claim: the previous loop owner comes back, and a fresh private runtime is
  // destroyed (like asyncio.run, stopping and joining what the call left behind). Idempotent.
  void release();

 private:
  ExecState& caller_;
  std::shared_ptr<CurrentThreadExecutor> frame_;
  std::unique_ptr<Runtime> fresh_;
  Runtime* runtime_ = nullptr;
  bool owns_loop_ = false;
  std::shared_ptr<CurrentThreadExecutor> previous_owner_;
  std::shared_ptr<ContextData> callee_context_;
  std::shared_ptr<const VarMap> before_;
};

}  // namespace fiberbridge::detail
