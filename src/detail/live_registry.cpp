// detail/live_registry.cpp — see live_registry.hpp.
#include "detail/live_registry.hpp"

#include <vector>

namespace fiberbridge::detail {

LiveRegistry::LiveRegistry(std::size_t shards)
    : shard_count_(shards == 0 ? 1 : shards), shards_(std::make_unique<Shard[]>(shard_count_)) {}

bool LiveRegistry::add(TaskStateBase& s, std::size_t shard, bool refuse_when_stopping) {
  Shard& sh = shards_[shard % shard_count_];
  bool stop = false;
  {
    std::lock_guard<Spinlock> g(sh.m);
    // stop_all() sets the flag before it visits this shard: either it sees `s` here, or this
    // sees the flag.
    stop = stopping_.load();
    if (stop && refuse_when_stopping) return false;
    sh.live.push_back(s);
    ++sh.count;
  }
  if (stop) s.request_stop();  // outside the lock: its stop callbacks may spawn
  return true;
}

void LiveRegistry::remove(TaskStateBase& s, std::size_t shard) noexcept {
  {
    Shard& sh = shards_[shard % shard_count_];
    std::lock_guard<Spinlock> g(sh.m);
    sh.live.erase(sh.live.iterator_to(s));
    --sh.count;
  }
  // Only while somebody waits for the drain (see draining_); any end may be the last one seen.
  if (draining_.load()) {
    std::lock_guard g(drain_m_);  // the waiter checks the counts under it: no lost notification
    drained_.notify_all();
  }
}

std::size_t LiveRegistry::size() const noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    std::lock_guard<Spinlock> g(shards_[i].m);
    n += shards_[i].count;
  }
  return n;
}

void LiveRegistry::stop_all(const TaskStateBase* except) {
  stopping_.store(true);
  // Stop callbacks run inside request_stop() and may spawn (which takes a shard lock) or end a
  // fiber: collect the task states (each reference keeps one alive) under the locks and
  // request the stops after.
  std::vector<boost::intrusive_ptr<TaskStateBase>> tasks;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    std::lock_guard<Spinlock> g(shards_[i].m);
    for (TaskStateBase& s : shards_[i].live)
      if (&s != except) tasks.emplace_back(&s);
  }
  for (const auto& t : tasks) t->request_stop();
}

bool LiveRegistry::wait_empty_until(std::chrono::steady_clock::time_point until) {
  std::unique_lock lk(drain_m_);
  draining_.store(true);  // before the first look at the counts (see draining_)
  return drained_.wait_until(lk, until, [&] { return size() == 0; });
}

}  // namespace fiberbridge::detail
