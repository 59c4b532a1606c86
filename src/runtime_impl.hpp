// runtime_impl.hpp — the inside of a Runtime, for the bridges (they never see src/scheduler/).
//
// Owns: the scheduler threads, their inboxes (spawns from threads that are not this runtime's),
// the registry of live fibers (for ~Runtime's stop-and-wait), and the fiber stacks.
// Invariants: a fiber is in the registry from spawn until just before its task is reported
// finished; ~Runtime stops accepting spawns from outside, stops every registered task, waits
// for the registry to empty, and only then lets the threads exit.
#pragma once

#include <atomic>
#include <iosfwd>
#include <memory>

#include "bridge/current_thread_executor.hpp"
#include "context/exec_state.hpp"
#include "fiberbridge/runtime.hpp"

namespace fiberbridge::detail {

struct RuntimeAccess {
  // Spawns `body` as a fiber of `rt` whose scope starts as `seed` (its stop token is replaced
  // by the task's own). Throws std::bad_alloc / std::logic_error like Runtime::spawn.
  static void spawn(Runtime& rt, std::shared_ptr<TaskStateBase> state, unique_function body, Scope seed);
  // Rule 3: the frame of the thread waiting on this private runtime (async_to_sync with
  // force_new_loop or an AsyncSingleThreadContext), or null.
  static std::shared_ptr<CurrentThreadExecutor> loop_owner(Runtime& rt);
  static void set_loop_owner(Runtime& rt, std::shared_ptr<CurrentThreadExecutor> frame);
  // The runtime's I/O service slot (see src/asio/): created on first use under the runtime's
  // lock by `make`, destroyed after every fiber has finished and before the threads exit.
  // With `make == nullptr`: the service if it exists, else null.
  static std::shared_ptr<void> io_service(Runtime& rt, std::shared_ptr<void> (*make)(Runtime&));
  // The slot holding the runtime's address: it outlives a Runtime destroyed by its own fiber
  // (then it holds the stand-in), until the threads are joined.
  static const std::atomic<Runtime*>& self_slot(Runtime& rt) noexcept;
  // The runtime's own part of Runtime::metrics (src/observe/metrics.cpp adds the process's).
  static void scheduler_metrics(const Runtime& rt, RuntimeMetrics& out);
  // The runtime's part of Runtime::dump: its threads and every live fiber.
  static void dump_fibers(const Runtime& rt, std::ostream& out);
};

}  // namespace fiberbridge::detail
