// detail/spinlock.hpp — a test-and-test-and-set lock for critical sections of a few instructions
// that never block (a scheduler's ready queue).
//
// Why not std::mutex: an uncontended pthread mutex lock+unlock costs two locked instructions and
// a function call each way; the ready queue is locked twice per fiber switch, which made
// `this_fiber::yield` on a runtime 1.34x raw Boost.Fiber (bench/fiber_ops_bench, pinned). This
// lock is one exchange and one release store. Waiters spin with a pause, then yield the CPU
// (the holder may have been preempted on this 2-vCPU VM). Boost.Fiber has the same kind of lock,
// but only in its detail namespace.
#pragma once

#include <atomic>
#include <thread>

namespace fiberbridge::detail {

// One step of a busy-wait: tells the CPU we are spinning (x86 PAUSE frees the sibling
// hyperthread and avoids a memory-order flush on exit). Shared by Spinlock and Parker. Not
// named cpu_relax: Boost.Fiber defines that name as a macro.
inline void spin_pause() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

class Spinlock {
 public:
  void lock() noexcept {
    for (unsigned spins = 0; locked_.exchange(true, std::memory_order_acquire);) {
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins < 64) {
          spin_pause();
        } else {
          std::this_thread::yield();
        }
      }
    }
  }
  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

}  // namespace fiberbridge::detail
