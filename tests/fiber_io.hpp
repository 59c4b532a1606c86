// fiber_io.hpp — what the fiber I/O tests share (issue 12): loopback pairs, yielding spinners
// that keep every scheduler thread busy, the "hog" that places fibers on one thread, sizes.
// See fiber_io_load_test.cpp and fiber_io_shutdown_test.cpp.
//
// Every wait has a deadline (fixtures.hpp: a hang prints which wait and exits with code 3);
// nothing sleeps to synchronise; timing bounds are generous (a loaded 2-vCPU CI box, TSan, ASan).
//
// Busy threads here always run fibers that *yield*: the reactor is polled from the dispatcher,
// which runs only when a fiber switches, so a fiber that never yields holds up the I/O
// completions of its thread (documented in fiberbridge/asio.hpp, as on any cooperative
// scheduler). No test asks for progress behind such a fiber. Some tests *place* fibers on a given
// scheduler thread by holding the other one with a "hog" fiber that blocks its OS thread on a
// std::condition_variable (test-only technique; the slow-fiber watchdog is turned off there).
#pragma once

#include "fixtures.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/fiber/operations.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "fiberbridge/asio.hpp"

namespace asio = boost::asio;
using asio::ip::tcp;

// Sanitizer builds run slower (TSan about 10x): fewer spawns and a wider timer bound there.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define FB_IO_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define FB_IO_TEST_SANITIZED 1
#endif
#endif

namespace fbtest_io {

using namespace fbtest;

#if defined(FB_IO_TEST_SANITIZED)
// 100,000 spawns take about a second in RelWithDebInfo. Under ThreadSanitizer each new fiber
// costs several milliseconds (perf: the time goes to __sanitizer::internal_memset and its page
// faults, TSan's per-fiber state), so TSan spawns 500 and joins one in 8 at once (still dozens of
// idle/wake round trips); ASan (shadow stacks, about 3x) spawns an eighth.
#if defined(__SANITIZE_THREAD__)
#define FB_IO_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FB_IO_TEST_TSAN 1
#endif
#endif
#if defined(FB_IO_TEST_TSAN)
inline constexpr int kSpawns = 500;
inline constexpr int kJoinEvery = 8;
#else
inline constexpr int kSpawns = 100'000 / 8;
inline constexpr int kJoinEvery = 64;
#endif
// A timer may fire this late and still pass (it never may fire early).
inline constexpr std::chrono::seconds kTimerBound{20};
#else
inline constexpr int kSpawns = 100'000;
inline constexpr int kJoinEvery = 64;
inline constexpr std::chrono::seconds kTimerBound{5};
#endif

// ---------------------------------------------------------------------------------------------
// Helpers.

// A connected loopback TCP pair: `fiber_end` on the runtime's reactor (for use_fiber on its
// fibers), `peer` on `plain`, a test-owned io_context that is never run (blocking calls only,
// from plain threads). Both are connected here, synchronously, on the calling plain thread.
// The fiber end must be destroyed before its runtime (declare it after the runtime); the peer
// may outlive it.
struct LoopbackPair {
  tcp::socket fiber_end;
  tcp::socket peer;
};

inline LoopbackPair connect_loopback(asio::any_io_executor fiber_ex, asio::io_context& plain) {
  tcp::acceptor acceptor(plain, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  LoopbackPair p{tcp::socket(fiber_ex), tcp::socket(plain)};
  p.fiber_end.connect(acceptor.local_endpoint());  // loopback: the kernel completes it at once
  acceptor.accept(p.peer);
  return p;
}

// Bytes with a pattern (i mod 251), so a read can be checked byte for byte.
inline std::vector<unsigned char> pattern(std::size_t n) {
  std::vector<unsigned char> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<unsigned char>(i % 251);
  return v;
}

// CPU-bound fibers that yield between slices of work, `n` of them, until stop(). Each records the
// scheduler thread of its latest slice; `cover_all_threads` waits until they sit on `threads`
// distinct threads at once, so that no scheduler thread is idle (each keeps a fiber that is
// always ready). They yield — see the file comment on fibers that never yield.
class YieldingSpinners {
 public:
  YieldingSpinners(fb::Runtime& rt, unsigned n) : where_(n), slices_(n) {
    for (unsigned i = 0; i < n; ++i) {
      tasks_.push_back(rt.spawn({.name = "spinner"}, [this, i] {
        volatile std::uint64_t sink = i;
        while (!stop_.load(std::memory_order_relaxed) && !fb::this_task::stop_requested()) {
          for (int k = 0; k < 2000; ++k) sink = sink * 6364136223846793005ULL + 1442695040888963407ULL;
          {
            std::lock_guard g(m_);
            where_[i] = here();
          }
          slices_[i].fetch_add(1, std::memory_order_relaxed);
          boost::this_fiber::yield();
        }
      }));
    }
  }
  ~YieldingSpinners() { stop(); }

  // The distinct scheduler threads the spinners ran their latest slices on.
  std::size_t threads_covered() {
    std::lock_guard g(m_);
    std::set<std::thread::id> ids;
    for (const auto& id : where_)
      if (id != std::thread::id()) ids.insert(id);
    return ids.size();
  }
  // Waits (polling: nothing signals it) until the spinners cover `threads` scheduler threads.
  bool cover_all_threads(unsigned threads) {
    return poll_until([&] { return threads_covered() == threads; }, kDeadline);
  }
  // Waits until every spinner has run `more` slices beyond `since` (per spinner), i.e. all are
  // still spinning.
  bool all_advance(const std::vector<std::uint64_t>& since, std::uint64_t more) {
    return poll_until([&] {
      for (std::size_t i = 0; i < slices_.size(); ++i)
        if (slices_[i].load(std::memory_order_relaxed) < since[i] + more) return false;
      return true;
    }, kDeadline);
  }
  std::vector<std::uint64_t> per_spinner() const {
    std::vector<std::uint64_t> v;
    for (const auto& c : slices_) v.push_back(c.load(std::memory_order_relaxed));
    return v;
  }
  bool stopped() const { return stop_.load(); }
  void stop() {
    stop_.store(true);
    for (auto& t : tasks_)
      if (t.valid()) get_within(t, "a spinner to stop");
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex m_;
  std::vector<std::thread::id> where_;
  std::vector<std::atomic<std::uint64_t>> slices_;
  std::vector<fb::Task<void>> tasks_;
};

// A fiber that holds its scheduler thread (blocks the OS thread, never yields) until released:
// whatever is spawned meanwhile runs on the other threads. Test-only placement technique.
struct Hog {
  ThreadEvent running, release;
  std::thread::id thread;
  fb::Task<void> task;

  void start(fb::Runtime& rt) {
    task = rt.spawn({.name = "hog"}, [this] {
      thread = here();
      running.set();
      // Bounded: if the test fails before releasing it, ~Runtime must still finish.
      (void)release.wait_for(kDeadline);
    });
    running.wait("the hog fiber to start");
  }
  void finish() {
    release.set();
    get_within(task, "the hog fiber");
  }
  // A test that failed between start() and finish(): let the fiber go before its events die.
  ~Hog() {
    release.set();
    if (task.valid()) (void)task.wait_for(kDeadline);
  }
};

// ShapedTest over the shapes these tests are about: 1 and 2 scheduler threads.
inline std::string threads_name(const ::testing::TestParamInfo<unsigned>& info) { return shape_name(info); }


}  // namespace fbtest_io
