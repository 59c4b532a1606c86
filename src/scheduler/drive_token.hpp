// scheduler/drive_token.hpp — which scheduler thread may run the runtime's reactor now.
//
// Owns: the reactor pointer of one SchedulerGroup, the token that lets one thread at a time run
// it (an idle thread waits in it, a busy one polls it), and the *claim*: the thread whose
// handlers last made fibers ready keeps the reactor while it runs them.
//
// Why the claim (measured on kv_service under wrk, 2 scheduler threads on the 2 vCPUs wrk also
// uses): without it, a thread that leaves the reactor to run the fibers its handlers readied
// leaves the token free, the other thread takes it as soon as it idles, and the next
// completions ready fibers *there*. Both threads then run request fibers, hand I/O back and
// forth and cost CPU that wrk needs; the coroutine variant, whose handlers run inside the
// reactor, keeps to one thread. With the claim a peer that goes idle while the claimant runs
// fibers parks on its futex instead of taking the reactor; the claimant polls it between
// fibers (every WorkStealing::kPollEvery picks) and waits in it when it idles. (Under heavy
// load the spread policy still wakes the peer once a backlog lasts, and it may drive then: at
// 50 and 200 connections both threads stay busy. The claim mainly keeps light load on one
// thread.)
//
// When the claim goes: the claimant drops it when a backlog of its fibers has lasted (the
// spread policy wakes a peer to share the work, I/O included); an idle peer that parked beside
// it drops it when the claimant has not switched for WorkStealing::kClaimCheck
// (park_beside_claimant); the slow-fiber watchdog drops it for a thread stuck in one fiber
// (observe/runtime_observer.hpp). A peer that parked before the claim was taken (the token was
// held by a thread waiting in the reactor) relies on the watchdog alone.
// Thread-safe; the claim is a hint read relaxed (a stale read costs one wrongly placed drive,
// never a lost wake-up: the token itself is the exchange on `driving_`).
#pragma once

#include <atomic>
#include <cstddef>

#include "detail/spinlock.hpp"
#include "scheduler/sources.hpp"

namespace fiberbridge::detail {

class DriveToken {
 public:
  static constexpr std::size_t kNobody = ~std::size_t{0};

  void attach(Reactor* r) noexcept { reactor_.store(r, std::memory_order_seq_cst); }
  // Detaches the reactor, interrupting a driver until it has left. Returns once nobody drives.
  void detach() noexcept;
  bool attached() const noexcept { return reactor_.load(std::memory_order_relaxed) != nullptr; }

  // The reactor if thread `self` may run it now (then release()), else null: it is attached,
  // nobody else drives, and no other thread holds the claim.
  Reactor* try_take(std::size_t self) noexcept;
  void release() noexcept { driving_.store(false, std::memory_order_seq_cst); }
  // Interrupts the current (or next prepared) wait in the reactor, if one is attached.
  void interrupt() noexcept;

  void claim(std::size_t self) noexcept { claim_.store(self, std::memory_order_relaxed); }
  // Drops the claim if `of` holds it.
  void drop_claim(std::size_t of) noexcept {
    std::size_t expected = of;
    (void)claim_.compare_exchange_strong(expected, kNobody, std::memory_order_relaxed);
  }
  std::size_t claimant() const noexcept { return claim_.load(std::memory_order_relaxed); }

 private:
  std::atomic<Reactor*> reactor_{nullptr};
  std::atomic<bool> driving_{false};
  std::atomic<std::size_t> claim_{kNobody};
  Spinlock m_;  // held while interrupting, so that detach never races with it
};

}  // namespace fiberbridge::detail
