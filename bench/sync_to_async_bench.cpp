// P1/P2 — sync_to_async round trip of a trivial body from a fiber, thread-sensitive (the
// process-wide sync thread, routing rule 5), side by side with the raw futex round trip, the pure
// spin round trip and an Asio coroutine offloading to a 1-thread pool.
// P1 is the pinned run (taskset -c 0): target <= 1.2x raw futex RT and no slower than Asio.
// P2 is the unpinned run: target <= 2 us.
#include "fixtures.hpp"
#include "ours.hpp"

namespace fbbench {

// arg: scheduler threads of the runtime the calling fiber runs on.
static void BM_S2A_ThreadSensitive(benchmark::State& state) {
  on_fiber(state, runtime(static_cast<unsigned>(state.range(0))), [&] {
    auto call = fb::sync_to_async(&trivial_body);
    for (auto _ : state) benchmark::DoNotOptimize(call());
  });
}

// P2 in the split regime, forced: the calling fiber's scheduler thread on CPU 0, the sync thread
// (which runs the thread-sensitive body) on CPU 1. Affinities are restored afterwards.
static void BM_S2A_ThreadSensitive_Split(benchmark::State& state) {
  if (skip_unless_two_cpus(state, "split needs two CPUs (pinned run: n/a)")) return;
  on_fiber(state, runtime(1), [&] {
    auto call = fb::sync_to_async(&trivial_body);
    fb::sync_to_async([] { pin_this_thread(1); })();  // runs on the sync thread
    pin_this_thread(0);                                 // this fiber's scheduler thread (1-thread runtime)
    for (auto _ : state) benchmark::DoNotOptimize(call());
    pin_this_thread(-1);
    fb::sync_to_async([] { pin_this_thread(-1); })();
  });
}

// For reference: the same round trip through the blocking pool (thread_sensitive = false).
static void BM_S2A_NonSensitive(benchmark::State& state) {
  on_fiber(state, runtime(static_cast<unsigned>(state.range(0))), [&] {
    auto call = fb::sync_to_async(&trivial_body, fb::SyncToAsyncOptions{.thread_sensitive = false});
    for (auto _ : state) benchmark::DoNotOptimize(call());
  });
}

BENCHMARK(BM_S2A_ThreadSensitive)->ArgName("rt_threads")->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_S2A_NonSensitive)->ArgName("rt_threads")->Arg(1)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_S2A_ThreadSensitive_Split)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_RawFutexRT_Split)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_SpinRT_Split)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_RawFutexRT)->ArgName("rts")->Arg(1)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_SpinRT)->ArgName("rts")->Arg(1)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_AsioOffload)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace fbbench

FBBENCH_MAIN();
