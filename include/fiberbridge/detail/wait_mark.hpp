// detail/wait_mark.hpp — what the current fiber waits for, as Runtime::dump shows it.
//
// The bridges (and use_fiber) put a WaitMark on the stack around their wait: it records the
// kind, a target (a static or long-lived string: the thread or pool the body runs on) and the
// time in the fiber's scheduler record, and restores the previous mark when it ends (waits
// nest: a Task::get inside a ThreadSensitiveContext's exit). Off a runtime fiber it does nothing.
#pragma once

#include <cstdint>

namespace fiberbridge::detail {

enum class WaitKind : std::uint8_t {
  kNone,
  kSyncToAsync,           // a sync_to_async body runs (or is queued) elsewhere
  kTaskGet,               // Task::get / wait / wait_for
  kUseFiber,              // an Asio operation through use_fiber
  kAsyncToSync,           // a ThreadSensitiveContext / async_to_sync hand-off
  kThreadSensitiveExit,   // ~ThreadSensitiveContext waits for its thread's pending work
};

class WaitMark {
 public:
  WaitMark(WaitKind kind, const char* target) noexcept;
  ~WaitMark();
  WaitMark(const WaitMark&) = delete;
  WaitMark& operator=(const WaitMark&) = delete;

 private:
  void* record_;  // the fiber's scheduler record, or null off a runtime fiber
  WaitKind previous_kind_ = WaitKind::kNone;
  const char* previous_target_ = nullptr;
  std::int64_t previous_since_ = 0;
};

// Counts a use_fiber completion for the runtime whose reactor runs it (Runtime::metrics).
void count_io_completion() noexcept;

}  // namespace fiberbridge::detail
