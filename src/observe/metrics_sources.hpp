// observe/metrics_sources.hpp — the parts of Runtime::metrics and Runtime::dump that the layers
// above the runtime contribute: the bridges' threads (shared by the process) and a runtime's
// I/O service. Each layer registers its source when it first comes into being, so the runtime
// depends on none of them, and what was never started reports zeros.
#pragma once

#include <iosfwd>

#include "fiberbridge/runtime.hpp"

namespace fiberbridge::detail {

// Adds its part to `out` for `rt`; when `dump` is not null, also writes its lines of
// Runtime::dump there.
using MetricsSource = void (*)(Runtime& rt, RuntimeMetrics& out, std::ostream* dump);

// Registers `source` once (again: no effect). Lock-free; at most 8 sources in a process.
void add_metrics_source(MetricsSource source) noexcept;
// Runs every registered source, in registration order.
void collect_metrics(Runtime& rt, RuntimeMetrics& out, std::ostream* dump);

}  // namespace fiberbridge::detail
