// bridge/blocking_pool.hpp — the built-in pool for non-thread-sensitive sync bodies.
//
// Owns: up to `max_threads` detached worker threads and one FIFO. Grows on demand (a new
// thread only when no worker is idle), reuses threads, and an idle worker retires after
// `idle_timeout`. Never a thread per call. Bounded: beyond max_threads work queues.
// Invariants: accepted work always runs; if no thread exists and none can be created,
// `submit` throws (the calling fiber gets the error, never a hang).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include "bridge/sync_executor.hpp"

namespace fiberbridge::detail {

class BlockingPool final : public SyncExecutor {
 public:
  BlockingPool(unsigned max_threads, std::chrono::milliseconds idle_timeout);
  bool submit(unique_function& work) override;

  // The process-wide pool (created lazily, never destroyed).
  static BlockingPool& instance();

 private:
  struct Shared {
    std::mutex m;
    std::condition_variable cv;
    std::deque<unique_function> q;
    unsigned threads = 0;
    unsigned idle = 0;
  };
  static void worker(std::shared_ptr<Shared> s, std::chrono::milliseconds idle_timeout);
  std::shared_ptr<Shared> s_;
  unsigned max_threads_;
  std::chrono::milliseconds idle_timeout_;
};

}  // namespace fiberbridge::detail
