// detail/reaper.hpp — detached threads that finish a job in the background, waited for (with a
// bound) at process exit. Used to release a Runtime destroyed by one of its own fibers.
#pragma once

#include <functional>

namespace fiberbridge::detail {

// Runs `fn` on a new detached thread named "fb-reaper". False if no thread could be created.
// At exit the process waits up to 2 s for running reapers (a runtime whose fibers never return
// must not hang the exit).
bool start_reaper(std::function<void()> fn) noexcept;

}  // namespace fiberbridge::detail
