// bridge/current_thread_executor.hpp — asgiref's CurrentThreadExecutor: the queue of one
// async_to_sync frame, served by the OS thread parked in that call.
//
// Owns: the work routed to a parked thread (rule 1), and the frame chain: each frame links to
// the frame that was current when it was created (`parent`), so a fiber that outlives its frame
// routes to the nearest frame still waiting (asgiref #491/#494).
//
// Invariants:
//  * Only the owning thread runs `run_until`; any thread may `submit` or `wake`.
//  * Once `closed` (the frame returned), `submit` refuses work; closing happens under the lock
//    only when the queue is empty, so no accepted work is ever dropped.
//  * `run_until` re-checks its predicate under the lock after every wake, so a completion
//    that calls `wake()` after making the predicate true is never missed.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "bridge/sync_executor.hpp"
#include "bridge/work_queue.hpp"
#include "detail/parker.hpp"

namespace fiberbridge::detail {

class CurrentThreadExecutor final : public SyncExecutor,
                                    public std::enable_shared_from_this<CurrentThreadExecutor> {
 public:
  explicit CurrentThreadExecutor(std::shared_ptr<CurrentThreadExecutor> parent = nullptr)
      : parent_(std::move(parent)), owner_(std::this_thread::get_id()) {}

  bool submit(unique_function& work) override;
  const char* name() const noexcept override { return "the thread parked in async_to_sync"; }
  // Rule 1: this frame, else the nearest enclosing frame still waiting. False if none is.
  static bool submit_to_chain(const std::shared_ptr<CurrentThreadExecutor>& frame, unique_function& work);
  // True when this frame, or an enclosing one, still accepts work.
  static bool chain_open(const std::shared_ptr<CurrentThreadExecutor>& frame);

  // Serves the queue on the owning thread until `done()` and the queue is empty (closing the
  // frame if `close_when_done`), or until `deadline` (returns false).
  bool run_until(const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline,
                 bool close_when_done);
  void wake();
  bool closed() const;

  // The executor the calling plain thread is serving right now (innermost), or nullptr.
  static CurrentThreadExecutor* serving() noexcept;

  // A frame for a new call on this thread, under `parent`: the one this thread's last call left
  // unshared (no allocation: most async_to_sync calls receive no routed work and nobody keeps
  // their frame), else a new one.
  static std::shared_ptr<CurrentThreadExecutor> acquire(std::shared_ptr<CurrentThreadExecutor> parent);
  // At the end of a call, on its thread: keeps `frame` for the thread's next call when nobody
  // else holds it (a count of one cannot grow again: the only weak reference is used by the
  // owning thread while it serves, see task_wait.cpp). Else just drops this reference.
  static void recycle(std::shared_ptr<CurrentThreadExecutor> frame) noexcept;

 private:
  mutable std::mutex m_;
  Parker parker_;  // the owning thread waits here
  WorkQueue q_;  // nothing allocated until work is routed here
  bool closed_ = false;
  std::shared_ptr<CurrentThreadExecutor> parent_;
  std::thread::id owner_;
};

}  // namespace fiberbridge::detail
