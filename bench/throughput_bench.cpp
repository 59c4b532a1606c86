// P5 — throughput: per iteration 64 fibers each make 16 sync_to_async calls of a trivial body
// (non-sensitive: the blocking pool), side by side with 64 Asio coroutines x 16 offloads through
// a 1-thread pool. The renderer divides real time by the `calls` counter (1024).
// Target: <= 300 ns per call.
#include <vector>

#include "fixtures.hpp"
#include "ours.hpp"

namespace fbbench {

constexpr int kFibers = 64, kCalls = 16;

// args: scheduler threads; thread_sensitive (0/1).
static void BM_S2A_Throughput(benchmark::State& state) {
  const bool sensitive = state.range(1) != 0;
  on_fiber(state, runtime(static_cast<unsigned>(state.range(0))), [&] {
    auto call = fb::sync_to_async(&trivial_body, fb::SyncToAsyncOptions{.thread_sensitive = sensitive});
    std::vector<fb::Task<void>> tasks;
    tasks.reserve(kFibers);
    for (auto _ : state) {
      for (int t = 0; t < kFibers; ++t)
        tasks.push_back(fb::spawn([&call] {
          for (int i = 0; i < kCalls; ++i) benchmark::DoNotOptimize(call());
        }));
      for (auto& t : tasks) t.get();
      tasks.clear();
    }
  });
  state.counters["calls"] = kFibers * kCalls;
}

BENCHMARK(BM_S2A_Throughput)
    ->ArgNames({"rt_threads", "sensitive"})
    ->Args({1, 0})
    ->Args({2, 0})
    ->Args({1, 1})
    ->UseRealTime()
    ->MeasureProcessCPUTime();
BENCHMARK(BM_AsioOffloadThroughput)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace fbbench

FBBENCH_MAIN();
