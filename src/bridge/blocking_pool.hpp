// bridge/blocking_pool.hpp — the built-in pool for non-thread-sensitive sync bodies.
//
// Owns: up to `max_threads` detached worker threads, a FIFO of jobs no worker could take yet,
// a LIFO stack of idle workers (each parked on its own Parker) and one lazily started monitor
// thread. Threads are reused, never one per call.
//
// Growth rule. Not "a new thread whenever no worker is idle": jobs that arrive faster than short
// bodies finish would each find every worker busy, the pool would grow to dozens of threads and
// every job would then wake a different sleeping thread, all contending on one lock. Instead:
//  * the core (max(2, hardware threads)) starts eagerly: a submit that finds no idle worker
//    starts a thread while there are fewer;
//  * beyond the core a job waits in the FIFO for a busy worker to finish. Only when the queue
//    is stalled — its oldest job has waited `stall_time` and no job started meanwhile (the
//    workers are blocked, not just busy), or it has waited 8 stall periods (a queue that moves
//    too slowly for its load) — does the pool add threads: as many as there are queued jobs, so
//    N bodies that really block ramp up in one step. Checked on each submit (a timestamp
//    comparison) and by the monitor, which sleeps while nothing waits and re-checks every stall
//    period while jobs wait: bodies that wait for each other cannot deadlock the pool even if no
//    further submit comes (the starvation detection of .NET's thread pool, Go's sysmon). A new
//    thread sets up its per-thread state before it counts as started, and no stall is declared
//    while a thread is starting or a claimed worker waking: a short CPU shortage is no stall;
//  * idle workers park; `submit` claims the most recently idle one (popping it under the lock,
//    so two submits never count on the same worker) and hands it the job after unlocking. At
//    most `core` claimed workers are waking at once; a job beyond that waits in the queue and
//    each woken worker first wakes the next one if jobs are left. So a pool that once grew does
//    not wake a different thread per job of a burst of short bodies, and the surplus workers at
//    the bottom of the stack retire after `idle_timeout`. A worker that finishes a job takes the
//    next queued one without parking;
//  * workers run under SCHED_BATCH (detail/batch_scheduling.hpp, as the sync thread does), so
//    waking one never preempts the scheduler thread that queued the job: that thread keeps
//    running fibers (queueing more jobs), and the worker runs them in one go when it gets a CPU
//    (halves the cost per call when both share a vCPU).
// Invariants: accepted work always runs (whenever a job is queued, some worker that exists or
// whose creation succeeded will look at the queue: the last one never retires while others are
// still being created); if no thread exists and none can be created, `submit` throws
// std::system_error and leaves `work` untouched; never more than `max_threads` workers. The pool
// state is shared with the detached threads, so the process-wide pool never blocks exit.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "bridge/sync_executor.hpp"

namespace fiberbridge::detail {

class BlockingPool final : public SyncExecutor {
 public:
  BlockingPool(unsigned max_threads, std::chrono::milliseconds idle_timeout,
               std::chrono::microseconds stall_time = std::chrono::microseconds(500));
  // Lets the monitor exit once nothing waits; workers retire on their idle timeout.
  ~BlockingPool() override;
  bool submit(unique_function& work) override;

  // The process-wide pool (created lazily, never destroyed).
  static BlockingPool& instance();
  const char* name() const noexcept override { return "the blocking pool"; }

  struct Stats {
    std::size_t threads = 0, busy = 0, idle = 0, queued = 0;
  };
  Stats stats() const;

 private:
  struct Worker;
  struct Shared;
  std::shared_ptr<Shared> s_;
};

}  // namespace fiberbridge::detail
