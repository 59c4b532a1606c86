// scheduler/stack_pool.cpp — see stack_pool.hpp.
#include "scheduler/stack_pool.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <new>

namespace fiberbridge::detail {

StackPool::StackPool(std::size_t stack_size, std::size_t max_cached)
    : page_(static_cast<std::size_t>(::sysconf(_SC_PAGESIZE))), max_cached_(max_cached) {
  const std::size_t wanted = std::max(stack_size, kMinimumSize);
  size_ = (wanted + page_ - 1) / page_ * page_;
}

StackPool::~StackPool() {
  for (void* base : cache_) ::munmap(base, size_ + page_);
}

boost::context::stack_context StackPool::acquire() {
  void* base = nullptr;
  {
    std::lock_guard g(m_);
    if (!cache_.empty()) {
      base = cache_.back();
      cache_.pop_back();
    }
  }
  if (base == nullptr) {
    base = ::mmap(nullptr, size_ + page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) throw std::bad_alloc();
    if (::mprotect(base, page_, PROT_NONE) != 0) {  // out of VMAs: refuse rather than run unguarded
      ::munmap(base, size_ + page_);
      throw std::bad_alloc();
    }
  }
  boost::context::stack_context sctx;
  sctx.size = size_;
  sctx.sp = static_cast<char*>(base) + page_ + size_;  // stacks grow down from the top
  return sctx;
}

void StackPool::release(boost::context::stack_context sctx) noexcept {
  void* base = static_cast<char*>(sctx.sp) - sctx.size - page_;
  {
    std::lock_guard g(m_);
    if (cache_.size() < max_cached_) {
      cache_.push_back(base);
      return;
    }
  }
  ::munmap(base, size_ + page_);
}

}  // namespace fiberbridge::detail
