// bench/fixtures.hpp — the baselines several benchmarks measure side by side with fiberbridge.
//
//   * RawFutexPeer: a responder thread; a round trip is a 32-bit sequence number each way,
//     bare futex wait/wake by syscall, no lock held while waking (the floor any blocking
//     hand-off between two threads pays on this machine).
//   * SpinPeer: the same protocol with pure spinning (_mm_pause), no syscalls. Needs two CPUs.
//   * Asio: a coroutine on an io_context offloading to a thread_pool(1); co_spawn(use_future).get().
//   * Raw Boost.Fiber (round_robin on the calling thread): spawn+join, yield, skynet the way
//     Boost's own skynet runs (launch::dispatch, 16 KiB fixedsize stacks).
//   * Raw Boost.Fiber work_stealing skynet in a forked child (work_stealing 1.81 keeps static
//     state: one pool per process, never recreated).
//
// Every benchmark uses real time (UseRealTime) and whole-process CPU time (MeasureProcessCPUTime),
// so spinning shows up in cpu_time.
#pragma once

#include <benchmark/benchmark.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/fiber/algo/work_stealing.hpp>
#include <boost/fiber/all.hpp>

#include <immintrin.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace fbbench {

namespace asio = boost::asio;

// ---------------------------------------------------------------- helpers

inline long futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected) noexcept {
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}
inline long futex_wake(std::atomic<std::uint32_t>* word, int count = 1) noexcept {
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
}

// The CPUs the process may use, as it was started (captured before any benchmark pins a thread).
inline const cpu_set_t& process_cpus() noexcept {
  static const cpu_set_t set = [] {
    cpu_set_t s;
    CPU_ZERO(&s);
    if (::sched_getaffinity(0, sizeof s, &s) != 0) CPU_SET(0, &s);
    return s;
  }();
  return set;
}
inline const bool process_cpus_captured = (process_cpus(), true);  // at static initialisation

// Number of CPUs this process may run on (1 under `taskset -c 0`).
inline int allowed_cpus() noexcept { return CPU_COUNT(&process_cpus()); }

// Pins the calling thread to one CPU (cpu >= 0) or to every CPU the process may use (cpu < 0).
inline bool pin_this_thread(int cpu) noexcept {
  cpu_set_t set = process_cpus();
  if (cpu >= 0) {
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
  }
  return ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) == 0;
}

// Integer from the environment, else `fallback` (sizes the smoke run shrinks).
inline long env_long(const char* name, long fallback) noexcept {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtol(v, nullptr, 10);
}

// The trivial body every round trip runs: returns an int the caller consumes.
inline int trivial_body() noexcept {
  static std::atomic<int> n{0};
  return n.fetch_add(1, std::memory_order_relaxed);
}

// ---------------------------------------------------------------- raw futex round trip

// One responder thread. round_trip(): publish seq+1 in `req_`, wake; the responder answers by
// publishing the same number in `resp_` and waking. Waits are bare FUTEX_WAIT on the word.
class RawFutexPeer {
 public:
  // responder_cpu >= 0: the responder pins itself there (the split-vCPU regime).
  explicit RawFutexPeer(int responder_cpu = -1)
      : thread_([this, responder_cpu] {
          if (responder_cpu >= 0) pin_this_thread(responder_cpu);
          serve();
        }) {}
  ~RawFutexPeer() {
    stop_.store(true, std::memory_order_relaxed);
    req_.fetch_add(1, std::memory_order_release);
    futex_wake(&req_);
    thread_.join();
  }
  RawFutexPeer(const RawFutexPeer&) = delete;
  RawFutexPeer& operator=(const RawFutexPeer&) = delete;

  void round_trip() noexcept {
    const std::uint32_t s = ++seq_;
    req_.store(s, std::memory_order_release);
    futex_wake(&req_);
    std::uint32_t r;
    while ((r = resp_.load(std::memory_order_acquire)) != s) futex_wait(&resp_, r);
  }

 private:
  void serve() noexcept {
    std::uint32_t seen = 0;
    for (;;) {
      std::uint32_t v;
      while ((v = req_.load(std::memory_order_acquire)) == seen) futex_wait(&req_, seen);
      if (stop_.load(std::memory_order_relaxed)) return;
      seen = v;
      benchmark::DoNotOptimize(trivial_body());
      resp_.store(v, std::memory_order_release);
      futex_wake(&resp_);
    }
  }

