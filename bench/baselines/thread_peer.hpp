// bench/baselines/thread_peer.hpp — the round trip between two threads that the raw futex and
// the pure spin baselines share; only how a thread waits for a word to change differs.
//
// ThreadPeer<Wait>: one responder thread. round_trip() publishes seq+1 in `req_` and wakes the
// responder; the responder runs trivial_body(), publishes the same number in `resp_` and wakes
// the requester. No lock is held while waking. `Wait` provides
//   static void wait(std::atomic<std::uint32_t>* word, std::uint32_t seen);  // returns when *word may differ
//   static void wake(std::atomic<std::uint32_t>* word);                       // after a store to *word
// Only the requester calls round_trip(); the responder thread is started by the constructor and
// joined by the destructor.
#pragma once

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <thread>

#include "support.hpp"

namespace fbbench {

template <class Wait>
class ThreadPeer {
 public:
  // responder_cpu >= 0: the responder pins itself there (the split-vCPU regime).
  explicit ThreadPeer(int responder_cpu = -1)
      : thread_([this, responder_cpu] {
          if (responder_cpu >= 0) pin_this_thread(responder_cpu);
          serve();
        }) {}
  ~ThreadPeer() {
    stop_.store(true, std::memory_order_relaxed);
    req_.fetch_add(1, std::memory_order_release);
    Wait::wake(&req_);
    thread_.join();
  }
  ThreadPeer(const ThreadPeer&) = delete;
  ThreadPeer& operator=(const ThreadPeer&) = delete;

  void round_trip() noexcept {
    const std::uint32_t s = ++seq_;
    req_.store(s, std::memory_order_release);
    Wait::wake(&req_);
    std::uint32_t r;
    while ((r = resp_.load(std::memory_order_acquire)) != s) Wait::wait(&resp_, r);
  }

 private:
  void serve() noexcept {
    std::uint32_t seen = 0;
    for (;;) {
      std::uint32_t v;
      while ((v = req_.load(std::memory_order_acquire)) == seen) Wait::wait(&req_, seen);
      if (stop_.load(std::memory_order_relaxed)) return;
      seen = v;
      benchmark::DoNotOptimize(trivial_body());
      resp_.store(v, std::memory_order_release);
      Wait::wake(&resp_);
    }
  }

  alignas(64) std::atomic<std::uint32_t> req_{0};
  alignas(64) std::atomic<std::uint32_t> resp_{0};
  alignas(64) std::uint32_t seq_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// `state.range(0)` round trips per iteration (n = 2 is the nested case's baseline).
template <class Peer>
void peer_round_trips(benchmark::State& state) {
  const auto n = state.range(0);
  Peer peer;
  for (auto _ : state)
    for (int64_t i = 0; i < n; ++i) peer.round_trip();
}

// Split regime (P2): requester pinned to CPU 0, responder to CPU 1; n/a on one CPU.
template <class Peer>
void peer_round_trips_split(benchmark::State& state) {
  if (skip_unless_two_cpus(state, "split needs two CPUs (pinned run: n/a)")) return;
  pin_this_thread(0);
  {
    Peer peer(1);
    for (auto _ : state) peer.round_trip();
  }
  pin_this_thread(-1);
}

}  // namespace fbbench
