// observe/describe.cpp — see describe.hpp.
#include "observe/describe.hpp"

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <ostream>

#include "scheduler/fiber_props.hpp"

namespace fiberbridge::detail {

namespace {

std::string demangle(const char* name) {
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = d != nullptr ? d : name;
  std::free(d);
  return out;
}

const char* wait_text(WaitKind k) noexcept {
  switch (k) {
    case WaitKind::kSyncToAsync: return "waiting in sync_to_async";
    case WaitKind::kTaskGet: return "waiting in Task::get";
    case WaitKind::kUseFiber: return "waiting in a use_fiber operation";
    case WaitKind::kAsyncToSync: return "waiting in async_to_sync";
    case WaitKind::kThreadSensitiveExit: return "waiting in ~ThreadSensitiveContext";
    case WaitKind::kNone: break;
  }
  return "waiting";
}

std::string duration_text(std::int64_t ns) {
  char buf[48];
  if (ns < 0) ns = 0;
  if (ns >= 10'000'000'000)
    std::snprintf(buf, sizeof buf, "%.0f s", static_cast<double>(ns) / 1e9);
  else if (ns >= 1'000'000)
    std::snprintf(buf, sizeof buf, "%.0f ms", static_cast<double>(ns) / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.0f us", static_cast<double>(ns) / 1e3);
  return buf;
}

}  // namespace

std::string describe_task(const TaskStateBase& task) {
  std::string out;
  if (task.label) {
    out = task.label->name.empty() ? std::string("(unnamed)") : task.label->name;
    if (task.label->file != nullptr) out += " (" + std::string(task.label->file) + ":" + std::to_string(task.label->line) + ")";
  } else if (task.callable != nullptr) {
    out = demangle(task.callable->name());
  } else {
    out = "(unknown callable)";
  }
  if (task.role != nullptr) out += std::string(" [") + task.role + "]";
  return out;
}

void write_fiber_line(std::ostream& out, const TaskStateBase& task, const FiberProps* record, const char* running_on,
                      std::int64_t stalled_since_ns, std::int64_t now_ns) {
  out << "fiber " << task.fiber_id << " " << describe_task(task) << "\n    ";
  if (record == nullptr) {
    out << "not started: queued in the runtime's inbox\n";
    return;
  }
  const WaitKind kind = record->wait.load(std::memory_order_acquire);
  // A fiber marks its wait just before it suspends: from then on it is waiting, even while its
  // thread is still switching away (unless the watchdog saw that thread stuck).
  if (running_on != nullptr && (kind == WaitKind::kNone || stalled_since_ns != 0)) {
    out << "running on " << running_on;
    if (stalled_since_ns != 0) out << ", without a switch for " << duration_text(now_ns - stalled_since_ns);
    out << "\n";
    return;
  }
  switch (running_on != nullptr ? FiberProps::Sched::kPicked : record->sched.load(std::memory_order_relaxed)) {
    case FiberProps::Sched::kNew:
      out << "not started: ready to run\n";
      return;
    case FiberProps::Sched::kReady:
      out << "ready to run\n";
      return;
    case FiberProps::Sched::kPicked:
      break;
  }
  if (kind == WaitKind::kNone) {
    out << "suspended: a Boost.Fiber wait, sleep or yield\n";
    return;
  }
  out << wait_text(kind);
  if (const char* target = record->wait_target.load(std::memory_order_relaxed)) out << " (body on " << target << ")";
  out << " for " << duration_text(now_ns - record->wait_since_ns.load(std::memory_order_relaxed)) << "\n";
}

}  // namespace fiberbridge::detail
