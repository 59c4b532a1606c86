// kv_service/metrics.hpp — GET /metrics: the runtime's metrics in the Prometheus text format,
// written by prometheus-cpp (Debian: prometheus-cpp-dev), one registry filled per scrape.
#pragma once

#include <fiberbridge/runtime.hpp>

#include <string>

#if defined(KV_WITH_PROMETHEUS)
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#endif

namespace kv {

#if defined(KV_WITH_PROMETHEUS)
inline std::string prometheus_text(const fiberbridge::Runtime& rt) {
  const fiberbridge::RuntimeMetrics m = rt.metrics();
  prometheus::Registry registry;
  auto gauge = [&](const std::string& name, const std::string& help, double value) {
    prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({}).Set(value);
  };
  auto counter = [&](const std::string& name, const std::string& help, double value) {
    prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add({}).Increment(value);
  };
  gauge("fiberbridge_scheduler_threads", "Scheduler threads of the runtime", m.threads);
  gauge("fiberbridge_live_fibers", "Fibers spawned and not finished", static_cast<double>(m.live_fibers));
  counter("fiberbridge_spawned_total", "Fibers spawned since start", static_cast<double>(m.spawned));
  counter("fiberbridge_steals_total", "Fibers stolen by another scheduler thread", static_cast<double>(m.steals));
  counter("fiberbridge_parks_total", "Times a scheduler thread went idle", static_cast<double>(m.parks));
  counter("fiberbridge_unparks_total", "Times an idle scheduler thread was woken for work", static_cast<double>(m.unparks));
  counter("fiberbridge_switches_total", "Fiber switches", static_cast<double>(m.switches));
  counter("fiberbridge_io_completions_total", "use_fiber operations completed", static_cast<double>(m.io_completions));
  counter("fiberbridge_slow_fiber_reports_total", "Fibers reported for blocking their thread",
        static_cast<double>(m.slow_fiber_reports));
  auto& ready = prometheus::BuildGauge().Name("fiberbridge_ready_fibers").Help("Fibers queued to run").Register(registry);
  for (std::size_t i = 0; i < m.ready_per_thread.size(); ++i)
    ready.Add({{"thread", std::to_string(i)}}).Set(static_cast<double>(m.ready_per_thread[i]));
  gauge("fiberbridge_sync_thread_queue", "Bodies waiting for the sync thread", static_cast<double>(m.sync_thread_queue));
  gauge("fiberbridge_thread_sensitive_threads", "Threads of ThreadSensitiveContexts",
        static_cast<double>(m.thread_sensitive_threads));
  auto& pool = prometheus::BuildGauge().Name("fiberbridge_pool_threads").Help("Blocking-pool threads").Register(registry);
  pool.Add({{"state", "busy"}}).Set(static_cast<double>(m.pool_busy));
  pool.Add({{"state", "idle"}}).Set(static_cast<double>(m.pool_idle));
  gauge("fiberbridge_pool_queued", "Bodies waiting for a blocking-pool thread", static_cast<double>(m.pool_queued));
  return prometheus::TextSerializer().Serialize(registry.Collect());
}
inline constexpr bool kHasPrometheus = true;
#else
inline std::string prometheus_text(const fiberbridge::Runtime&) { return {}; }
inline constexpr bool kHasPrometheus = false;
#endif

}  // namespace kv
