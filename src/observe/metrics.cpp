// observe/metrics.cpp — the metrics sources of the layers above the runtime (see
// metrics_sources.hpp), the default slow-fiber threshold and the slow-fiber report's text.
#include <atomic>
#include <cstdlib>
#include <ostream>
#include <sstream>

#include "fiberbridge/runtime.hpp"
#include "observe/metrics_sources.hpp"

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
std::atomic<MetricsSource> sources[8];
}  // namespace

void add_metrics_source(MetricsSource source) noexcept {
  for (auto& slot : sources) {
    MetricsSource seen = slot.load(std::memory_order_acquire);
    if (seen == nullptr && slot.compare_exchange_strong(seen, source, std::memory_order_acq_rel)) return;
    if (seen == source) return;
  }
}

void collect_metrics(Runtime& rt, RuntimeMetrics& out, std::ostream* dump) {
  for (auto& slot : sources) {
    if (MetricsSource source = slot.load(std::memory_order_acquire)) source(rt, out, dump);
  }
}

}  // namespace detail

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
