// bench/baselines/raw_work_stealing.hpp — skynet on Boost.Fiber's own work_stealing(2), each run
// in a forked child: work_stealing 1.81 keeps static state (one pool per process, never
// recreated), so every measurement needs a fresh process.
#pragma once

#include <benchmark/benchmark.h>

#include <boost/fiber/algo/work_stealing.hpp>
#include <boost/fiber/all.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>

#include "raw_fiber.hpp"

namespace fbbench {

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
