// bench/baselines/asio.hpp — the Boost.Asio baselines: C++20 coroutines on an io_context that
// offload to a thread_pool(1) (P1/P2, P5) or are started from a plain thread and waited for with
// use_future (P3).
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

#include <thread>
#include <utility>

#include "support.hpp"

namespace fbbench {

namespace asio = boost::asio;

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

}  // namespace fbbench
