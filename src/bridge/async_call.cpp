// bridge/async_call.cpp — see async_call.hpp.
#include "bridge/async_call.hpp"

#include "bridge/loop_owner.hpp"
#include "bridge/private_loop.hpp"

namespace fiberbridge::detail {

AsyncCall::AsyncCall(ExecState& caller, const AsyncToSyncOptions& options)
    : caller_(caller), frame_(CurrentThreadExecutor::acquire(caller.scope.routing.frame)) {
  if (!options.force_new_loop && caller.scope.outer_runtime != nullptr) {
    runtime_ = caller.scope.outer_runtime;
  } else if (Runtime* single = AsyncSingleThread::current_runtime()) {
    runtime_ = single;
    owns_loop_ = true;
  } else if (options.force_new_loop) {
    fresh_ = std::make_unique<Runtime>(RuntimeOptions{.threads = 1, .name = "fb-newloop"});
    runtime_ = fresh_.get();
    owns_loop_ = true;
  } else {
    runtime_ = options.runtime != nullptr ? options.runtime : &Runtime::default_runtime();
  }
  if (owns_loop_) previous_owner_ = exchange_loop_owner(*runtime_, frame_);  // rule 3
  callee_context_ = caller.scope.context->copy();
  before_ = callee_context_->snapshot();
}

Scope AsyncCall::callee_scope() const {
  Scope callee;
  callee.context = callee_context_;
  callee.routing = caller_.scope.routing;
  callee.routing.frame = frame_;
  return callee;
}

void AsyncCall::serve_until(const std::function<bool()>& done) {
  frame_->run_until(done, std::chrono::steady_clock::time_point::max(), /*close_when_done=*/true);
}

void AsyncCall::finish() {
  copy_back(before_, callee_context_->snapshot(), *caller_.scope.context);
  release();
}

void AsyncCall::release() {
  if (owns_loop_) {
    (void)exchange_loop_owner(*runtime_, std::move(previous_owner_));
    owns_loop_ = false;
  }
  fresh_.reset();
}

}  // namespace fiberbridge::detail
