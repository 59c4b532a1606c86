// observe/metrics.cpp — Runtime::metrics and Runtime::dump: the runtime's own counters and
// fibers (runtime.cpp) plus the process's bridge threads (the sync thread, the threads of
// ThreadSensitiveContexts, the blocking pool); and the slow-fiber report's text.
#include <cstdlib>
#include <ostream>
#include <sstream>

#include "asio/io_service.hpp"
#include "bridge/blocking_pool.hpp"
#include "bridge/dedicated_thread.hpp"
#include "fiberbridge/runtime.hpp"
#include "runtime_impl.hpp"

namespace fiberbridge {

namespace detail {

std::chrono::milliseconds default_slow_fiber_threshold() noexcept {
  static const long ms = [] {
    if (const char* env = std::getenv("FIBERBRIDGE_SLOW_FIBER_MS")) {
      char* end = nullptr;
      const long v = std::strtol(env, &end, 10);
      if (end != env && *end == '\0' && v >= 0) return v;
    }
    return 100L;
  }();
  return std::chrono::milliseconds(ms);
}

namespace {
void process_metrics(RuntimeMetrics& m) {
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
}
}  // namespace

}  // namespace detail

RuntimeMetrics Runtime::metrics() const {
  RuntimeMetrics m;
  detail::RuntimeAccess::scheduler_metrics(*this, m);
  m.io_completions = detail::io_completions(const_cast<Runtime&>(*this));
  detail::process_metrics(m);
  return m;
}

void Runtime::dump(std::ostream& out) const {
  std::ostringstream text;  // written at once: a dump is often sent to a shared log
  detail::RuntimeAccess::dump_fibers(*this, text);
  const RuntimeMetrics m = metrics();
  text << "process: sync thread " << (detail::DedicatedThread::sync_thread()->started() ? "running" : "not started")
       << " (" << m.sync_thread_queue << " queued), " << m.thread_sensitive_threads
       << " ThreadSensitiveContext thread(s), blocking pool " << m.pool_threads << " thread(s) (" << m.pool_busy
       << " busy, " << m.pool_idle << " idle, " << m.pool_queued << " queued)\n";
  out << text.str();
}

std::string SlowFiberReport::to_string() const {
  std::ostringstream s;
  s << "fiberbridge: fiber " << fiber_id << " (" << where << ") has kept scheduler thread " << thread_name
    << " for " << running_for.count()
    << " ms without switching: every other fiber of that thread waits meanwhile. A blocking call on a fiber "
       "(a database driver, sleep, a mutex held across I/O) belongs in fiberbridge::sync_to_async.\n";
  if (!stacktrace.empty()) s << "  stack of " << thread_name << ":\n" << stacktrace;
  return s.str();
}

}  // namespace fiberbridge
