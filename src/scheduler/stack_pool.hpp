// scheduler/stack_pool.hpp — fiber stacks with a guard page, cached per runtime.
//
// Owns: mmap'd stacks of one size, each with a PROT_NONE guard page below it, so a stack
// overflow faults at the guard (SIGSEGV) instead of silently corrupting the neighbour.
// Freed stacks are kept in a small cache: mmap + mprotect per spawn costs about 10 µs, a cached
// stack costs a mutex. Thread-safe: a fiber may end on another thread than it started on.
// Invariant: every stack handed out is returned through `release` exactly once.
#pragma once

#include <boost/context/stack_context.hpp>

#include <cstddef>
#include <mutex>
#include <vector>

namespace fiberbridge::detail {

class StackPool {
 public:
  // Smallest usable stack: Boost.Fiber's blocking paths touch about 6 KiB (spinlock_ttas).
  static constexpr std::size_t kMinimumSize = 16 * 1024;
  explicit StackPool(std::size_t stack_size, std::size_t max_cached = 128);
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  boost::context::stack_context acquire();  // throws std::bad_alloc
  void release(boost::context::stack_context sctx) noexcept;
  std::size_t stack_size() const noexcept { return size_; }

 private:
  std::size_t size_;      // usable bytes, page-rounded
  std::size_t page_;
  std::size_t max_cached_;
  std::mutex m_;
  std::vector<void*> cache_;  // bases of the mappings (the guard page)
};

// The allocator handed to boost::fibers::fiber: gives out one stack taken in advance (so that
// allocation failure is reported to the spawner, on its own thread) and returns it to the pool.
class PooledStack {
 public:
  PooledStack(StackPool& pool, boost::context::stack_context sctx) noexcept : pool_(&pool), sctx_(sctx) {}
  boost::context::stack_context allocate() noexcept { return sctx_; }
  void deallocate(boost::context::stack_context& sctx) noexcept { pool_->release(sctx); }

 private:
  StackPool* pool_;
  boost::context::stack_context sctx_;
};

}  // namespace fiberbridge::detail
