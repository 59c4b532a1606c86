// fiberbridge/thread_sensitive.hpp — scopes that give thread-sensitive work its own thread.
//
//   // on a fiber, per request (Django wraps each request in one):
//   { fb::ThreadSensitiveContext scope;
//     fb::sync_to_async(handler)();        // runs on this scope's own thread
//   }                                       // waits for that thread's work; only this fiber suspends
//
//   // on a plain thread:
//   { fb::AsyncSingleThreadContext scope;
//     fb::async_to_sync(a)(); fb::async_to_sync(b)();   // both run on one private scheduler thread
//   }
#pragma once

#include <memory>

namespace fiberbridge {

/// ThreadSensitiveContext — RAII on a fiber. While it is active, thread-sensitive sync_to_async
/// calls of this fiber and of the fibers it spawns (unless an enclosing async_to_sync frame
/// claims them first) run on one dedicated thread of this context, in order. Separate contexts
/// use separate threads and run in parallel. Nested on the same call chain: a no-op that shares
/// the outer thread. The outermost destructor waits for the thread's pending work, suspending
/// only this fiber (if the fiber is stopped meanwhile it stops waiting and the thread finishes
/// the work in the background), then releases the thread.
/// Throws NotInFiberError when constructed off a fiber.
class ThreadSensitiveContext {
 public:
  ThreadSensitiveContext();
  ~ThreadSensitiveContext();
  ThreadSensitiveContext(const ThreadSensitiveContext&) = delete;
  ThreadSensitiveContext& operator=(const ThreadSensitiveContext&) = delete;

 private:
  std::shared_ptr<void> thread_;   // the dedicated thread, owned by the outermost scope only
  std::shared_ptr<void> previous_; // routing state to restore
};

/// AsyncSingleThreadContext — RAII on a plain thread. While it is active, this thread's
/// async_to_sync calls that would not run on an outer runtime run on one private scheduler
/// thread owned by the context. Nested ones on the same thread share it; other threads are
/// unaffected. Throws AsyncToSyncInFiberError when constructed on a fiber.
class AsyncSingleThreadContext {
 public:
  AsyncSingleThreadContext();
  ~AsyncSingleThreadContext();
  AsyncSingleThreadContext(const AsyncSingleThreadContext&) = delete;
  AsyncSingleThreadContext& operator=(const AsyncSingleThreadContext&) = delete;

 private:
  bool outermost_ = false;
};

}  // namespace fiberbridge
