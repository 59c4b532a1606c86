// bridge/sync_job.hpp — the body's side of one sync_to_async call, shared by the fiber variant
// (bridge/sync_to_async.cpp) and the coroutine variant (coro/coro_bridge.cpp).
//
// `SyncBody` is what the thread that runs the body needs; `SyncJob<Control>` is the work item
// handed to the routed executor. Running it swaps the body's scope onto the running thread,
// invokes the body with its stop token and reports the outcome to `Control::body_done`. A job
// that an executor destroys without running it reports an error instead, so the caller never
// waits forever — unless the router took it back to resubmit it elsewhere (`resubmitting`).
#pragma once

#include <atomic>
#include <exception>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <string>

#include "context/exec_state.hpp"
#include "fiberbridge/sync_to_async.hpp"

namespace fiberbridge::detail {

struct SyncBody {
  std::shared_ptr<SyncCallBase> call;
  Scope body_scope;  // moved onto the body's thread when it starts
  std::shared_ptr<ContextData> body_context;
  std::stop_source body_stop;
  std::shared_ptr<std::atomic<bool>> hold;  // rule 4, when the target is a single thread
  std::atomic<bool> resubmitting{false};    // a job destroyed now was refused, not dropped
};

// Control: derives from SyncBody; has `void body_done(std::exception_ptr) noexcept` and
// `static constexpr const char* kBridgeName` (named in the "destroyed without running" error).
template <class Control>
class SyncJob {
 public:
  explicit SyncJob(std::shared_ptr<Control> ctl) : ctl_(std::move(ctl)) {}
  SyncJob(SyncJob&&) noexcept = default;
  SyncJob& operator=(SyncJob&&) = delete;
  ~SyncJob() {
    if (ctl_ && !ctl_->resubmitting.load(std::memory_order_acquire))
      ctl_->body_done(std::make_exception_ptr(std::runtime_error(
          std::string("fiberbridge: the executor destroyed a ") + Control::kBridgeName + " call without running it")));
  }
  void operator()() {
    std::shared_ptr<Control> ctl = std::move(ctl_);
    std::exception_ptr error;
    {
      ScopeSwap swap(std::move(ctl->body_scope));
      try {
        ctl->call->invoke(ctl->body_stop.get_token());
      } catch (...) {
        error = std::current_exception();
      }
    }
    ctl->body_done(std::move(error));
  }

 private:
  std::shared_ptr<Control> ctl_;
};

}  // namespace fiberbridge::detail
