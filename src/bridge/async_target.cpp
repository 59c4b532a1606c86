// bridge/async_target.cpp — see async_target.hpp.
#include "bridge/async_target.hpp"

#include "bridge/private_loop.hpp"
#include "runtime_impl.hpp"

namespace fiberbridge::detail {

AsyncTarget::AsyncTarget(const Scope& caller, const AsyncToSyncOptions& options,
                         std::shared_ptr<CurrentThreadExecutor> frame) {
  if (!options.force_new_loop && caller.outer_runtime != nullptr) {
    runtime_ = caller.outer_runtime;
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
  if (owns_loop_) {
    previous_owner_ = RuntimeAccess::loop_owner(*runtime_);
    RuntimeAccess::set_loop_owner(*runtime_, std::move(frame));  // rule 3
  }
}

void AsyncTarget::finish() {
  if (owns_loop_) {
    RuntimeAccess::set_loop_owner(*runtime_, std::move(previous_owner_));
    owns_loop_ = false;
  }
  fresh_.reset();
}

}  // namespace fiberbridge::detail
