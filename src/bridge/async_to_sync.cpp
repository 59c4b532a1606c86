// bridge/async_to_sync.cpp — a plain thread runs fiber code and serves routed work meanwhile.
//
// The calling thread creates a frame (CurrentThreadExecutor) linked to the frame chain of its
// current scope, spawns the fiber with a copy of its scope plus that frame, and parks in the
// frame until the fiber is done and no routed work is pending. A stop of the enclosing
// sync_to_async call (the body's stop token) is forwarded into the fiber's task.
#include <memory>
#include <optional>

#include "bridge/current_thread_executor.hpp"
#include "bridge/private_loop.hpp"
#include "context/exec_state.hpp"
#include "fiberbridge/async_to_sync.hpp"
#include "fiberbridge/errors.hpp"
#include "fiberbridge/runtime.hpp"
#include "runtime_impl.hpp"

namespace fiberbridge::detail {

namespace {
struct ForwardStop {
  TaskStateBase* task;
  void operator()() noexcept { task->request_stop(); }
};
}  // namespace

void run_async_call(unique_function body, const AsyncToSyncOptions& options) {
  if (in_fiber()) throw AsyncToSyncInFiberError();
  ExecState& state = current_state();  // a plain thread's state (perhaps a body's scope)

  // Where the fiber runs (API.md): the outer fiber's runtime, this thread's
  // AsyncSingleThreadContext, a fresh private scheduler, options.runtime, the default runtime.
  std::unique_ptr<Runtime> fresh;
  Runtime* target = nullptr;
  bool private_loop = false;
  if (!options.force_new_loop && state.scope.outer_runtime != nullptr) {
    target = state.scope.outer_runtime;
  } else if (Runtime* single = AsyncSingleThread::current_runtime()) {
    target = single;
    private_loop = true;
  } else if (options.force_new_loop) {
    fresh = std::make_unique<Runtime>(RuntimeOptions{.threads = 1, .name = "fb-newloop"});
    target = fresh.get();
    private_loop = true;
  } else {
    target = options.runtime != nullptr ? options.runtime : &Runtime::default_runtime();
  }

  auto frame = std::make_shared<CurrentThreadExecutor>(state.scope.routing.frame);
  std::shared_ptr<CurrentThreadExecutor> previous_owner;
  if (private_loop) {
    previous_owner = RuntimeAccess::loop_owner(*target);
    RuntimeAccess::set_loop_owner(*target, frame);  // rule 3
  }

  Scope seed;
  seed.context = state.scope.context->copy();
  seed.routing = state.scope.routing;
  seed.routing.frame = frame;
  const std::shared_ptr<const VarMap> before = seed.context->snapshot();
  const std::shared_ptr<ContextData> fiber_context = seed.context;

  auto task = std::make_shared<TaskState<void>>();
  // Linked before the spawn: a stop of the enclosing body that lands meanwhile reaches the fiber
  // before it starts, not only after the outer caller was released.
  std::stop_callback<ForwardStop> forward(state.scope.stop, ForwardStop{task.get()});
  try {
    RuntimeAccess::spawn(*target, task, std::move(body), std::move(seed));
  } catch (...) {
    if (private_loop) RuntimeAccess::set_loop_owner(*target, previous_owner);
    throw;
  }
  {
    (void)task->on_ready([frame] { frame->wake(); });
    frame->run_until([&task] { return task->ready(); }, std::chrono::steady_clock::time_point::max(),
                     /*close_when_done=*/true);
  }
  copy_back(before, fiber_context->snapshot(), *state.scope.context);
  if (private_loop) RuntimeAccess::set_loop_owner(*target, previous_owner);
  fresh.reset();  // like asyncio.run: stops and joins the fibers the call left behind
  if (auto error = task->take_error()) std::rethrow_exception(std::move(error));
}

}  // namespace fiberbridge::detail
