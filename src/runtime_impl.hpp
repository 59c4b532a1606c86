// runtime_impl.hpp — the inside of a Runtime, for the layers above it (the bridges, the I/O
// service, the coroutine variant); of src/scheduler/ they see only its seam
// (scheduler/sources.hpp: the reactor the I/O service implements), and the runtime includes
// none of them.
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
#include <mutex>
#include <utility>

#include "context/exec_state.hpp"
#include "fiberbridge/runtime.hpp"

namespace fiberbridge::detail {

class Reactor;

struct RuntimeAccess {
  // Spawns `body` as a fiber of `rt` whose scope starts as `seed` (its stop is the task's own;
  // a seed without a context gets the one inside the task state). Throws std::bad_alloc /
  // std::logic_error like Runtime::spawn.
  static void spawn(Runtime& rt, boost::intrusive_ptr<TaskStateBase> state, unique_function body, Scope seed);
  // Per-runtime state that a layer above the runtime owns, kept here type-erased (the runtime
  // never looks inside, so it depends on none of them), under the runtime's lock:
  //  * kIoService: the runtime's I/O service (src/asio/), destroyed after every fiber has
  //    finished and before the threads exit;
  //  * kLoopOwner: rule 3's frame of the thread waiting on this private runtime
  //    (src/bridge/async_call.*).
  enum class Slot : std::size_t { kIoService, kLoopOwner, kCount };
  static constexpr std::size_t kSlots = static_cast<std::size_t>(Slot::kCount);
  // The slot's value, created first by `make` when it is empty and `make` is not null.
  static std::shared_ptr<void> slot(Runtime& rt, Slot which, std::shared_ptr<void> (*make)(Runtime&));
  // Stores `value`, returns what the slot held.
  static std::shared_ptr<void> exchange_slot(Runtime& rt, Slot which, std::shared_ptr<void> value);
  // Makes `r` the runtime's reactor, driven by its scheduler threads (scheduler/sources.hpp);
  // returns the link detach_reactor takes (valid until the threads are joined).
  static void* attach_reactor(Runtime& rt, Reactor* r) noexcept;
  // Returns once no scheduler thread drives the reactor any more (and none will again).
  static void detach_reactor(void* link) noexcept;
  // The slot holding the runtime's address: it outlives a Runtime destroyed by its own fiber
  // (then it holds the stand-in), until the threads are joined.
  static const std::atomic<Runtime*>& self_slot(Runtime& rt) noexcept;
};

// The runtime's RuntimeAccess slots, under one lock.
class RuntimeSlots {
 public:
  using Slot = RuntimeAccess::Slot;
  // The slot's value, made first by `make(rt)` when it is empty and `make` is not null.
  std::shared_ptr<void> get(Slot which, std::shared_ptr<void> (*make)(Runtime&), Runtime& rt) {
    std::lock_guard g(m_);
    std::shared_ptr<void>& s = slots_[static_cast<std::size_t>(which)];
    if (!s && make != nullptr) s = make(rt);
    return s;
  }
  std::shared_ptr<void> exchange(Slot which, std::shared_ptr<void> value) {
    std::lock_guard g(m_);
    return std::exchange(slots_[static_cast<std::size_t>(which)], std::move(value));
  }

 private:
  std::mutex m_;
  std::shared_ptr<void> slots_[RuntimeAccess::kSlots];
};

}  // namespace fiberbridge::detail
