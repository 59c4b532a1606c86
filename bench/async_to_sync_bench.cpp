// P3 — async_to_sync from a plain thread running a trivial fiber on a 1-thread runtime, side by
// side with the raw futex round trip and Asio co_spawn(..., use_future).get().
// Target: <= 1.3x raw (pinned).
#include "fixtures.hpp"
#include "ours.hpp"

namespace fbbench {

// arg: scheduler threads of the runtime the fiber runs on.
static void BM_A2S_Trivial(benchmark::State& state) {
  guarded(state, [&] {
    fb::AsyncToSyncOptions o;
    o.runtime = &runtime(static_cast<unsigned>(state.range(0)));
    auto call = fb::async_to_sync([] { return trivial_body(); }, o);
    for (auto _ : state) benchmark::DoNotOptimize(call());
  });
}

// For reference: Runtime::spawn + Task::get from the same plain thread.
static void BM_SpawnGet_FromThread(benchmark::State& state) {
  guarded(state, [&] {
    auto& rt = runtime(static_cast<unsigned>(state.range(0)));
    for (auto _ : state) benchmark::DoNotOptimize(rt.spawn([] { return trivial_body(); }).get());
  });
}

BENCHMARK(BM_A2S_Trivial)->ArgName("rt_threads")->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_SpawnGet_FromThread)->ArgName("rt_threads")->Arg(1)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_RawFutexRT)->ArgName("rts")->Arg(1)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_SpinRT)->ArgName("rts")->Arg(1)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_AsioCoSpawnFuture)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace fbbench

FBBENCH_MAIN();
