// bridge/bridge_metrics.hpp — the bridges' part of Runtime::metrics and Runtime::dump: the
// process's sync thread, the threads of ThreadSensitiveContexts and the blocking pool.
// Registered (observe/metrics_sources.hpp) by the first DedicatedThread or BlockingPool.
#pragma once

#include <iosfwd>

#include "fiberbridge/runtime.hpp"

namespace fiberbridge::detail {

void bridge_metrics(Runtime& rt, RuntimeMetrics& out, std::ostream* dump);

}  // namespace fiberbridge::detail
