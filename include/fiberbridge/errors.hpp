/// @file
/// fiberbridge/errors.hpp — the four error types of the bridges.
///
/// @code
/// try {
///   fb::sync_to_async(load)();  // on a plain thread: misuse
/// } catch (const fb::NotInFiberError& e) {
///   std::puts(e.what());  // says what to do instead
///   return 0;
/// }
/// @endcode
///
/// Every misuse of the library raises one of these (or a standard error named in the
/// function's documentation) with a message that says what to do instead. Nothing in
/// fiberbridge terminates or hangs where asgiref raises. Each type can be constructed, copied
/// and caught on any thread or fiber; its constructors throw only std::bad_alloc.
/// Compiled from examples/headers/errors.cpp.
#pragma once

#include <stdexcept>
#include <string>

namespace fiberbridge {

/// AsyncToSyncInFiberError — `async_to_sync(f)(...)` (or an `AsyncSingleThreadContext`) was used
/// on a fiber. On a fiber, call the function directly: it already runs asynchronously.
class AsyncToSyncInFiberError : public std::logic_error {
 public:
  /// The library's standard message.
  AsyncToSyncInFiberError()
      : std::logic_error("You cannot use async_to_sync on a fiber - call the function directly.") {}
  /// A message of the caller's.
  explicit AsyncToSyncInFiberError(const std::string& what) : std::logic_error(what) {}
};

/// NotInFiberError — `sync_to_async(f)(...)` (or a `ThreadSensitiveContext`) was used off a
/// fiber. Run the caller on a fiber (`fiberbridge::spawn`, `async_to_sync`) or call `f` directly.
class NotInFiberError : public std::logic_error {
 public:
  /// The library's standard message.
  NotInFiberError()
      : std::logic_error(
            "sync_to_async must be called on a fiber - on a plain thread call the function directly, "
            "or enter fiber code first with async_to_sync/spawn.") {}
  /// A message of the caller's.
  explicit NotInFiberError(const std::string& what) : std::logic_error(what) {}
};

/// WouldDeadlockError — routing rule 4: the thread-sensitive call would be queued behind work
/// that this same call chain holds (a sync body waiting for the call). asgiref raises the same.
/// Use `thread_sensitive = false`, or await the calls sequentially.
class WouldDeadlockError : public std::runtime_error {
 public:
  /// The library's standard message (asgiref's).
  WouldDeadlockError() : std::runtime_error("Single thread executor already being used, would deadlock") {}
  /// A message of the caller's.
  explicit WouldDeadlockError(const std::string& what) : std::runtime_error(what) {}
};

/// CancelledError — the task of the waiting fiber was stopped (`Task::request_stop`, or the
/// runtime is shutting down). Fiber code may catch it and finish normally.
class CancelledError : public std::runtime_error {
 public:
  /// The library's standard message.
  CancelledError() : std::runtime_error("the task was cancelled (request_stop or runtime shutdown)") {}
  /// A message of the caller's.
  explicit CancelledError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace fiberbridge
