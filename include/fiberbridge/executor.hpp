/// @file
/// fiberbridge/executor.hpp — Executor: where non-thread-sensitive blocking work runs.
///
/// @code
/// struct Inline : fb::Executor {
///   void execute(std::function<void()> w) override { w(); }
/// };
/// Inline ex;
/// auto r = fb::sync_to_async(blocking_fn, {.thread_sensitive = false, .executor = &ex})();
/// @endcode
///
/// Compiled from examples/headers/executor.cpp.
#pragma once

#include <functional>

namespace fiberbridge {

/// Executor — the interface of a place where `sync_to_async(f, {.thread_sensitive = false,
/// .executor = &ex})` bodies run (instead of the built-in blocking pool). Implement execute();
/// the executor must outlive every call made through it.
class Executor {
 public:
  /// Not called by the library; destroy an executor only once no call through it is pending.
  virtual ~Executor() = default;
  /// execute — run `work` once, on any thread, now or later. Called from any thread (a scheduler
  /// thread of any runtime), possibly from several at once. If it throws, the calling fiber gets
  /// that exception. If it destroys the work without running it, the calling fiber gets a
  /// std::runtime_error saying so (it never waits forever).
  virtual void execute(std::function<void()> work) = 0;
};

}  // namespace fiberbridge
