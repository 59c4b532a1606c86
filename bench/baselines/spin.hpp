// bench/baselines/spin.hpp — the raw futex round trip's protocol with pure spinning (_mm_pause),
// no syscalls. Needs two CPUs: on one it is meaningless (and pathological), so it is skipped.
#pragma once

#include <immintrin.h>

#include <atomic>
#include <cstdint>

#include "thread_peer.hpp"

namespace fbbench {

struct SpinWait {
  static void wait(std::atomic<std::uint32_t>*, std::uint32_t) noexcept { _mm_pause(); }
  static void wake(std::atomic<std::uint32_t>*) noexcept {}
};
using SpinPeer = ThreadPeer<SpinWait>;

// Baseline: `n` pure spin round trips per iteration.
inline void BM_SpinRT(benchmark::State& state) {
  if (skip_unless_two_cpus(state, "pure spin needs two CPUs (pinned run: n/a)")) return;
  peer_round_trips<SpinPeer>(state);
}

// The same with the two threads on different CPUs (P2).
inline void BM_SpinRT_Split(benchmark::State& state) { peer_round_trips_split<SpinPeer>(state); }

}  // namespace fbbench
