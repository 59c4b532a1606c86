// P4 — nested sync -> async -> sync: async_to_sync of a fiber that makes one thread-sensitive
// sync_to_async call, which routes back to the parked calling thread (rule 1). Four hops, side
// by side with two raw futex round trips. Target: <= 1.3x (pinned).
#include "fixtures.hpp"
#include "ours.hpp"

namespace fbbench {

static void BM_Nested(benchmark::State& state) {
  guarded(state, [&] {
    fb::AsyncToSyncOptions o;
    o.runtime = &runtime(static_cast<unsigned>(state.range(0)));
    auto call = fb::async_to_sync([] { return fb::sync_to_async(&trivial_body)(); }, o);
    for (auto _ : state) benchmark::DoNotOptimize(call());
  });
}

BENCHMARK(BM_Nested)->ArgName("rt_threads")->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_RawFutexRT)->ArgName("rts")->Arg(2)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_SpinRT)->ArgName("rts")->Arg(2)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace fbbench

FBBENCH_MAIN();
