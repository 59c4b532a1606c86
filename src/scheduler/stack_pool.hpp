// scheduler/stack_pool.hpp — fiber stacks with a guard page, carved from big mappings and reused.
//
// Owns: the stacks of one runtime, all of one size, each with a guard page below it, so a stack
// overflow faults at the guard (SIGSEGV, reported by stack_guard) instead of silently corrupting
// the neighbour. Why this shape (each point measured by bench/fiber_ops_bench and memory_bench):
//  * Stacks are carved from slabs of about 4 MiB. One mmap per stack plus an mprotect'ed guard
//    cost two VMAs per fiber, and vm.max_map_count (65530) stopped a runtime at 32,734 fibers.
//    Guards are installed with MADV_GUARD_INSTALL (Linux 6.13+), which marks the page in the
//    page tables without splitting the mapping: one VMA per slab, so a million fibers fit. On
//    older kernels it falls back to mprotect (two VMAs per stack, as before).
//  * Freed stacks are reused LIFO without any syscall: munmap per fiber end (TLB shootdowns)
//    and first-touch page faults on fresh stacks dominated spawn-heavy loads (skynet, 14x raw).
//  * Memory goes back to the kernel when the runtime is idle: `trim()` (called by a scheduler
//    thread about to park) keeps the most recently used `max_hot` free stacks resident and
//    drops the pages of the others (MADV_DONTNEED, coalesced over adjacent stacks). The
//    address space stays reserved (MAP_NORESERVE) for reuse.
//  * Each scheduler thread keeps a few free stacks of its own (`ThreadCache`, attached with
//    `attach_thread`), taken and given back without the pool's lock; it trades with the pool in
//    batches. With one shared lock, two threads spawning and ending fibers (skynet on 2
//    threads) contended on every spawn and every fiber end.
//  * The pool is made on the heap and outlives its runtime while stacks are out: a finished
//    fiber's stack may still carry its task state (StackHome below), which a Task handle can
//    keep past ~Runtime. `retire()` hands the pool over to its last returned stack.
// Thread-safe: a fiber may end on another thread than it started on.
// Invariant: every stack handed out is returned through `release` exactly once; slabs are
// unmapped only when no stack is in use.
#pragma once

#include <boost/context/stack_context.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace fiberbridge::detail {

struct ThreadCache;

class StackPool {
 public:
  // Smallest usable stack: Boost.Fiber's blocking paths touch about 6 KiB (spinlock_ttas).
  static constexpr std::size_t kMinimumSize = 16 * 1024;
  // max_hot = 0: keep about 16 MiB of free stacks resident (at least 64, at most 4096 stacks).
  explicit StackPool(std::size_t stack_size, std::size_t max_hot = 0);
  ~StackPool();
  // The owner lets go of a heap-made pool: it is deleted now if no stack is out, else by the
  // `release` that returns the last one (from any thread). Call after every `detach_thread`.
  void retire() noexcept;
  // Called (under the pool's lock) when stacks returned by a thread that is not attached make
  // a surplus that no trim is waiting for yet: the owner wakes a thread that will call `trim`.
  // Cleared with (nullptr, nullptr) before the owner goes.
  using SurplusHook = void (*)(void* arg) noexcept;
  void set_on_surplus(SurplusHook hook, void* arg) noexcept {
    std::lock_guard g(m_);
    on_surplus_ = hook;
    on_surplus_arg_ = arg;
  }
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  boost::context::stack_context acquire();  // throws std::bad_alloc
  void release(boost::context::stack_context sctx) noexcept;
  // Gives the calling thread a cache of free stacks used by its acquire/release until
  // `detach_thread` (which returns the cached stacks to the pool). One thread, one pool at a time.
  void attach_thread() noexcept;
  void detach_thread() noexcept;
  // Called by a scheduler thread about to park. Returns the pages of free stacks beyond
  // `max_hot` to the kernel once the surplus has outlived `kTrimDelay` of idleness (so bursts a
  // moment apart keep their stacks warm). Returns when it wants to be called again
  // (time_point::max() when nothing is pending). One atomic load when there is no surplus.
  std::chrono::steady_clock::time_point trim() noexcept;
  static constexpr std::chrono::seconds kTrimDelay{1};
  std::size_t stack_size() const noexcept { return size_; }

 private:
  struct Slab {
    char* base;
    std::size_t bytes;
  };
  char* carve();  // a never-used slot (guard page + stack), from the current or a new slab
  char* take_locked();  // a free or new slot; m_ held
  void refill(ThreadCache& cache);  // half a cache's worth from the pool (or a new slot)
  void spill(ThreadCache& cache) noexcept;  // half of a full cache back to the pool
  void put_back(char* const* slots, std::size_t n) noexcept;  // free slots back to the hot list
  std::size_t slot() const noexcept { return page_ + size_; }

  std::size_t size_;  // usable bytes, page-rounded
  std::size_t page_;
  std::size_t max_hot_;
  std::size_t slots_per_slab_;
  std::mutex m_;
  std::vector<Slab> slabs_;
  char* next_ = nullptr;       // next never-used slot of the newest slab
  std::size_t fresh_left_ = 0;  // never-used slots left in it
  std::vector<char*> hot_;     // free slots whose pages may be resident; the back is the newest
  std::vector<char*> cold_;    // free slots whose pages were returned to the kernel
  std::atomic<std::size_t> hot_count_{0};
  std::chrono::steady_clock::time_point surplus_since_{};  // {} = no surplus seen since the last acquire
  std::size_t in_use_ = 0;
  bool retired_ = false;  // see retire(); under m_
  SurplusHook on_surplus_ = nullptr;  // under m_
  void* on_surplus_arg_ = nullptr;
};

