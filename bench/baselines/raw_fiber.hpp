// bench/baselines/raw_fiber.hpp — raw Boost.Fiber on the benchmark thread (round_robin, Boost's
// default algorithm): spawn+join, yield, and skynet the way Boost's own skynet runs it
// (launch::dispatch, 16 KiB fixedsize stacks).
#pragma once

#include <benchmark/benchmark.h>

#include <boost/fiber/all.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "support.hpp"

namespace fbbench {

using SkynetStack = boost::fibers::fixedsize_stack;
constexpr std::size_t kSkynetStack = 16 * 1024;

// Number of fibers a skynet with `leaves` leaves creates (leaves is a power of 10).
inline std::uint64_t skynet_fibers(std::uint64_t leaves) noexcept {
  std::uint64_t total = 0;
  for (std::uint64_t level = 1; level <= leaves; level *= 10) total += level;
  return total;
}
// The expected sum 0 + 1 + ... + (leaves - 1).
inline std::uint64_t skynet_expected(std::uint64_t leaves) noexcept { return leaves * (leaves - 1) / 2; }

// Each fiber with size > 1 starts ten children with launch::dispatch (the child runs at once,
// the parent waits in the ready queue), then joins them and sums what they wrote.
inline void raw_skynet(SkynetStack& salloc, std::uint64_t& out, std::uint64_t num, std::uint64_t size) {
  if (size == 1) {
    out = num;
    return;
  }
  const std::uint64_t sub = size / 10;
  std::uint64_t results[10] = {};
  boost::fibers::fiber children[10];
  for (int i = 0; i < 10; ++i)
    children[i] = boost::fibers::fiber(boost::fibers::launch::dispatch, std::allocator_arg, salloc, raw_skynet,
                                       std::ref(salloc), std::ref(results[i]), num + i * sub, sub);
  std::uint64_t sum = 0;
  for (int i = 0; i < 10; ++i) {
    children[i].join();
    sum += results[i];
  }
  out = sum;
}

inline std::uint64_t run_raw_skynet(std::uint64_t leaves) {
  SkynetStack salloc{kSkynetStack};
  std::uint64_t out = 0;
  boost::fibers::fiber root(boost::fibers::launch::dispatch, std::allocator_arg, salloc, raw_skynet, std::ref(salloc),
                            std::ref(out), std::uint64_t{0}, leaves);
  root.join();
  return out;
}

// Raw round_robin on the benchmark thread (Boost.Fiber's default algorithm).
inline void BM_Raw_SpawnJoin(benchmark::State& state) {
  for (auto _ : state) {
    boost::fibers::fiber f([] { benchmark::DoNotOptimize(trivial_body()); });
    f.join();
  }
}

// One iteration = one yield of the measuring fiber; a partner fiber yields back (2 switches).
inline void BM_Raw_Yield(benchmark::State& state) {
  bool stop = false;
  boost::fibers::fiber partner([&stop] {
    while (!stop) boost::this_fiber::yield();
  });
  for (auto _ : state) boost::this_fiber::yield();
  stop = true;
  partner.join();
}

inline void BM_Raw_Skynet(benchmark::State& state) {
  const auto leaves = static_cast<std::uint64_t>(state.range(0));
  for (auto _ : state) {
    const auto sum = run_raw_skynet(leaves);
    if (sum != skynet_expected(leaves)) state.SkipWithError("raw skynet: wrong sum");
  }
  state.counters["fibers"] = static_cast<double>(skynet_fibers(leaves));
}

}  // namespace fbbench
