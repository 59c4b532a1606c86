/// @file
/// fiberbridge/thread_sensitive.hpp — scopes that give thread-sensitive work its own thread.
///
/// @code
/// // on a fiber, per request (Django wraps each request in one):
/// {
///   fb::ThreadSensitiveContext scope;
///   fb::sync_to_async(handler)();  // runs on this scope's own thread
/// }                                // waits for that thread's work; only this fiber suspends
///
/// // on a plain thread:
/// {
///   fb::AsyncSingleThreadContext scope;
///   fb::async_to_sync(a)();  // a and b both run on one private scheduler thread
///   fb::async_to_sync(b)();
/// }
/// @endcode
///
/// Both scopes are RAII objects: construct and destroy each on the same fiber (or thread), in
/// nested order. Compiled from examples/headers/thread_sensitive.cpp.
#pragma once

#include <boost/core/noncopyable.hpp>

#include <memory>

namespace fiberbridge {

/// ThreadSensitiveContext — RAII on a fiber. While it is active, thread-sensitive sync_to_async
/// calls of this fiber and of the fibers it spawns (unless an enclosing async_to_sync frame
/// claims them first) run on one dedicated thread of this context, in order. Separate contexts
/// use separate threads and run in parallel. Nested on the same call chain: a no-op that shares
/// the outer thread. Not copyable.
class ThreadSensitiveContext : boost::noncopyable {
 public:
  /// Enters the scope. Call it on a fiber. Throws NotInFiberError off a fiber.
  ThreadSensitiveContext();
  /// Leaves the scope; call it on the fiber that constructed it. The outermost destructor waits
  /// for the thread's pending work, suspending only this fiber (if the fiber is stopped
  /// meanwhile it stops waiting and the thread finishes the work in the background), then
  /// releases the thread. Does not throw.
  ~ThreadSensitiveContext();

 private:
  std::shared_ptr<void> thread_;   // the dedicated thread, owned by the outermost scope only
  std::shared_ptr<void> previous_; // routing state to restore
};

/// AsyncSingleThreadContext — RAII on a plain thread. While it is active, this thread's
/// async_to_sync calls that would not run on an outer runtime run on one private scheduler
/// thread owned by the context. Nested ones on the same thread share it; other threads are
/// unaffected. Not copyable.
class AsyncSingleThreadContext : boost::noncopyable {
 public:
  /// Enters the scope. Call it on a plain thread. Throws AsyncToSyncInFiberError on a fiber.
  AsyncSingleThreadContext();
  /// Leaves the scope; call it on the thread that constructed it. The outermost one stops and
  /// joins the private scheduler thread. Does not throw.
  ~AsyncSingleThreadContext();

 private:
  bool outermost_ = false;
};

}  // namespace fiberbridge
