// scheduler/spread_policy.hpp — when a batch of ready fibers is worth waking an idle peer for.
//
// Why not at once: the dispatcher readies fibers in batches (a reactor wait or poll that
// completes several sockets, fibers handed back by a sync thread), and a thread usually runs
// such a batch in a few microseconds per fiber. Waking a parked peer costs about 5-45 us on
// this VM class (a futex wake or a reactor interrupt, then a cold thread); the peer then steals
// fibers whose next wake-ups land on *it*, so both threads stay awake and later hand-offs
// between them cross CPUs. So a batch counts as surplus only if it lasts: an idle peer is woken
// when fibers are still queued kAgeNs after the dispatcher first queued one behind another.
// Checked at each pick; behind a fiber that does not yield, the slow-fiber watchdog offers the
// batch to an idle peer at its next sample (threshold/5: 20 ms by default; observe/watchdog).
// (tokio gets a similar effect from its LIFO slot and its searching-worker throttle.)
//
// Measured (kv_service under wrk, 2 threads, on the same 2 vCPUs as wrk; medians of 3-5 runs of
// 3 s, one binary each, alternated): p99 at 10/50/200 connections 0.57/2.21/13.1 ms against
// 0.90/4.69/14.9 ms when every batch woke a peer at once.
//
// What stays immediate (work_stealing.cpp): a fiber woken by a *running* fiber (that one runs
// on, possibly for long) and new fibers (LaunchGuard). A lasting backlog also takes away the
// thread's claim on the reactor (drive_token.hpp): the woken peer may serve I/O too.
#pragma once

#include <cstdint>

#include "detail/clock.hpp"

namespace fiberbridge::detail {

// One per scheduler thread, owner only.
class SurplusClock {
 public:
  // A backlog older than this wakes an idle peer: about one cross-vCPU wake-up on this VM.
  static constexpr std::int64_t kAgeNs = 50'000;

  bool pending() const noexcept { return since_ns_ != 0; }
  // Fibers were queued behind others; the first such moment counts.
  void note() noexcept {
    if (since_ns_ != 0) return;
    const std::int64_t now = steady_ns();
    since_ns_ = now != 0 ? now : 1;  // 0 is taken: "no backlog"
  }
  // At a pick, with whether fibers are still queued behind the picked one: true once the
  // backlog has lasted kAgeNs (then the clock restarts with the next batch). Reads the clock
  // only while a backlog is being timed.
  bool due(bool still_queued) noexcept {
    if (!still_queued) {
      since_ns_ = 0;
      return false;
    }
    if (steady_ns() - since_ns_ < kAgeNs) return false;
    since_ns_ = 0;
    return true;
  }

 private:
  std::int64_t since_ns_ = 0;  // 0: no backlog being timed
};

}  // namespace fiberbridge::detail
