// runtime_inbox.hpp — the one way in for fibers spawned from outside a runtime (plain threads,
// pool and sync threads, fibers of other runtimes): a queue that the scheduling algorithm drains
// itself, from the dispatcher context of whichever scheduler thread runs next
// (scheduler/sources.hpp). No condition variable, no hop through a worker's main fiber.
//
// Invariants:
//  * `pending()` is published seq_cst after every push (the pusher's side of the idle
//    handshake: it then looks for an idle scheduler thread to wake; an idle thread announces
//    itself and then looks here).
//  * Backpressure, not unbounded growth: while `capacity` spawns wait, a plain thread that
//    spawns waits until a scheduler thread has drained the queue, and a fiber (of another
//    scheduler) yields meanwhile. A scheduler thread's own dispatcher (an I/O handler) never
//    waits: it would wait for itself; its spawns do not come here at all (they launch in place).
//    The queue drains as soon as any scheduler thread runs its dispatcher — only threads that
//    all run fibers that never yield can hold it up.
//  * Draining moves the whole queue out under the lock and launches outside it; the two
//    buffers are reused, so a steady stream of spawns allocates nothing here.
#pragma once

#include <boost/fiber/context.hpp>
#include <boost/fiber/operations.hpp>
#include <boost/fiber/type.hpp>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "context/exec_state.hpp"
#include "fiberbridge/detail/task_state.hpp"
#include "fiberbridge/detail/unique_function.hpp"
#include "scheduler/sources.hpp"

namespace fiberbridge::detail {

class StackHome;  // scheduler/stack_pool.hpp

// Everything a new fiber needs, prepared by the spawner (the stack is taken before: a
// std::bad_alloc reaches the spawner).
struct Launch {
  boost::intrusive_ptr<TaskStateBase> state;
  unique_function body;
  Scope seed;
  StackHome* home = nullptr;  // the fiber's stack (its fiber hold)
  std::size_t shard = 0;  // of the live registry
};

class RuntimeInbox final : public OutsideWork {
 public:
  // Launches a batch on the calling scheduler thread (the runtime's launch path).
  using LaunchBatch = void (*)(void* owner, std::vector<Launch>& batch) noexcept;

  RuntimeInbox(std::size_t capacity, LaunchBatch launch, void* owner)
      : capacity_(capacity != 0 ? capacity : 1), launch_(launch), owner_(owner) {}

  // Queues `l`, after waiting for room (see the invariants); `on_scheduler_thread`: never wait.
  void push(Launch l, bool on_scheduler_thread) {
    std::unique_lock lk(m_);
    if (q_.size() >= capacity_ && !on_scheduler_thread) wait_for_room(lk);
    q_.push_back(std::move(l));
    size_.store(q_.size(), std::memory_order_seq_cst);
  }

  bool pending() const noexcept override { return size_.load(std::memory_order_seq_cst) != 0; }
  std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }

  void run_here() noexcept override {
    std::vector<Launch> batch;
    {
      std::lock_guard g(m_);
      if (q_.empty()) return;  // a peer drained it first
      batch = std::exchange(q_, std::move(spare_));
      spare_ = std::vector<Launch>();
      size_.store(0, std::memory_order_relaxed);
      if (waiting_ != 0) room_.notify_all();
    }
    launch_(owner_, batch);
    batch.clear();
    std::lock_guard g(m_);
    if (spare_.capacity() == 0) spare_ = std::move(batch);
  }

 private:
  void wait_for_room(std::unique_lock<std::mutex>& lk) {
    if (!boost::fibers::context::active()->is_context(boost::fibers::type::main_context)) {
      while (q_.size() >= capacity_) {  // a fiber: let its own scheduler run meanwhile
        lk.unlock();
        boost::this_fiber::yield();
        lk.lock();
      }
      return;
    }
    ++waiting_;
    room_.wait(lk, [this] { return q_.size() < capacity_; });
    --waiting_;
  }

  const std::size_t capacity_;
  const LaunchBatch launch_;
  void* const owner_;
  std::mutex m_;
  std::condition_variable room_;
  std::size_t waiting_ = 0;
  std::vector<Launch> q_;
  std::vector<Launch> spare_;
  std::atomic<std::size_t> size_{0};
};

}  // namespace fiberbridge::detail
