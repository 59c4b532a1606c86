// detail/live_registry.hpp — the fibers a Runtime has spawned that have not finished yet.
//
// Owns: membership only (the task states are owned by their tasks). ~Runtime asks every live
// fiber to stop and waits for the registry to drain; spawning after that has begun is refused
// from outside the runtime and stopped at once from its own fibers.
// Why sharded and intrusive: every spawn and every fiber end goes through here. One mutex and a
// hash set (a node allocation per fiber) made two scheduler threads spawning and ending fibers
// (skynet) contend on every operation. Each scheduler thread registers in its own shard (a
// fiber ending on another thread locks its spawner's shard), with a hook inside the task state.
// Why a spinlock and a count per shard: the critical sections are a few pointer stores, and a
// spawn+join paid two pthread mutex round trips plus two locked updates of one shared count
// (bench/fiber_ops_bench, P6). The count lives in the shard, under its lock; only a waiter for
// the drain (~Runtime) makes a fiber's end look at the drain mutex.
#pragma once

#include <boost/intrusive/list.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <stop_token>

#include "detail/spinlock.hpp"
#include "fiberbridge/detail/task_state.hpp"

namespace fiberbridge::detail {

class LiveRegistry {
 public:
  explicit LiveRegistry(std::size_t shards);

  // Registers `s` in `shard` (taken modulo the shard count). Once stopping: refused (false) if
  // `refuse_when_stopping`, else registered and asked to stop at once.
  bool add(TaskStateBase& s, std::size_t shard, bool refuse_when_stopping);
  void remove(TaskStateBase& s, std::size_t shard) noexcept;

  // From now on the registry is stopping; asks every live fiber to stop. Stop callbacks run
  // outside the shard locks (they may spawn).
  void stop_all(const TaskStateBase* except = nullptr);  // `except`: the destroying fiber's own
  // Whether stop_all() has begun (a spawner may check it first, then call add).
  bool stopping() const noexcept { return stopping_.load(); }
  // Waits until no fiber is live or `until` passes; true if none is live.
  bool wait_empty_until(std::chrono::steady_clock::time_point until);
  std::size_t size() const noexcept;
  // Calls fn(TaskStateBase&) for every live fiber, one shard lock held at a time (a fiber
  // seen here has not finished: its task state and scheduler record are alive during the call).
  // Spawns and ends in that shard spin meanwhile: for diagnostics (dump, metrics) only.
  template <class F>
  void for_each(F&& fn) const {
    for (std::size_t i = 0; i < shard_count_; ++i) {
      std::lock_guard<Spinlock> g(shards_[i].m);
      for (const TaskStateBase& s : shards_[i].live) fn(s);
    }
  }

 private:
  using Hook = boost::intrusive::member_hook<TaskStateBase, boost::intrusive::list_member_hook<>,
                                             &TaskStateBase::live_hook>;
  using List = boost::intrusive::list<TaskStateBase, Hook, boost::intrusive::constant_time_size<false>>;
  struct alignas(64) Shard {
    mutable Spinlock m;  // held for a few pointer stores; a callback never runs under it
    List live;
    std::size_t count = 0;  // of `live`, under `m`
  };

  std::size_t shard_count_;
  std::unique_ptr<Shard[]> shards_;
  std::atomic<bool> stopping_{false};
  // Set by wait_empty_until before it reads the counts; a fiber's end reads it after its shard
  // update, so the shard lock orders the two: either the waiter sees the update, or the ender
  // sees the flag and notifies under drain_m_ (which the waiter holds from check to wait).
  std::atomic<bool> draining_{false};
  std::mutex drain_m_;
  std::condition_variable drained_;
};

}  // namespace fiberbridge::detail
