// detail/must_run.hpp — a work item's hold on the state that must hear how the work ended.
//
// Work handed to an executor (a sync body's job, a coroutine's completion handler) is either
// run or destroyed unrun, when the executor drops it (shut down, out of memory). Whoever waits
// on the shared state must hear of both, or it waits forever. `MustRun` holds the state: running
// the work takes it out (`take`); destroying a holder that still has it calls `Dropped{}(state)`.
// Move-only: the moved-from holder is empty and reports nothing. `Ptr` is the kind of strong
// reference held (shared_ptr, or a boost::intrusive_ptr for a state that counts its own references).
#pragma once

#include <memory>
#include <utility>

namespace fiberbridge::detail {

template <class T, class Dropped, class Ptr = std::shared_ptr<T>>
class MustRun {
 public:
  explicit MustRun(Ptr state) noexcept : state_(std::move(state)) {}
  MustRun(MustRun&&) noexcept = default;
  MustRun& operator=(MustRun&&) = delete;
  ~MustRun() {
    if (state_) Dropped{}(*state_);
  }

  // The state, for the work that runs now; the holder reports nothing afterwards.
  Ptr take() noexcept { return std::move(state_); }

 private:
  Ptr state_;
};

}  // namespace fiberbridge::detail
