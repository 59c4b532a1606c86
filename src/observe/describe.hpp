// observe/describe.hpp — how a fiber is named in Runtime::dump and slow-fiber reports.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

#include "fiberbridge/detail/task_state.hpp"

namespace fiberbridge::detail {

class FiberProps;

// "name (file:line)" for a named spawn, else the callable's demangled type (for a lambda: the
// function it was written in), plus the task's role when the runtime spawned it for a bridge.
std::string describe_task(const TaskStateBase& task);

// One line of Runtime::dump for a live fiber. `record` is null while the fiber waits in the
// runtime's inbox (spawned from outside, not created yet); `running_on` names the scheduler
// thread running it now (null if none), `stalled_since_ns` is when the watchdog saw that
// thread's last switch (0 if unknown).
void write_fiber_line(std::ostream& out, const TaskStateBase& task, const FiberProps* record, const char* running_on,
                      std::int64_t stalled_since_ns, std::int64_t now_ns);

}  // namespace fiberbridge::detail
