// bridge/sync_executor.hpp — the one interface every place that runs sync bodies implements:
// an async_to_sync frame (CurrentThreadExecutor), a dedicated thread (the process-wide sync
// thread, a ThreadSensitiveContext's thread), the blocking pool, a user Executor.
#pragma once

#include "fiberbridge/detail/unique_function.hpp"

namespace fiberbridge::detail {

class SyncExecutor {
 public:
  virtual ~SyncExecutor() = default;
  // Queues `work` to run once on this executor's thread(s). Returns false (leaving `work`
  // untouched) when the executor no longer accepts work; throws when it cannot accept it now
  // (e.g. a thread could not be created). `work` never throws.
  virtual bool submit(unique_function& work) = 0;
  // True for executors that run one body at a time and can therefore be held (rule 4).
  virtual bool single_threaded() const noexcept { return false; }
  // False once the executor has shut down for good (a finished ThreadSensitiveContext).
  virtual bool accepting() const noexcept { return true; }
  // Where its bodies run, for Runtime::dump (a string that lives as long as the executor).
  virtual const char* name() const noexcept { return "a sync executor"; }
};

}  // namespace fiberbridge::detail
