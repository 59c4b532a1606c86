// bridge/fiber_sync_call.hpp — one fiber sync_to_async call in one block: in the calling
// fiber's stack (the call slot at its top, see StackHome in scheduler/stack_pool.hpp) when it
// fits and is free, else one heap allocation.
//
// Owns: the block [FiberSyncCall | the body (SyncCall<F, Args>: callable, arguments, result)],
// holding everything the two sides share: the waiting state (lock, waiting fiber, outcome),
// the body's context copy (`body_data`), its rule-4 hold, its scope and the job's queue
// reference. Nothing else is allocated per call: the job handed to an executor is the block
// itself (a WorkNode: a dedicated thread or an async_to_sync frame links it into its queue
// without growing a buffer, see bridge/work_queue.hpp), the body sees the caller's stop
// through a reference to the caller's task (no std::stop_source unless the body asks for a
// token).
//
// References (intrusive, no shared_ptr cycle):
//  * `users_` — the calling fiber and the job (while it exists: from `queued_job()` until the
//    node is finished). The last one destroys the body
//    (callable, arguments, result) and drops the users' memory reference. Either may be last:
//    the caller normally, the body's thread when the caller was cancelled and the body ran on
//    detached.
//  * `mem_` — the users (one, together) plus the anchor while it exists. The last one destroys
//    the block and frees it.
//  * the anchor: a shared_ptr<ContextData> to `body_data` whose control block lives in
//    `anchor_storage_` (an allocator that hands out that storage; its deallocate drops the
//    anchor's memory reference). The body's Scope needs shared_ptrs (its context, the rule-4
//    Hold aliased to the same control block); anything that keeps them past the call (a Token's
//    weak_ptr, a fiber spawned by the body holding the hold chain) keeps only the memory, never
//    the body, alive. The anchor is created once, in begin(), and lives in `body_scope` until
//    the job moves the scope onto the body's thread, or a job destroyed unrun (or a failed
//    submission) clears it: the block never owns itself for longer than that.
// Thread rules: begin/bind/end and the wait run on the calling fiber; the job moves
// `body_scope` out and calls body_done on the body's thread; `m` guards `waiter`, `done` and
// `error`.
#pragma once

#include <boost/fiber/context.hpp>
#include <boost/fiber/detail/spinlock.hpp>
#include <boost/smart_ptr/intrusive_ptr.hpp>

#include <atomic>
#include <cstddef>
#include <exception>
#include <optional>
#include <stop_token>

#include "bridge/router.hpp"
#include "bridge/sync_job.hpp"
#include "context/exec_state.hpp"
#include "fiberbridge/sync_to_async.hpp"

namespace fiberbridge::detail {

class StackHome;

struct FiberSyncCall : private WorkNode {
  static constexpr const char* kBridgeName = "sync_to_async";

  // One block (the call slot or the heap): this header, then the body built by `make` at an
  // offset aligned for it. The caller holds the one reference returned. Throws std::bad_alloc
  // and what `make` throws.
  static boost::intrusive_ptr<FiberSyncCall> create(std::size_t size, std::size_t align, SyncCallBase* (*make)(void*, void*),
                                            void* arg);

  void add_ref() noexcept { users_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept;
  // boost::intrusive_ptr's hooks (found by argument-dependent lookup).
  friend void intrusive_ptr_add_ref(FiberSyncCall* c) noexcept { c->add_ref(); }
  friend void intrusive_ptr_release(FiberSyncCall* c) noexcept { c->release(); }

  // The body runs in a copy of the caller's context (O(1): the map is immutable and shared)
  // and sees the caller's stop: its task's (held), or its scope's token when it has no task.
  void begin(const Scope& caller);
  // The body's scope for `route` (see SyncBody::bind): the hold, when there is one, is this
  // block's, shared through the anchor. Caller's side only, while no job of this call exists.
  void bind(const Route& route, const RoutingState& routing, Runtime* outer);
  // Copies what the body changed so far back into the caller's context (all of it unless the
  // caller was cancelled first). Caller's side, after the wait.
  void end(ContextData& caller) const { copy_back(before, body_data.snapshot(), caller); }
  // Drops the scope that was bound but never ran (no job of this call exists any more).
  void unbind() noexcept { Scope dead = std::move(body_scope); }
  void release_hold() noexcept {
    if (hold) hold->active.store(false, std::memory_order_release);
  }
  // The body's outcome (or a job destroyed unrun): wakes the caller.
  void body_done(std::exception_ptr e) noexcept;
  // The call's job (see make_sync_job): this block as a queue node, holding a user reference.
  // One at a time: the caller makes the next only after the previous one was finished.
  unique_function queued_job() noexcept {
    add_ref();
    return unique_function(static_cast<WorkNode*>(this));
  }

  SyncCallBase* call = nullptr;  // the body, in this block
  std::shared_ptr<const VarMap> before;
  ContextData body_data;
  std::optional<Hold> hold;  // rule 4, when the target is a single thread
  Scope body_scope;          // moved onto the body's thread when it starts
  boost::intrusive_ptr<TaskStateBase> caller_task;  // whose stop the body sees, or
  std::stop_token body_stop;                        // the caller's token when it has no task
  std::atomic<bool> resubmitting{false};  // a job destroyed now was refused, not dropped

  // The waiting state. The fiber parks detached while it waits (scheduler/fiber_wake.hpp), so
  // whoever settles the call (body_done, or the stop callback) makes it ready through
  // wake_fiber: from the body's thread it is handed back to the thread it last ran on, from a
  // scheduler thread of its runtime it is adopted there (wait_parked / wake_waiter, both
  // under `m`).
  boost::fibers::detail::spinlock m;
  boost::fibers::context* waiter = nullptr;  // the suspended caller, while it waits
  bool done = false;
  std::exception_ptr error;

 private:
  friend struct FiberSyncAnchorSlot;  // fiber_sync_call.cpp: the anchor's in-place control block
  static constexpr std::size_t kAnchorSize = 8 * sizeof(void*);

  FiberSyncCall(std::size_t align, StackHome* home) noexcept : WorkNode(&finish_job), align_(align), home_(home) {}
  // The job's end: runs the body, or reports it dropped unrun (unless the router took it back),
  // then drops the job's reference.
  static void finish_job(WorkNode* node, bool run) noexcept;
  void drop_memory() noexcept;

  std::atomic<unsigned> users_{1};
  std::atomic<unsigned> mem_{1};
  std::size_t align_;  // of the allocation
  StackHome* home_;    // the stack whose call slot holds the block, or nullptr (heap)
  alignas(std::max_align_t) unsigned char anchor_storage_[kAnchorSize];
};

}  // namespace fiberbridge::detail
