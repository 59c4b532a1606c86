// context/task_context.cpp — a spawned fiber's starting context, inside its task state.
//
// Owns: the ContextData in TaskStateBase::context_storage_ and the control block of the one
// shared_ptr that hands it to the fiber (in anchor_storage_). Spawning thus costs no allocation
// for the context (before: a ContextData holder per spawn).
// Invariants:
//  * `seed_task_context` runs once, at spawn, before the fiber exists; `task_context` runs once,
//    in the fiber's entry frame (it also seeds an empty context when nobody did).
//  * The control block holds one reference to the task state, dropped when the last shared or
//    weak owner goes (a Token's weak_ptr keeps only the memory alive). When the last shared owner
//    goes the variables' values are released (a task handle kept around does not keep them).
//  * ~TaskStateBase destroys the ContextData if it was made.
#include <boost/smart_ptr/intrusive_ptr.hpp>

#include <cstddef>
#include <new>

#include "context/exec_state.hpp"
#include "detail/in_place_allocator.hpp"

namespace fiberbridge::detail {

namespace {

ContextData* data_of(TaskStateBase& task) noexcept {
  return std::launder(reinterpret_cast<ContextData*>(task.context_storage_));
}

// The control block of the fiber's context lives in the task state; its end drops the
// reference it held on the task.
struct TaskAnchorSlot {
  using Owner = TaskStateBase;
  static constexpr std::size_t kBytes = TaskStateBase::kAnchorStorage;
  static void* storage(TaskStateBase& t) noexcept { return t.anchor_storage_; }
  static void release(TaskStateBase& t) noexcept { intrusive_ptr_release(&t); }
};

// The last shared owner is gone: release the values now; the ContextData itself goes with the
// task state.
struct ReleaseValues {
  void operator()(ContextData* d) const noexcept { d->map.reset(); }
};

}  // namespace

void seed_task_context(TaskStateBase& task, std::shared_ptr<const VarMap> map) noexcept {
  static_assert(sizeof(ContextData) <= TaskStateBase::kContextStorage &&
                    alignof(ContextData) <= alignof(std::max_align_t),
                "ContextData does not fit TaskStateBase::context_storage_");
  if (!task.context_made_) {
    ::new (static_cast<void*>(task.context_storage_)) ContextData();
    task.context_made_ = true;
  }
  data_of(task)->map = std::move(map);
}

std::shared_ptr<ContextData> task_context(TaskStateBase& task) noexcept {
  if (!task.context_made_) seed_task_context(task, nullptr);
  intrusive_ptr_add_ref(&task);  // the control block's, dropped by its deallocate
  // With an allocator that never fails, constructing the shared_ptr does not throw.
  return std::shared_ptr<ContextData>(data_of(task), ReleaseValues{}, InPlaceAllocator<ContextData, TaskAnchorSlot>(&task));
}

TaskStateBase::~TaskStateBase() {
  if (context_made_) data_of(*this)->~ContextData();
}

}  // namespace fiberbridge::detail