  alignas(64) std::atomic<std::uint32_t> req_{0};
  alignas(64) std::atomic<std::uint32_t> resp_{0};
  alignas(64) std::uint32_t seq_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// ---------------------------------------------------------------- pure spin round trip

class SpinPeer {
 public:
  explicit SpinPeer(int responder_cpu = -1)
      : thread_([this, responder_cpu] {
          if (responder_cpu >= 0) pin_this_thread(responder_cpu);
          serve();
        }) {}
  ~SpinPeer() {
    stop_.store(true, std::memory_order_relaxed);
    req_.fetch_add(1, std::memory_order_release);
    thread_.join();
  }
  SpinPeer(const SpinPeer&) = delete;
  SpinPeer& operator=(const SpinPeer&) = delete;

  void round_trip() noexcept {
    const std::uint32_t s = ++seq_;
    req_.store(s, std::memory_order_release);
    while (resp_.load(std::memory_order_acquire) != s) _mm_pause();
  }

 private:
  void serve() noexcept {
    std::uint32_t seen = 0;
    for (;;) {
      std::uint32_t v;
      while ((v = req_.load(std::memory_order_acquire)) == seen) _mm_pause();
      if (stop_.load(std::memory_order_relaxed)) return;
      seen = v;
      benchmark::DoNotOptimize(trivial_body());
      resp_.store(v, std::memory_order_release);
    }
  }

