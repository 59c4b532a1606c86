// bridge/dedicated_thread.hpp — one OS thread that runs sync bodies in order: the process-wide
// sync thread (routing rule 5) and the thread of each ThreadSensitiveContext (rule 2).
//
// Owns: a FIFO of work and a detached thread, started lazily on the first submission (a
// ThreadSensitiveContext without sync work costs no thread). The queue state is shared with
// the thread, so retiring never blocks: the thread drains what was accepted, then exits.
// The thread runs under SCHED_BATCH (detail/batch_scheduling.hpp): a submission does not
// preempt the scheduler thread that makes it.
// Invariants: work accepted before `retire()` always runs; after it `submit` returns false.
#pragma once


#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "bridge/sync_executor.hpp"
#include "bridge/work_queue.hpp"
#include "detail/parker.hpp"

namespace fiberbridge::detail {

class DedicatedThread final : public SyncExecutor {
 public:
  explicit DedicatedThread(std::string name);
  ~DedicatedThread() override;
  bool submit(unique_function& work) override;  // throws std::system_error if the thread cannot start
  bool single_threaded() const noexcept override { return true; }
  bool started() const;
  bool accepting() const noexcept override;
  void retire();
  const char* name() const noexcept override { return name_.c_str(); }
  // Bodies queued and not started yet (Runtime::metrics).
  std::size_t queue_depth() const;
  // DedicatedThread threads running in the process, the sync thread included.
  static std::size_t running_threads() noexcept;

  // The process-wide sync thread (created lazily, never destroyed).
  static std::shared_ptr<DedicatedThread> sync_thread();

 private:
  struct Shared {
    mutable std::mutex m;
    Parker parker;  // the thread waits here for work
    WorkQueue q;  // grown by submit; no allocation per item
    bool started = false;
    bool retired = false;
  };
  static void loop(std::shared_ptr<Shared> s, std::string name);
  std::shared_ptr<Shared> s_;
  std::string name_;
};

}  // namespace fiberbridge::detail
