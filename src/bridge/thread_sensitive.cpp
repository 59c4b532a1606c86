// bridge/thread_sensitive.cpp — ThreadSensitiveContext and AsyncSingleThreadContext.
//
// A ThreadSensitiveContext puts a DedicatedThread into the fiber's routing state (rule 2);
// fibers spawned inside inherit it with the rest of the routing state. Its destructor waits,
// suspending only the fiber, until the thread has run everything queued before it, then
// retires the thread (which exits on its own; nothing joins it on a scheduler thread).
#include <memory>
#include <optional>

#include "fiberbridge/detail/wait_mark.hpp"
#include "bridge/dedicated_thread.hpp"
#include "bridge/private_loop.hpp"
#include "context/exec_state.hpp"
#include "fiberbridge/errors.hpp"
#include "fiberbridge/runtime.hpp"
#include "fiberbridge/thread_sensitive.hpp"

namespace fiberbridge {

namespace {
struct SingleThreadState {
  std::unique_ptr<Runtime> runtime;
  unsigned depth = 0;
};
thread_local SingleThreadState tl_single;
}  // namespace

Runtime* detail::AsyncSingleThread::current_runtime() noexcept { return tl_single.runtime.get(); }

ThreadSensitiveContext::ThreadSensitiveContext() {
  if (!in_fiber())
    throw NotInFiberError(
        "ThreadSensitiveContext must be constructed on a fiber (it scopes the fiber's sync_to_async calls); on "
        "a plain thread use AsyncSingleThreadContext or call the code directly");
  auto& routing = detail::current_state().scope.routing;
  if (routing.sensitive) return;  // nested: share the outer context's thread
  auto thread = std::make_shared<detail::DedicatedThread>("fb-sensitive");
  routing.sensitive = thread;
  thread_ = thread;
}

ThreadSensitiveContext::~ThreadSensitiveContext() {
  if (!thread_) return;
  auto thread = std::static_pointer_cast<detail::DedicatedThread>(thread_);
  detail::current_state().scope.routing.sensitive.reset();
  if (thread->started()) {
    // Queue a marker behind the pending work and wait for it as a fiber.
    auto marker = detail::make_task_state<void>();
    detail::unique_function work([marker] { marker->finish(nullptr); });
    try {
      detail::WaitMark mark(detail::WaitKind::kThreadSensitiveExit, thread->name());
      if (thread->submit(work)) marker->wait();
    } catch (const CancelledError&) {
      // Stopped while waiting: the thread finishes its queue in the background.
    } catch (...) {
      // Never throw from a destructor; the thread still retires below.
    }
  }
  thread->retire();
}

AsyncSingleThreadContext::AsyncSingleThreadContext() {
  if (in_fiber())
    throw AsyncToSyncInFiberError(
        "AsyncSingleThreadContext must be constructed on a plain thread, not on a fiber - on a fiber call the "
        "async functions directly");
  if (tl_single.depth++ > 0) return;  // nested: share the outer one's scheduler thread
  try {
    tl_single.runtime = std::make_unique<Runtime>(RuntimeOptions{.threads = 1, .name = "fb-single"});
  } catch (...) {
    tl_single.depth = 0;
    throw;
  }
  outermost_ = true;
}

AsyncSingleThreadContext::~AsyncSingleThreadContext() {
  --tl_single.depth;
  if (outermost_) tl_single.runtime.reset();  // stops and joins what its calls left behind
}

}  // namespace fiberbridge
