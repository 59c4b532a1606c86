// P6/P7 — fiber operations on a fiberbridge Runtime (1 and 2 scheduler threads) side by side
// with raw Boost.Fiber: spawn+join, yield, and skynet (10 children per fiber, launch::dispatch,
// 16 KiB stacks on the raw side; 16 KiB stacks on our side too).
//   P6: 1-thread runtime <= 1.1x raw round_robin.
//   P7: skynet of 1,111,111 fibers: 2 threads >= 1.6x faster than 1; <= 0.5 us per fiber.
// Sizes: FB_SKYNET_LEAVES (default 10000 leaves = 11,111 fibers) and FB_SKYNET_FULL_LEAVES
// (default 1000000 leaves = 1,111,111 fibers, one iteration per repetition).
#include <cstdint>
#include <string>
#include <thread>

#include "fixtures.hpp"
#include "ours.hpp"

namespace fiberbridge::detail {
void set_switch_bookkeeping_for_new_runtimes(bool on) noexcept;  // src/scheduler/work_stealing.hpp, this bench only
}

namespace fbbench {

constexpr std::size_t kSmallStack = 16 * 1024;

// A 1-thread runtime whose scheduler does no per-switch bookkeeping: no swap of the C++
// exception state (issue 11) and no switch counter / running-fiber stores for the slow-fiber
// watchdog and dump (issue 14), i.e. the scheduler as it was before both: their cost, side by
// side in one run.
fb::Runtime& runtime_bare() {
  static fb::Runtime* rt = [] {
    fb::detail::set_switch_bookkeeping_for_new_runtimes(false);
    auto* r = new fb::Runtime(fb::RuntimeOptions{.threads = 1, .name = "fb-bare", .slow_fiber_threshold = {}});
    fb::detail::set_switch_bookkeeping_for_new_runtimes(true);
    return r;  // lives to exit (never used after main's benchmarks)
  }();
  return *rt;
}

// A 1-thread runtime with the slow-fiber detector off (threshold 0: no watchdog sampling).
fb::Runtime& runtime_detector_off() {
  static fb::Runtime* rt = new fb::Runtime(fb::RuntimeOptions{.threads = 1, .name = "fb-nowatch", .slow_fiber_threshold = {}});
  return *rt;
}

// Raw round_robin benchmarks run on a fresh thread, so the benchmark thread never becomes a
// Boost.Fiber scheduler thread of its own.
template <void (*Fn)(benchmark::State&)>
void on_fresh_thread(benchmark::State& state) {
  std::thread([&state] { Fn(state); }).join();
}

static void spawn_join_loop(benchmark::State& state, fb::Runtime& rt) {
  on_fiber(state, rt, [&] {
    for (auto _ : state) fb::spawn([] { benchmark::DoNotOptimize(trivial_body()); }).get();
  });
}
static void BM_Ours_SpawnJoin(benchmark::State& state) {
  spawn_join_loop(state, runtime(static_cast<unsigned>(state.range(0))));
}
static void BM_Ours_SpawnJoin_Bare(benchmark::State& state) { spawn_join_loop(state, runtime_bare()); }
static void BM_Ours_SpawnJoin_DetectorOff(benchmark::State& state) { spawn_join_loop(state, runtime_detector_off()); }

// One iteration = one yield of the measuring fiber while a partner fiber yields back.
static void yield_loop(benchmark::State& state, fb::Runtime& rt) {
  on_fiber(state, rt, [&] {
    std::atomic<bool> stop{false};
    auto partner = fb::spawn([&stop] {
      while (!stop.load(std::memory_order_relaxed)) boost::this_fiber::yield();
    });
    for (auto _ : state) boost::this_fiber::yield();
    stop = true;
    partner.get();
  });
}
static void BM_Ours_Yield(benchmark::State& state) { yield_loop(state, runtime(static_cast<unsigned>(state.range(0)))); }
static void BM_Ours_Yield_Bare(benchmark::State& state) { yield_loop(state, runtime_bare()); }
static void BM_Ours_Yield_DetectorOff(benchmark::State& state) { yield_loop(state, runtime_detector_off()); }

static std::uint64_t ours_skynet(std::uint64_t num, std::uint64_t size) {
  if (size == 1) return num;
  const std::uint64_t sub = size / 10;
  fb::Task<std::uint64_t> kids[10];
  for (int i = 0; i < 10; ++i) kids[i] = fb::spawn(&ours_skynet, num + i * sub, sub);
  std::uint64_t sum = 0;
  for (auto& k : kids) sum += k.get();
  return sum;
}

// args: leaves, scheduler threads.
static void BM_Ours_Skynet(benchmark::State& state) {
  const auto leaves = static_cast<std::uint64_t>(state.range(0));
  auto& rt = runtime(static_cast<unsigned>(state.range(1)), kSmallStack);
  guarded(state, [&] {
    for (auto _ : state) {
      const auto sum = rt.spawn(&ours_skynet, std::uint64_t{0}, leaves).get();
      if (sum != skynet_expected(leaves)) {
        state.SkipWithError("skynet: wrong sum");
        break;
      }
    }
  });
  state.counters["fibers"] = static_cast<double>(skynet_fibers(leaves));
}

// work_stealing(2) with suspend=false spins both threads: meaningless on one CPU.
static void BM_RawWS_Skynet_Guarded(benchmark::State& state) {
  if (skip_unless_two_cpus(state, "work_stealing(2) needs two CPUs (pinned run: n/a)")) return;
  BM_RawWS_Skynet(state);
}

static void register_all() {
  const long leaves = env_long("FB_SKYNET_LEAVES", 10000);
  const long full = env_long("FB_SKYNET_FULL_LEAVES", 1000000);

  benchmark::RegisterBenchmark("BM_Ours_SpawnJoin", BM_Ours_SpawnJoin)
      ->ArgName("rt_threads")->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime();
  benchmark::RegisterBenchmark("BM_Raw_SpawnJoin", on_fresh_thread<BM_Raw_SpawnJoin>)
      ->UseRealTime()->MeasureProcessCPUTime();
  benchmark::RegisterBenchmark("BM_Ours_Yield", BM_Ours_Yield)
      ->ArgName("rt_threads")->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime();
  benchmark::RegisterBenchmark("BM_Raw_Yield", on_fresh_thread<BM_Raw_Yield>)->UseRealTime()->MeasureProcessCPUTime();
  // The cost of the per-switch bookkeeping and of the slow-fiber detector, side by side.
  benchmark::RegisterBenchmark("BM_Ours_SpawnJoin_Bare", BM_Ours_SpawnJoin_Bare)->UseRealTime()->MeasureProcessCPUTime();
  benchmark::RegisterBenchmark("BM_Ours_Yield_Bare", BM_Ours_Yield_Bare)->UseRealTime()->MeasureProcessCPUTime();
  benchmark::RegisterBenchmark("BM_Ours_SpawnJoin_DetectorOff", BM_Ours_SpawnJoin_DetectorOff)
      ->UseRealTime()->MeasureProcessCPUTime();
  benchmark::RegisterBenchmark("BM_Ours_Yield_DetectorOff", BM_Ours_Yield_DetectorOff)
      ->UseRealTime()->MeasureProcessCPUTime();

  auto skynet = [](const char* suffix, long n, bool one_iteration) {
    const std::string s(suffix);
    auto* ours = benchmark::RegisterBenchmark(("BM_Ours_Skynet" + s).c_str(), BM_Ours_Skynet)
                     ->ArgNames({"leaves", "rt_threads"})->Args({n, 1})->Args({n, 2})
                     ->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);
    auto* raw = benchmark::RegisterBenchmark(("BM_Raw_Skynet" + s).c_str(), on_fresh_thread<BM_Raw_Skynet>)
                    ->ArgName("leaves")->Arg(n)->UseRealTime()->MeasureProcessCPUTime()
                    ->Unit(benchmark::kMillisecond);
    auto* ws = benchmark::RegisterBenchmark(("BM_RawWS_Skynet" + s).c_str(), BM_RawWS_Skynet_Guarded)
                   ->ArgNames({"leaves", "suspend"})->Args({n, 0})->UseManualTime()->Unit(benchmark::kMillisecond);
    if (one_iteration) {
      ours->Iterations(1);
      raw->Iterations(1);
      ws->Iterations(1);
    }
  };
  skynet("", leaves, false);
  skynet("Full", full, true);
}

}  // namespace fbbench

int main(int argc, char** argv) {
  fbbench::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  fbbench::shutdown_runtimes();
  return 0;
}
