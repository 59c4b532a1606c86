// fiber_io_load_test — I/O and spawns with the scheduler threads driving the runtime's reactor
// (issue 12): a socket read and an echo complete while every scheduler thread runs yielding
// CPU-bound fibers; 100,000 cross-thread spawns never lose a wake-up (also through a small inbox:
// backpressure); timers fire on time with every thread idle and with every thread busy.
// Every wait has a deadline (fixtures.hpp: a hang prints which wait and exits with code 3);
// nothing sleeps to synchronise; timing bounds are generous (a loaded 2-vCPU CI box, TSan, ASan).
//
#include "fiber_io.hpp"

namespace {

using namespace fbtest;
using namespace fbtest_io;

// ---------------------------------------------------------------------------------------------
// 1. A socket read completes while every scheduler thread runs CPU-bound (yielding) fibers.

class FiberIoBusy : public ShapedTest {};
INSTANTIATE_TEST_SUITE_P(Shapes, FiberIoBusy, ::testing::Values(1u, 2u), threads_name);

// N spinners on N threads (no thread idles, so none waits in the reactor): only the busy
// threads' polls can complete the read. 256 KiB through a loopback socket needs many
// read_some completions, each one a reactor event.
TEST_P(FiberIoBusy, SocketReadCompletesWhileEverySchedulerThreadRunsYieldingCpuBoundFibers) {
  const unsigned n = GetParam();
  asio::io_context plain;
  LoopbackPair pair = connect_loopback(rt.io_executor(), plain);
  YieldingSpinners spinners(rt, n);
  ASSERT_TRUE(spinners.cover_all_threads(n)) << "the spinners never ran on all " << n << " scheduler threads";

  constexpr std::size_t kBytes = 256 * 1024;
  ThreadEvent reading;
  auto reader = rt.spawn({.name = "reader"}, [&] {
    std::vector<unsigned char> got(kBytes);
    reading.set();
    asio::async_read(pair.fiber_end, asio::buffer(got), fb::use_fiber);
    return got;
  });
  reading.wait("the reader fiber to start (spawned from outside onto busy threads)");
  const auto parks_before = rt.metrics().parks;
  const auto completions_before = rt.metrics().io_completions;
  const auto slices_at_write = spinners.per_spinner();
  const auto data = pattern(kBytes);
  // A plain thread writes, blocking while the socket buffer is full (until the fiber reads).
  auto writer = std::async(std::launch::async, [&] { return asio::write(pair.peer, asio::buffer(data)); });

  const auto got = get_within(reader, "the socket read on busy scheduler threads");
  EXPECT_FALSE(spinners.stopped());
  EXPECT_TRUE(got == data) << "the bytes read differ from those written";
  EXPECT_EQ(future_within(writer, "the plain-thread writer"), kBytes);
  EXPECT_GT(rt.metrics().io_completions, completions_before);
  // Still spinning, every one of them (none was starved by the I/O either).
  EXPECT_TRUE(spinners.all_advance(slices_at_write, 1)) << "a spinner stopped making progress";
  // No scheduler thread went idle meanwhile: the read was served by busy polls, not by an idle
  // thread waiting in the reactor (if this fails the scenario did not hold, not the runtime).
  EXPECT_EQ(rt.metrics().parks, parks_before) << "a scheduler thread idled during the read";
  EXPECT_EQ(spinners.threads_covered(), n);
  spinners.stop();
}

// Both ends on fibers: accept, connect, and 256 KiB each way (an echo, 16 KiB at a time) while N
// spinners keep the N threads busy. Every step of both fibers is a reactor event served by busy
// polls.
TEST_P(FiberIoBusy, FibersEchoOverLoopbackWhileEverySchedulerThreadRunsYieldingCpuBoundFibers) {
  const unsigned n = GetParam();
  tcp::acceptor acceptor(rt.io_executor(), tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const auto endpoint = acceptor.local_endpoint();
  YieldingSpinners spinners(rt, n);
  ASSERT_TRUE(spinners.cover_all_threads(n)) << "the spinners never ran on all " << n << " scheduler threads";
  const auto parks_before = rt.metrics().parks;

  constexpr std::size_t kBytes = 256 * 1024;
  const auto data = pattern(kBytes);
  auto server = rt.spawn({.name = "echo-server"}, [&] {
    tcp::socket s = acceptor.async_accept(fb::use_fiber);
    std::vector<unsigned char> buf(16 * 1024);
    std::size_t echoed = 0;
    while (echoed < kBytes) {
      const std::size_t k = s.async_read_some(asio::buffer(buf), fb::use_fiber);
      asio::async_write(s, asio::buffer(buf, k), fb::use_fiber);
      echoed += k;
    }
    return echoed;
  });
  auto client = rt.spawn({.name = "echo-client"}, [&] {
    tcp::socket s(fb::io_executor());
    s.async_connect(endpoint, fb::use_fiber);
    // A chunk out, the same chunk back, in turn (one fiber per socket: Asio objects are not
    // thread-safe, and fibers migrate).
    constexpr std::size_t kChunk = 16 * 1024;
    std::vector<unsigned char> back(kBytes);
    for (std::size_t at = 0; at < kBytes; at += kChunk) {
      asio::async_write(s, asio::buffer(data.data() + at, kChunk), fb::use_fiber);
      asio::async_read(s, asio::buffer(back.data() + at, kChunk), fb::use_fiber);
    }
    return back;
  });
  EXPECT_TRUE(get_within(client, "the echo client on busy scheduler threads") == data);
  EXPECT_EQ(get_within(server, "the echo server on busy scheduler threads"), kBytes);
  EXPECT_FALSE(spinners.stopped());
  EXPECT_EQ(rt.metrics().parks, parks_before) << "a scheduler thread idled during the echo";
  spinners.stop();
}

// ---------------------------------------------------------------------------------------------
// 2. 100,000 cross-thread spawns and completions, no lost wake-up.

class FiberIoSpawns : public ShapedTest {
 protected:
  // The reactor exists: idle scheduler threads wait in epoll (the drive token) or on their
  // futex, and a spawn from outside must reach either kind.
  void SetUp() override { (void)rt.io_executor(); }

  // `spawners` plain threads spawn kSpawns tiny fibers in all. Every kJoinEvery-th spawn is
  // joined at once (a blocking Task::get: the runtime goes idle between them, so the next spawn
  // must wake it), half of the others are joined at the end, the rest are detached (dropped
  // handles). A lost wake-up leaves a fiber unrun and the deadline reports it.
  void spawn_and_complete(int spawners) {
    std::atomic<int> done{0};
    ThreadEvent all_done;
    const int per = kSpawns / spawners;
    const int total = per * spawners;
    const auto spawned_before = rt.metrics().spawned;
    run_with_deadline(kScenarioDeadline, [&] {
      on_threads(spawners, [&](int) {
        std::vector<fb::Task<void>> joined;
        joined.reserve(per / 2 + 1);
        for (int i = 0; i < per; ++i) {
          auto t = rt.spawn([&] {
            if (done.fetch_add(1, std::memory_order_relaxed) + 1 == total) all_done.set();
          });
          if (i % kJoinEvery == 0) {
            get_within(t, "a spawned fiber joined at once");
          } else if (i % 2 == 0) {
            joined.push_back(std::move(t));
          }  // else: detached
        }
        for (auto& t : joined) get_within(t, "a spawned fiber joined at the end");
      });
      all_done.wait("every spawned fiber to complete", kDeadline);
    }, "the spawning threads");
    EXPECT_EQ(done.load(), total);
    EXPECT_GE(rt.metrics().spawned - spawned_before, static_cast<std::uint64_t>(total));
  }
};
INSTANTIATE_TEST_SUITE_P(Shapes, FiberIoSpawns, ::testing::Values(1u, 2u), threads_name);

TEST_P(FiberIoSpawns, OnePlainThreadSpawnsAHundredThousandFibersAndAllComplete) { spawn_and_complete(1); }

TEST_P(FiberIoSpawns, TwoPlainThreadsSpawnAHundredThousandFibersAndAllComplete) { spawn_and_complete(2); }

// The same from two plain threads into a small inbox (capacity 64): most spawns wait for a
// drain (backpressure), and every drain must wake the waiting spawners.
TEST_P(FiberIoSpawns, SpawnsThroughASmallInboxAllCompleteWithBackpressure) {
  fb::Runtime small{fb::RuntimeOptions{.threads = GetParam(), .inbox_capacity = 64}};
  (void)small.io_executor();
  std::atomic<int> done{0};
  constexpr int kPer = kSpawns / 4;
  run_with_deadline(kScenarioDeadline, [&] {
    on_threads(2, [&](int) {
      std::vector<fb::Task<void>> tasks;
      tasks.reserve(kPer);
      for (int i = 0; i < kPer; ++i) tasks.push_back(small.spawn([&] { done.fetch_add(1, std::memory_order_relaxed); }));
      for (auto& t : tasks) get_within(t, "a fiber spawned through the small inbox");
    });
  }, "the spawning threads");
  EXPECT_EQ(done.load(), 2 * kPer);
}

// ---------------------------------------------------------------------------------------------
// 3. Timers fire on time, with every thread idle and with every thread busy.

class FiberIoTimers : public ShapedTest {
 protected:
  struct Fired {
    std::chrono::steady_clock::duration waited{};
    bool at_or_after_expiry = false;
  };
  // On a fiber: waits for a `d` timer and says how long it took.
  static Fired wait_timer(std::chrono::milliseconds d) {
    const auto start = std::chrono::steady_clock::now();
    asio::steady_timer timer(fb::io_executor(), d);
    timer.async_wait(fb::use_fiber);
    const auto end = std::chrono::steady_clock::now();
    return Fired{end - start, end >= timer.expiry()};
  }
  static void expect_on_time(const Fired& f, std::chrono::milliseconds d) {
    EXPECT_TRUE(f.at_or_after_expiry) << "the timer fired before its expiry";
    EXPECT_GE(f.waited, d) << "the timer fired early";
    EXPECT_LT(f.waited, kTimerBound) << "the timer fired "
                                     << std::chrono::duration_cast<std::chrono::milliseconds>(f.waited).count()
                                     << " ms after it was set for " << d.count() << " ms";
  }
  static constexpr std::chrono::milliseconds kExpiry{20};
  static constexpr int kRounds = 5;
};
INSTANTIATE_TEST_SUITE_P(Shapes, FiberIoTimers, ::testing::Values(1u, 2u), threads_name);

// Every round starts on an idle runtime (the previous round's fibers are joined): one fiber per
// scheduler thread waits for a 20 ms timer; the threads idle meanwhile, one of them in the
// reactor.
TEST_P(FiberIoTimers, FireOnTimeWhileEverySchedulerThreadIsIdle) {
  for (int round = 0; round < kRounds; ++round) {
    std::vector<fb::Task<Fired>> waiters;
    for (unsigned i = 0; i < GetParam(); ++i) waiters.push_back(rt.spawn([] { return wait_timer(kExpiry); }));
    for (auto& w : waiters) expect_on_time(get_within(w, "a 20 ms timer on an idle runtime"), kExpiry);
  }
}

// Spinners keep every scheduler thread busy: no thread idles, so only busy polls run the timer
// queue. Rounds in a row, from one fiber, so each timer is set while the threads are busy.
TEST_P(FiberIoTimers, FireOnTimeWhileEverySchedulerThreadRunsYieldingCpuBoundFibers) {
  const unsigned n = GetParam();
  YieldingSpinners spinners(rt, n);
  ASSERT_TRUE(spinners.cover_all_threads(n)) << "the spinners never ran on all " << n << " scheduler threads";
  const auto parks_before = rt.metrics().parks;
  auto waiter = rt.spawn([] {
    std::vector<Fired> all;
    for (int round = 0; round < kRounds; ++round) all.push_back(wait_timer(kExpiry));
    return all;
  });
  const auto all = get_within(waiter, "20 ms timers on busy scheduler threads");
  EXPECT_FALSE(spinners.stopped());
  for (const auto& f : all) expect_on_time(f, kExpiry);
  EXPECT_EQ(rt.metrics().parks, parks_before) << "a scheduler thread idled: the scenario did not hold";
  spinners.stop();
}


}  // namespace
