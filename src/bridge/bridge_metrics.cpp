// bridge/bridge_metrics.cpp — see bridge_metrics.hpp.
#include "bridge/bridge_metrics.hpp"

#include <ostream>

#include "bridge/blocking_pool.hpp"
#include "bridge/dedicated_thread.hpp"

namespace fiberbridge::detail {

void bridge_metrics(Runtime&, RuntimeMetrics& m, std::ostream* dump) {
  const auto sync = DedicatedThread::sync_thread();
  m.sync_thread_queue = sync->queue_depth();
  const std::size_t dedicated = DedicatedThread::running_threads();
  const std::size_t sync_running = sync->started() ? 1 : 0;
  m.thread_sensitive_threads = dedicated > sync_running ? dedicated - sync_running : 0;
  const BlockingPool::Stats pool = BlockingPool::instance().stats();
  m.pool_threads = pool.threads;
  m.pool_busy = pool.busy;
  m.pool_idle = pool.idle;
  m.pool_queued = pool.queued;
  if (dump == nullptr) return;
  *dump << "process: sync thread " << (sync_running != 0 ? "running" : "not started") << " (" << m.sync_thread_queue
        << " queued), " << m.thread_sensitive_threads << " ThreadSensitiveContext thread(s), blocking pool "
        << m.pool_threads << " thread(s) (" << m.pool_busy << " busy, " << m.pool_idle << " idle, " << m.pool_queued
        << " queued)\n";
}

}  // namespace fiberbridge::detail
