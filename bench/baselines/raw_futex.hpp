// bench/baselines/raw_futex.hpp — the raw futex round trip: a 32-bit sequence number each way
// between two threads, bare FUTEX_WAIT / FUTEX_WAKE by syscall, no lock held while waking. The
// floor any blocking hand-off between two threads pays on this machine.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include "thread_peer.hpp"

namespace fbbench {

inline long futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected) noexcept {
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}
inline long futex_wake(std::atomic<std::uint32_t>* word, int count = 1) noexcept {
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
}

struct FutexWait {
  static void wait(std::atomic<std::uint32_t>* word, std::uint32_t seen) noexcept { futex_wait(word, seen); }
  static void wake(std::atomic<std::uint32_t>* word) noexcept { futex_wake(word); }
};
using RawFutexPeer = ThreadPeer<FutexWait>;

// Baseline: `n` raw futex round trips per iteration (n = 2 is the nested case's baseline).
inline void BM_RawFutexRT(benchmark::State& state) { peer_round_trips<RawFutexPeer>(state); }

// The same with the two threads on different CPUs (P2).
inline void BM_RawFutexRT_Split(benchmark::State& state) { peer_round_trips_split<RawFutexPeer>(state); }

}  // namespace fbbench