  alignas(64) std::atomic<std::uint32_t> req_{0};
  alignas(64) std::atomic<std::uint32_t> resp_{0};
  alignas(64) std::uint32_t seq_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Baseline: `n` raw futex round trips per iteration (n = 2 is the nested case's baseline).
inline void BM_RawFutexRT(benchmark::State& state) {
  const auto n = state.range(0);
  RawFutexPeer peer;
  for (auto _ : state)
    for (int64_t i = 0; i < n; ++i) peer.round_trip();
}

// Split regime (P2): requester pinned to CPU 0, responder to CPU 1; n/a on one CPU.
inline bool skip_unless_two_cpus(benchmark::State& state, const char* what) {
  if (allowed_cpus() >= 2) return false;
  state.SkipWithError(what);
  for (auto _ : state) {
  }
  return true;
}

inline void BM_RawFutexRT_Split(benchmark::State& state) {
  if (skip_unless_two_cpus(state, "split needs two CPUs (pinned run: n/a)")) return;
  pin_this_thread(0);
  {
    RawFutexPeer peer(1);
    for (auto _ : state) peer.round_trip();
  }
  pin_this_thread(-1);
}

inline void BM_SpinRT_Split(benchmark::State& state) {
  if (skip_unless_two_cpus(state, "split needs two CPUs (pinned run: n/a)")) return;
  pin_this_thread(0);
  {
    SpinPeer peer(1);
    for (auto _ : state) peer.round_trip();
  }
  pin_this_thread(-1);
}

// Baseline: pure spin round trip. Meaningless (and pathological) when both threads share one CPU.
inline void BM_SpinRT(benchmark::State& state) {
  if (allowed_cpus() < 2) {
    state.SkipWithError("pure spin needs two CPUs (pinned run: n/a)");
    for (auto _ : state) {
    }
    return;
  }
  const auto n = state.range(0);
  SpinPeer peer;
  for (auto _ : state)
    for (int64_t i = 0; i < n; ++i) peer.round_trip();
}

// ---------------------------------------------------------------- Asio

// co_await offload(pool, f): runs f() on `pool`, resumes the coroutine on its own executor.
template <class F>
auto offload(asio::thread_pool& pool, F f) {
  return asio::async_initiate<decltype(asio::use_awaitable), void(int)>(
      [&pool, f](auto handler) mutable {
        asio::post(pool, [f, h = std::move(handler)]() mutable {
          const int r = f();
          auto ex = asio::get_associated_executor(h);
          asio::post(ex, [h = std::move(h), r]() mutable { std::move(h)(r); });
        });
      },
      asio::use_awaitable);
}

// Baseline for P1/P2: a coroutine on an io_context (this thread) offloads a trivial body to a
// 1-thread pool and awaits the result.
inline void BM_AsioOffload(benchmark::State& state) {
  asio::io_context io(1);
  asio::thread_pool pool(1);
  asio::co_spawn(
      io,
      [&state, &pool]() -> asio::awaitable<void> {
        for (auto _ : state) {
          const int r = co_await offload(pool, [] { return trivial_body(); });
          benchmark::DoNotOptimize(r);
        }
      },
      asio::detached);
  io.run();
  pool.join();
}

// Baseline for P3: a plain thread runs a trivial coroutine on an io_context served by another
// thread and waits with use_future.
inline void BM_AsioCoSpawnFuture(benchmark::State& state) {
  asio::io_context io(1);
  auto guard = asio::make_work_guard(io);
  std::thread runner([&io] { io.run(); });
  for (auto _ : state) {
    auto f = asio::co_spawn(io, []() -> asio::awaitable<int> { co_return trivial_body(); }, asio::use_future);
    benchmark::DoNotOptimize(f.get());
  }
  guard.reset();
  runner.join();
}

// Baseline for P5: 64 coroutines x 16 offloads through a 1-thread pool, per iteration.
inline void BM_AsioOffloadThroughput(benchmark::State& state) {
  constexpr int kTasks = 64, kCalls = 16;
  asio::io_context io(1);
  asio::thread_pool pool(1);
  for (auto _ : state) {
    for (int t = 0; t < kTasks; ++t)
      asio::co_spawn(
          io,
          [&pool]() -> asio::awaitable<void> {
            for (int i = 0; i < kCalls; ++i) {
              const int r = co_await offload(pool, [] { return trivial_body(); });
              benchmark::DoNotOptimize(r);
            }
          },
          asio::detached);
    io.run();
    io.restart();
  }
  pool.join();
  state.counters["calls"] = kTasks * kCalls;
}

// ---------------------------------------------------------------- raw Boost.Fiber

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

// Skynet on Boost's own work_stealing(2) in a forked child: returns seconds, or -1 on failure.
// The child builds two fresh threads (work_stealing's static state starts clean), runs one
// skynet on them and exits with _exit (no teardown of a pool that cannot be recreated).
inline double forked_ws_skynet(std::uint64_t leaves, bool suspend) {
  int fds[2];
  if (::pipe(fds) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::close(fds[0]);
    std::atomic<bool> done{false};
    boost::fibers::mutex m;
    boost::fibers::condition_variable cv;
    std::barrier ready(2);
    double seconds = -1;
    std::thread helper([&] {
      boost::fibers::use_scheduling_algorithm<boost::fibers::algo::work_stealing>(2, suspend);
      ready.arrive_and_wait();
      std::unique_lock lk(m);
      cv.wait(lk, [&] { return done.load(); });
    });
    std::thread driver([&] {
      boost::fibers::use_scheduling_algorithm<boost::fibers::algo::work_stealing>(2, suspend);
      ready.arrive_and_wait();
      const auto t0 = std::chrono::steady_clock::now();
      const auto sum = run_raw_skynet(leaves);
      const auto t1 = std::chrono::steady_clock::now();
      seconds = sum == skynet_expected(leaves) ? std::chrono::duration<double>(t1 - t0).count() : -1;
      {
        std::unique_lock lk(m);
        done = true;
      }
      cv.notify_all();
      (void)!::write(fds[1], &seconds, sizeof seconds);
      ::_exit(0);
    });
    driver.join();
    ::_exit(0);
  }
  ::close(fds[1]);
  double seconds = -1;
  if (::read(fds[0], &seconds, sizeof seconds) != sizeof seconds) seconds = -1;
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return seconds;
}

// Manual time: each iteration is one skynet in a fresh forked process.
inline void BM_RawWS_Skynet(benchmark::State& state) {
  const auto leaves = static_cast<std::uint64_t>(state.range(0));
  const bool suspend = state.range(1) != 0;
  for (auto _ : state) {
    const double s = forked_ws_skynet(leaves, suspend);
    if (s < 0) {
      state.SkipWithError("work_stealing skynet failed in the child");
      break;
    }
    state.SetIterationTime(s);
  }
  state.counters["fibers"] = static_cast<double>(skynet_fibers(leaves));
}

}  // namespace fbbench
