// bridge/async_to_sync.cpp — a plain thread runs fiber code and serves routed work meanwhile.
//
// The calling thread starts an AsyncCall (its frame, the runtime, the callee's scope), spawns
// the fiber with the callee's scope, and parks in the frame until the fiber is done and no
// routed work is pending. A stop of the enclosing
// sync_to_async call (the body's stop token) is forwarded into the fiber's task.
#include <memory>

#include "bridge/async_call.hpp"
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
  AsyncCall call(state, options);

  auto task = make_task_state<void>();
  task->role = "async_to_sync";
  // Linked before the spawn: a stop of the enclosing body that lands meanwhile reaches the fiber
  // before it starts, not only after the outer caller was released.
  std::stop_callback<ForwardStop> forward(state.scope.stop_token(), ForwardStop{task.get()});
  RuntimeAccess::spawn(call.runtime(), task, std::move(body), call.callee_scope());
  (void)task->on_ready([frame = call.frame()] { frame->wake(); });
  call.serve_until([&task] { return task->ready(); });
  (void)task->callbacks_done();  // if so, the callback's copy of the frame is gone: ~AsyncCall can reuse it
  call.finish();  // like asyncio.run: a private runtime stops and joins what the call left behind
  if (auto error = task->take_error()) std::rethrow_exception(std::move(error));
}

}  // namespace fiberbridge::detail
