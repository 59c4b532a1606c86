// detail/parker.hpp — how every thread of fiberbridge waits: one futex word per waiter, an
// adaptive spin before parking, and a wake-up syscall only when the waiter really sleeps.
//
// Owns: the idle policy of scheduler threads, the sync thread, thread-sensitive threads and
// threads parked in async_to_sync. Why: on this kind of VM waking a parked thread on another
// vCPU costs about 20 µs, spinning a few µs first cuts a round trip to about 1 µs — but spinning
// while the peer shares our vCPU only delays the peer. So:
//  * the waiter spins only if the thread that woke it last ran on another CPU;
//  * the spin budget adapts: it halves when a spin ends in parking anyway, and grows back when
//    a park was woken sooner than the budget would have covered (a spin would have caught it);
//  * `max_spin` caps it; 0 means never spin;
//  * a waiter that does not spin yields its CPU once before it sleeps on the futex, if the last
//    notifier ran on its CPU: a notifier that shares our CPU (a body thread under SCHED_BATCH
//    that we just gave work, see detail/batch_scheduling.hpp, or a scheduler thread running our
//    fiber) then runs first and its notification finds us awake, which saves the futex sleep and
//    wake. Measured pinned to one vCPU: a thread-sensitive sync_to_async 5.7 -> 3.5 µs,
//    async_to_sync 5.3 -> 3.9 µs (the raw futex round trip is 4.1 µs); unpinned the waiter spins
//    instead, as before. Not before a scheduler thread waits in the reactor (see
//    ParkingSpot::wait_in_reactor).
// Protocol (one waiter, any number of notifiers): state EMPTY -> PARKED by the waiter before
// futex_wait; a notifier swaps in NOTIFIED and calls futex_wake only if it saw PARKED. A
// notification that arrives before `park` is not lost: park consumes it and returns at once.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace fiberbridge::detail {

class Parker {
 public:
  explicit Parker(std::chrono::nanoseconds max_spin = default_max_spin()) noexcept;

  // Waits until notified or `deadline`; true if notified. Only the owning thread calls it.
  bool park_until(std::chrono::steady_clock::time_point deadline) noexcept;
  void park() noexcept { (void)park_until(std::chrono::steady_clock::time_point::max()); }
  // Wakes the waiter (now, or its next park). Any thread. Its exchange is seq_cst: a scheduler
  // thread waiting in the reactor pairs it with its own announcement (scheduler/work_stealing).
  void unpark() noexcept;
  // Consumes a notification that arrived, without waiting; true if there was one. Owner only.
  bool take_notification() noexcept {
    std::uint32_t expected = kNotified;
    return state_.compare_exchange_strong(expected, kEmpty, std::memory_order_seq_cst);
  }

  // Before a sleep that no spin precedes (park_until without a spin): if the last notifier ran
  // on our CPU, or none was seen yet, yields the CPU once so that it runs first. True if a
  // notification came meanwhile (consumed). Owner only.
  bool yield_to_notifier() noexcept;

  void set_max_spin(std::chrono::nanoseconds max_spin) noexcept;

  // What the spin policy has learned (where the last notifier ran, the spin budget), so that a
  // short-lived Parker of the same thread (an async_to_sync frame) starts from it: a fresh one
  // never spins on its first park (no notifier seen yet), and every wake-up then crossed vCPUs
  // through the futex (~20 µs here) instead of being caught by a spin. Owner only.
  struct Learned {
    int notifier_cpu = -1;
    std::int64_t budget_ns = -1;  // -1: none learned
  };
  Learned learned() const noexcept { return {notifier_cpu_.load(std::memory_order_relaxed), budget_ns_}; }
  void start_from(const Learned& l) noexcept {
    notifier_cpu_.store(l.notifier_cpu, std::memory_order_relaxed);
    if (l.budget_ns >= 0) budget_ns_ = std::min(l.budget_ns, max_spin_ns_);
  }
  // FIBERBRIDGE_MAX_SPIN_NS from the environment, else 50 µs (a wake-up across vCPUs costs
  // 20-45 µs on this kind of VM: the cap must cover one, see park_until's learning rule).
  static std::chrono::nanoseconds default_max_spin() noexcept;

 private:
  enum : std::uint32_t { kEmpty = 0, kNotified = 1, kParked = 2 };
  bool spin(std::int64_t budget_ns) noexcept;

  std::atomic<std::uint32_t> state_{kEmpty};
  std::atomic<int> notifier_cpu_{-1};
  std::atomic<std::int64_t> notified_at_{0};  // when a notifier woke us from the futex (0: unknown)
  std::int64_t max_spin_ns_;
  std::int64_t budget_ns_;
};

}  // namespace fiberbridge::detail
