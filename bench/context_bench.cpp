// Issue 4 — the cost context propagation adds to a thread-sensitive sync_to_async round trip:
// the caller has 0, 1 or 16 ContextVars set (copied in, and compared/copied back after the
// call). vars:0 is the same round trip with nothing to propagate; the raw futex round trip is
// in the same binary for scale. BM_S2A_ContextWrite: the body also sets one variable, so the
// copy-back has a change to merge.
#include <memory>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "ours.hpp"

namespace fbbench {

static std::vector<std::unique_ptr<fb::ContextVar<int>>>& vars() {
  static std::vector<std::unique_ptr<fb::ContextVar<int>>> v = [] {
    std::vector<std::unique_ptr<fb::ContextVar<int>>> r;
    for (int i = 0; i < 16; ++i) r.push_back(std::make_unique<fb::ContextVar<int>>("bench_var_" + std::to_string(i)));
    return r;
  }();
  return v;
}

static void BM_S2A_Context(benchmark::State& state) {
  const auto n = state.range(0);
  on_fiber(state, runtime(1), [&] {
    for (int64_t i = 0; i < n; ++i) vars()[static_cast<std::size_t>(i)]->set(static_cast<int>(i));
    auto call = fb::sync_to_async(&trivial_body);
    for (auto _ : state) benchmark::DoNotOptimize(call());
  });
}

static void BM_S2A_ContextWrite(benchmark::State& state) {
  const auto n = state.range(0);
  on_fiber(state, runtime(1), [&] {
    for (int64_t i = 0; i < n; ++i) vars()[static_cast<std::size_t>(i)]->set(static_cast<int>(i));
    auto* v0 = vars()[0].get();
    auto call = fb::sync_to_async([v0] {
      const int x = trivial_body();
      v0->set(x);
      return x;
    });
    for (auto _ : state) benchmark::DoNotOptimize(call());
  });
}

BENCHMARK(BM_S2A_Context)->ArgName("vars")->Arg(0)->Arg(1)->Arg(16)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_S2A_ContextWrite)->ArgName("vars")->Arg(1)->Arg(16)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_RawFutexRT)->ArgName("rts")->Arg(1)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace fbbench

FBBENCH_MAIN();