// A runtime's pool: made on the heap, retired (not deleted) when the runtime goes.
class OwnedStackPool {
 public:
  explicit OwnedStackPool(std::size_t stack_size) : pool_(new StackPool(stack_size)) {}
  ~OwnedStackPool() {
    pool_->set_on_surplus(nullptr, nullptr);
    pool_->retire();
  }
  OwnedStackPool(const OwnedStackPool&) = delete;
  OwnedStackPool& operator=(const OwnedStackPool&) = delete;
  StackPool& operator*() const noexcept { return *pool_; }

 private:
  StackPool* pool_;
};

// The top of a pooled stack, placed there by the spawner: who still needs the stack, and the
// rest of the top that the spawner keeps out of Boost's hands. Layout, from the top down:
// [StackHome][the scheduler's FrameProps][the call slot][the task state, when it fits][Boost's
// context, then the fiber's frames]. Holds: one for the fiber (dropped when Boost deallocates
// the stack, or by the spawner if the fiber never starts), one while a task state lives here
// (dropped when its last reference goes), one while a call block occupies the call slot. The
// last drop returns the stack to the pool, so a task state in the stack stays valid after its
// fiber ended, for as long as a Task handle refers to it; the stack is reused only then (as a
// Boost.Fiber fiber keeps its stack until joined).
//
// The call slot holds the block of the fiber's current sync_to_async call (fiber_sync_call.hpp)
// when it fits: the fiber waits for its call, so one slot serves every call, except after a
// cancellation (the body runs on detached, and its block stays until it finishes: the stack
// too) or while something the body left behind keeps the block's memory; a call that finds
// the slot taken uses the heap. Only stacks that keep StackPool::kMinimumSize for Boost after
// the slot have one (the default 64 KiB stack does; a 16 KiB one does not): the slot must not
// eat into the depth that the minimum promises.
class StackHome {
 public:
  // Takes a stack from `pool` and places the home at its top, with `record_bytes` below it for
  // the spawner's record of the fiber (`record()`), then the call slot (when the stack is big
  // enough, see above). Throws std::bad_alloc.
  static StackHome* take(StackPool& pool, std::size_t record_bytes);
  void* record() const noexcept { return record_; }
  static constexpr std::size_t kCallSlotBytes = 512;
  // The call slot for a block of `bytes` (aligned to 64), holding the stack until it is given
  // back; nullptr if the stack has no slot, the block does not fit or the slot is taken. The
  // fiber's own thread only.
  void* take_call_slot(std::size_t bytes) noexcept {
    if (call_slot_ == nullptr || bytes > kCallSlotBytes || call_slot_busy_.exchange(true, std::memory_order_acquire)) return nullptr;
    hold();
    return call_slot_;
  }
  // Any thread, once the block in the slot is destroyed; may return the stack (this included).
  void give_back_call_slot() noexcept {
    call_slot_busy_.store(false, std::memory_order_release);
    drop();
  }
  // Keeps `bytes` (rounded up to 64) of the top out of Boost's hands; their address, or nullptr
  // (nothing kept) if that would leave Boost less than `keep_for_boost` bytes.
  void* reserve_top(std::size_t bytes, std::size_t keep_for_boost = 0) noexcept {
    bytes = (bytes + 63) & ~std::size_t{63};
    if (given_.size < bytes + keep_for_boost) return nullptr;
    given_.sp = static_cast<char*>(given_.sp) - bytes;
    given_.size -= bytes;
    return given_.sp;
  }
  boost::context::stack_context given() const noexcept { return given_; }
  void hold() noexcept { holds_.fetch_add(1, std::memory_order_relaxed); }
  // The last drop returns the stack (this home included) to the pool. Any thread.
  void drop() noexcept {
    if (holds_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    StackPool* pool = pool_;
    const boost::context::stack_context whole = whole_;  // this object is in the stack returned
    pool->release(whole);
  }

 private:
  StackHome(StackPool& pool, boost::context::stack_context whole) noexcept : pool_(&pool), whole_(whole), given_(whole) {}
  std::atomic<unsigned> holds_{1};  // the fiber's
  StackPool* pool_;
  boost::context::stack_context whole_;  // as taken from the pool
  boost::context::stack_context given_;  // what is left for Boost
  void* record_ = nullptr;
  void* call_slot_ = nullptr;
  std::atomic<bool> call_slot_busy_{false};
};

// The allocator handed to boost::fibers::fiber: gives Boost what the home left of a stack taken
// in advance (so that allocation failure is reported to the spawner, on its own thread), and
// drops the fiber's hold when Boost is done with it.
class PooledStack {
 public:
  explicit PooledStack(StackHome& home) noexcept : home_(&home) {}
  boost::context::stack_context allocate() noexcept { return home_->given(); }
  void deallocate(boost::context::stack_context&) noexcept { home_->drop(); }

 private:
  StackHome* home_;
};

// Whether `addr` lies in a guard page installed by some StackPool's slab (MADV_GUARD_INSTALL
// guards do not show as PROT_NONE in /proc/self/maps). Async-signal-safe: a fixed table of
// atomics, read by the SIGSEGV reporter.
bool in_pooled_guard_page(std::uintptr_t addr) noexcept;

}  // namespace fiberbridge::detail
