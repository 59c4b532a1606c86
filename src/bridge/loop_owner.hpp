// bridge/loop_owner.hpp — rule 3's "loop owner" of a private runtime: the frame of the thread
// waiting on it (async_to_sync with force_new_loop, or an AsyncSingleThreadContext), to which
// its fibers' thread-sensitive calls go. The bridges own it; the runtime keeps it for them in a
// type-erased slot (RuntimeAccess::Slot::kLoopOwner).
#pragma once

#include <memory>

#include "bridge/current_thread_executor.hpp"
#include "runtime_impl.hpp"

namespace fiberbridge::detail {

// The frame waiting on `rt` as its loop owner, or null.
inline std::shared_ptr<CurrentThreadExecutor> loop_owner(Runtime& rt) {
  return std::static_pointer_cast<CurrentThreadExecutor>(
      RuntimeAccess::slot(rt, RuntimeAccess::Slot::kLoopOwner, nullptr));
}

// Makes `frame` the loop owner of `rt`; returns the previous one.
inline std::shared_ptr<CurrentThreadExecutor> exchange_loop_owner(Runtime& rt,
                                                                  std::shared_ptr<CurrentThreadExecutor> frame) {
  return std::static_pointer_cast<CurrentThreadExecutor>(
      RuntimeAccess::exchange_slot(rt, RuntimeAccess::Slot::kLoopOwner, std::move(frame)));
}

}  // namespace fiberbridge::detail
