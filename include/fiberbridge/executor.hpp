// fiberbridge/executor.hpp — Executor: where non-thread-sensitive blocking work runs.
//
//   struct Inline : fb::Executor { void execute(std::function<void()> w) override { w(); } };
//   Inline ex;
//   auto r = fb::sync_to_async(blocking_fn, {.thread_sensitive = false, .executor = &ex})();
//
// `execute` may be called from any thread (a scheduler thread of any runtime). If it throws,
// the calling fiber gets that exception. If it destroys the work without running it, the
// calling fiber gets a std::runtime_error saying so (it never waits forever). The executor
// must outlive every call made through it.
#pragma once

#include <functional>

namespace fiberbridge {

class Executor {
 public:
  virtual ~Executor() = default;
  /// execute — run `work` once, on any thread, now or later.
  virtual void execute(std::function<void()> work) = 0;
};

}  // namespace fiberbridge
