// tests/leak_check.hpp — what a test leaves behind: the threads of the process, and a check that
// none started during a test outlives it (used by ShapedTest in fixtures.hpp).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <system_error>
#include <thread>

namespace fbtest {

/// Polls `done` until it holds or `deadline` passes, backing off from 100 µs to 10 ms; true when
/// it holds. Only for conditions nothing signals (a thread's exit, a counter): not a sleep used
/// as synchronisation, and it never waits longer than the deadline.
template <class Pred>
bool poll_until(Pred done, std::chrono::seconds deadline) {
  using namespace std::chrono_literals;
  const auto until = std::chrono::steady_clock::now() + deadline;
  for (auto pause = std::chrono::microseconds(100); !done(); pause = std::min<std::chrono::microseconds>(pause * 2, 10ms)) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(pause);
  }
  return true;
}

/// The threads of this process: kernel id -> name (/proc/self/task/<tid>/comm). A thread that
/// exits while the directory is read is left out.
inline std::map<long, std::string> process_threads() {
  std::map<long, std::string> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/self/task", ec), end; !ec && it != end; it.increment(ec)) {
    std::ifstream comm(it->path() / "comm");
    std::string name;
    if (comm && std::getline(comm, name)) out.emplace(std::stol(it->path().filename().string()), name);
  }
  return out;
}

/// Checks, when destroyed, that every thread started since it was constructed has ended, except
/// the process-wide threads that live on by design (named in src/):
///   fb-sync          the sync thread (rule 5), one per process, never ends;
///   fb-pool          blocking-pool threads, process-wide, retire after 10 s idle: at most as many
///                    as there were when check_pool() last found no more than the pool reports,
///                    else as there were before (a thread started by a pool body inherits the name
///                    "fb-pool", so the names alone would let it through);
///   fb-pool-monitor  the pool's monitor, one per process;
///   fb-watchdog      the slow-fiber sampler, one per process, started with the first runtime;
///   fb-default-<i>   the default runtime's scheduler threads (never destroyed), and its fb-io.
/// Everything else must end: scheduler threads (fb-worker-<i>, fb-newloop-<i>, fb-single-<i>),
/// fb-io of a destroyed runtime, ThreadSensitiveContext threads (fb-sensitive), reapers
/// (fb-reaper) and any std::thread a test started. A thread takes its creator's name until it
/// names itself, so the wait is a deadline, polled (a thread's exit signals nothing).
class ThreadLeakCheck {
 public:
  explicit ThreadLeakCheck(std::chrono::seconds deadline) : deadline_(deadline), before_(process_threads()) {
    pool_allowed_ = count("fb-pool", before_);
  }
  ThreadLeakCheck(const ThreadLeakCheck&) = delete;
  ThreadLeakCheck& operator=(const ThreadLeakCheck&) = delete;
  /// Checks that the process has no more fb-pool threads than `pool_threads()` (the pool's own
  /// count, RuntimeMetrics::pool_threads) says, compared at the same moment, until the deadline
  /// (a retiring worker leaves the count before it exits). Call while the pool is quiet.
  template <class PoolThreads>
  void check_pool(PoolThreads pool_threads) {
    std::size_t named = 0, reported = 0;
    poll_until([&] {
      reported = pool_threads();
      named = count("fb-pool", process_threads());
      return named <= reported;
    }, deadline_);
    EXPECT_LE(named, reported) << "threads named fb-pool that are not blocking-pool threads outlived the test";
    pool_allowed_ = named;
  }
  ~ThreadLeakCheck() {
    std::string leaked;
    poll_until([&] { return (leaked = leaks()).empty(); }, deadline_);
    EXPECT_EQ(leaked, "") << "threads outlived the test (tid:name)";
  }

 private:
  static std::size_t count(const std::string& name, const std::map<long, std::string>& threads) {
    return static_cast<std::size_t>(
        std::count_if(threads.begin(), threads.end(), [&](const auto& t) { return t.second == name; }));
  }

  std::string leaks() const {
    std::map<std::string, std::size_t> per_name;  // over the whole process
    const auto now = process_threads();
    for (const auto& [tid, name] : now) ++per_name[name.rfind("fb-default-", 0) == 0 ? "fb-default-" : name];
    const auto allowed = [&](const std::string& name) {
      if (name == "fb-pool") return per_name[name] <= pool_allowed_;
      if (name == "fb-sync" || name == "fb-pool-monitor" || name == "fb-watchdog") return per_name[name] <= 1;
      if (name == "fb-io") return per_name[name] <= 1;  // the default runtime's
      if (name.rfind("fb-default-", 0) == 0) return per_name["fb-default-"] <= std::max(1u, std::thread::hardware_concurrency());
      return false;
    };
    std::string out;
    for (const auto& [tid, name] : now)
      if (!before_.contains(tid) && !allowed(name)) out += std::to_string(tid) + ":" + name + " ";
    return out;
  }

  std::chrono::seconds deadline_;
  std::map<long, std::string> before_;
  std::size_t pool_allowed_;
};

}  // namespace fbtest
