// bridge/fiber_sync_call.cpp — see fiber_sync_call.hpp.
#include "bridge/fiber_sync_call.hpp"

#include <new>

#include "detail/in_place_allocator.hpp"
#include "scheduler/fiber_props.hpp"
#include "scheduler/fiber_wake.hpp"
#include "scheduler/stack_pool.hpp"

namespace fiberbridge::detail {

// The anchor's control block lives in the call block (one per call, allocated once); its end
// drops the anchor's memory reference, after the control block was destroyed (nothing touches
// it afterwards).
struct FiberSyncAnchorSlot {
  using Owner = FiberSyncCall;
  static constexpr std::size_t kBytes = FiberSyncCall::kAnchorSize;
  static void* storage(FiberSyncCall& c) noexcept { return c.anchor_storage_; }
  static void release(FiberSyncCall& c) noexcept { c.drop_memory(); }
};

namespace {

struct KeepData {
  void operator()(ContextData*) const noexcept {}  // destroyed with the block
};

constexpr std::size_t kDefaultAlign = __STDCPP_DEFAULT_NEW_ALIGNMENT__;

void free_block(void* p, std::size_t align, StackHome* home) noexcept {
  if (home != nullptr) {
    home->give_back_call_slot();  // may return the stack: the last use of `home`
  } else if (align > kDefaultAlign) {
    ::operator delete(p, std::align_val_t(align));
  } else {
    ::operator delete(p);
  }
}

// The calling fiber's stack slot for the block (see StackHome), or nullptr: not a runtime
// fiber, the block does not fit, or the slot still holds an earlier block.
StackHome* take_call_slot(std::size_t bytes, std::size_t align, void*& raw) noexcept {
  if (align > 64) return nullptr;
  auto* props = FiberProps::of(boost::fibers::context::active());
  StackHome* home = props != nullptr ? props->stack_home : nullptr;
  if (home == nullptr) return nullptr;
  raw = home->take_call_slot(bytes);
  return raw != nullptr ? home : nullptr;
}

}  // namespace

boost::intrusive_ptr<FiberSyncCall> FiberSyncCall::create(std::size_t size, std::size_t align,
                                                  SyncCallBase* (*make)(void*, void*), void* arg) {
  const std::size_t a = align > alignof(FiberSyncCall) ? align : alignof(FiberSyncCall);
  const std::size_t offset = (sizeof(FiberSyncCall) + align - 1) / align * align;
  void* raw = nullptr;
  StackHome* home = take_call_slot(offset + size, a, raw);
  if (home == nullptr)
    raw = a > kDefaultAlign ? ::operator new(offset + size, std::align_val_t(a)) : ::operator new(offset + size);
  auto* c = ::new (raw) FiberSyncCall(a, home);
  try {
    c->call = make(static_cast<unsigned char*>(raw) + offset, arg);
  } catch (...) {
    c->~FiberSyncCall();
    free_block(raw, a, home);
    throw;
  }
  return boost::intrusive_ptr<FiberSyncCall>(c, false);  // adopts the reference
}

void FiberSyncCall::finish_job(WorkNode* node, bool run) noexcept {
  boost::intrusive_ptr<FiberSyncCall> ctl(static_cast<FiberSyncCall*>(node), false);  // the job's reference
  if (run) {
    run_sync_body(*ctl);
  } else {
    ReportUnrunJob<FiberSyncCall>{}(*ctl);
  }
}

void FiberSyncCall::release() noexcept {
  if (users_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // Neither the caller nor a job is left: the body (callable, arguments, result) goes now, on
  // this thread, as it did when it was shared by the two; the memory may outlive it (anchor).
  call->~SyncCallBase();
  call = nullptr;
  caller_task.reset();  // the anchor's memory may live on (a Token's weak_ptr); the task need not
  drop_memory();
}

void FiberSyncCall::drop_memory() noexcept {
  if (mem_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  const std::size_t a = align_;
  StackHome* home = home_;
  void* raw = this;
  this->~FiberSyncCall();
  free_block(raw, a, home);
}

void FiberSyncCall::begin(const Scope& caller) {
  before = caller.context->snapshot();
  body_data.map = before;
  if (caller.task != nullptr) {
    caller_task = caller.task;
  } else {
    body_stop = caller.stop;
  }
  mem_.fetch_add(1, std::memory_order_relaxed);  // the anchor's, dropped by its deallocate
  body_scope.context = std::shared_ptr<ContextData>(&body_data, KeepData{}, InPlaceAllocator<ContextData, FiberSyncAnchorSlot>(this));
}

void FiberSyncCall::bind(const Route& route, const RoutingState& routing, Runtime* outer) {
  std::shared_ptr<ContextData> anchor = std::move(body_scope.context);
  unbind();      // a previous binding's hold alias goes before its Hold
  hold.reset();
  Scope body = body_scope_base(anchor, routing, body_stop, outer);
  body.caller_task = caller_task;
  if (route.holdable()) {
    const Hold& h = hold.emplace(route.target(), body.routing.holds);
    body.routing.holds = std::shared_ptr<const Hold>(anchor, &h);  // aliasing: no allocation
  }
  body_scope = std::move(body);
}

void FiberSyncCall::body_done(std::exception_ptr e) noexcept {
  release_hold();
  unbind();  // a job destroyed unrun still had the scope (and the anchor); a run one moved it out
  boost::fibers::detail::spinlock_lock g(m);
  if (done) return;
  done = true;
  error = std::move(e);
  // Under the lock (fiber_wake.hpp): the woken fiber takes it again before it goes on, so it
  // cannot finish (and its runtime end) while the hand-over still touches that runtime.
  wake_waiter(waiter);
}

}  // namespace fiberbridge::detail
