// coro_bench — the coroutine variant's round trips next to the fiber variant's, in one binary:
//   P1  sync_to_async round trip, thread-sensitive, trivial body (rule 5: the sync thread)
//   P3  async_to_sync from a plain thread, trivial async function
//   P4  nested: async_to_sync of async code that makes one thread-sensitive call back (rule 1)
//   (Asio I/O on fibers vs coroutines, 1- and 2-thread runtimes: bench/io_bench.cpp)
// and memory per suspended bridge call (RSS growth over N calls parked on an executor that
// holds the work), each variant measured in a fresh child process (`coro_bench --memory V N`).
#include <benchmark/benchmark.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "fiberbridge/asio.hpp"
#include "fiberbridge/coro.hpp"
#include "fiberbridge/fiberbridge.hpp"

namespace fb = fiberbridge;
namespace asio = boost::asio;

namespace {

fb::Runtime& runtime() {
  static fb::Runtime rt{fb::RuntimeOptions{.threads = 1, .name = "bench"}};
  return rt;
}

int noop() { return 1; }

// Runs `body` (which holds the `for (auto _ : state)` loop) on a fiber of the runtime and waits.
template <class F>
void on_fiber(F body) {
  runtime().spawn(std::move(body)).get();
}

// Runs the coroutine `body` (an awaitable<T>-returning callable) on the runtime's io executor;
// returns the future of its result.
template <class F>
auto on_io(F body) {
  return asio::co_spawn(runtime().io_executor(), std::move(body), asio::use_future);
}

void P1_fiber_sync_to_async(benchmark::State& state) {
  on_fiber([&] {
    auto op = fb::sync_to_async(noop);
    for (auto _ : state) benchmark::DoNotOptimize(op());
  });
}
BENCHMARK(P1_fiber_sync_to_async)->UseRealTime()->MeasureProcessCPUTime();

void P1_coro_sync_to_async(benchmark::State& state) {
  on_io([&]() -> asio::awaitable<void> {
    auto op = fb::coro::sync_to_async(noop);
    for (auto _ : state) benchmark::DoNotOptimize(co_await op());
  }).get();
}
BENCHMARK(P1_coro_sync_to_async)->UseRealTime()->MeasureProcessCPUTime();

void P3_fiber_async_to_sync(benchmark::State& state) {
  auto call = fb::async_to_sync([] { return 1; }, {.runtime = &runtime()});
  for (auto _ : state) benchmark::DoNotOptimize(call());
}
BENCHMARK(P3_fiber_async_to_sync)->UseRealTime()->MeasureProcessCPUTime();

void P3_coro_async_to_sync(benchmark::State& state) {
  auto call = fb::coro::async_to_sync([]() -> asio::awaitable<int> { co_return 1; }, {.runtime = &runtime()});
  for (auto _ : state) benchmark::DoNotOptimize(call());
}
BENCHMARK(P3_coro_async_to_sync)->UseRealTime()->MeasureProcessCPUTime();

void P3_asio_co_spawn_use_future(benchmark::State& state) {  // the baseline named in the issue
  auto io = runtime().io_executor();
  for (auto _ : state)
    benchmark::DoNotOptimize(
        asio::co_spawn(io, []() -> asio::awaitable<int> { co_return 1; }, asio::use_future).get());
}
BENCHMARK(P3_asio_co_spawn_use_future)->UseRealTime()->MeasureProcessCPUTime();

void P4_fiber_nested(benchmark::State& state) {
  auto call = fb::async_to_sync([] { return fb::sync_to_async(noop)(); }, {.runtime = &runtime()});
  for (auto _ : state) benchmark::DoNotOptimize(call());
}
BENCHMARK(P4_fiber_nested)->UseRealTime()->MeasureProcessCPUTime();

void P4_coro_nested(benchmark::State& state) {
  auto call = fb::coro::async_to_sync(
      []() -> asio::awaitable<int> {
        auto op = fb::coro::sync_to_async(noop);
        co_return co_await op();
      },
      {.runtime = &runtime()});
  for (auto _ : state) benchmark::DoNotOptimize(call());
}
BENCHMARK(P4_coro_nested)->UseRealTime()->MeasureProcessCPUTime();

// ---- memory per suspended call ----

// Holds the work it is given until release(): calls stay suspended meanwhile.
struct HoldingExecutor : fb::Executor {
  std::mutex m;
  std::vector<std::function<void()>> held;
  void execute(std::function<void()> w) override {
    std::lock_guard g(m);
    held.push_back(std::move(w));
  }
  std::size_t size() {
    std::lock_guard g(m);
    return held.size();
  }
  void release() {
    std::vector<std::function<void()>> all;
    {
      std::lock_guard g(m);
      all.swap(held);
    }
    for (auto& w : all) w();
  }
};

long rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

int memory_mode(const std::string& variant, int n) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 1, .stack_size = 16 * 1024}};
  HoldingExecutor ex;
  const fb::SyncToAsyncOptions opts{.thread_sensitive = false, .executor = &ex};
  // Warm up both paths once so one-time allocations are not counted.
  (void)rt.io_executor();
  auto wait_until_held = [&](std::size_t k) {
    while (ex.size() < k) std::this_thread::yield();
  };
  // One suspended call of each variant: it parks in `ex` until ex.release().
  auto fiber_call = [&] { return rt.spawn([&] { return fb::sync_to_async(noop, opts)(); }); };
  auto coro_call = [&] {
    return asio::co_spawn(
        rt.io_executor(),
        [opts]() -> asio::awaitable<int> {
          auto op = fb::coro::sync_to_async(noop, opts);
          co_return co_await op();
        },
        asio::use_future);
  };
  auto warm_up = [&](auto call) {
    auto warm = call();
    wait_until_held(1);
    ex.release();
    warm.get();
  };
  if (variant == "fiber") warm_up(fiber_call);
  else warm_up(coro_call);
  const long before = rss_bytes();
  std::vector<fb::Task<int>> tasks;
  std::vector<std::future<int>> futures;
  if (variant == "fiber") {
    tasks.reserve(n);
    for (int i = 0; i < n; ++i) tasks.push_back(fiber_call());
  } else {
    futures.reserve(n);
    for (int i = 0; i < n; ++i) futures.push_back(coro_call());
  }
  wait_until_held(static_cast<std::size_t>(n));
  const long after = rss_bytes();
  ex.release();
  for (auto& t : tasks) t.get();
  for (auto& f : futures) f.get();
  std::printf("%.0f\n", static_cast<double>(after - before) / n);
  return 0;
}

double measure_child(const char* self, const std::string& variant, int n) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  const std::string count = std::to_string(n);
  char* argv[] = {const_cast<char*>(self), const_cast<char*>("--memory"), const_cast<char*>(variant.c_str()),
                  const_cast<char*>(count.c_str()), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, self, &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return -1;
  }
  char buf[64] = {};
  const ssize_t got = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return got > 0 ? std::atof(buf) : -1;
}

std::string g_self;

void MEM_per_suspended_call(benchmark::State& state, std::string variant) {
  const int n = 10000;
  double bytes = 0;
  for (auto _ : state) bytes = measure_child(g_self.c_str(), variant, n);
  state.counters["rss_bytes_per_call"] = bytes;
}
BENCHMARK_CAPTURE(MEM_per_suspended_call, fiber, std::string("fiber"))->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(MEM_per_suspended_call, coro, std::string("coro"))->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--memory") == 0) return memory_mode(argv[2], std::atoi(argv[3]));
  g_self = "/proc/self/exe";
  char path[4096];
  const ssize_t len = readlink("/proc/self/exe", path, sizeof path - 1);
  if (len > 0) g_self.assign(path, static_cast<std::size_t>(len));
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
