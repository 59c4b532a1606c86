// fiber_io_test — I/O with the scheduler threads driving the runtime's reactor (issue 12): an
// idle scheduler thread waits in the io_context (one at a time, the drive token), busy threads
// poll it from their dispatcher while fibers are queued, and spawns from outside go through the
// runtime's inbox. These tests check that I/O and timers complete whether every scheduler thread
// is idle or busy, that cross-thread spawns never lose a wake-up, that ~Runtime wakes fibers
// blocked in I/O on every thread, and that use_fiber cancellation works across threads.
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

namespace {

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

LoopbackPair connect_loopback(asio::any_io_executor fiber_ex, asio::io_context& plain) {
  tcp::acceptor acceptor(plain, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  LoopbackPair p{tcp::socket(fiber_ex), tcp::socket(plain)};
  p.fiber_end.connect(acceptor.local_endpoint());  // loopback: the kernel completes it at once
  acceptor.accept(p.peer);
  return p;
}

// Bytes with a pattern (i mod 251), so a read can be checked byte for byte.
std::vector<unsigned char> pattern(std::size_t n) {
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
std::string threads_name(const ::testing::TestParamInfo<unsigned>& info) { return shape_name(info); }

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

// ---------------------------------------------------------------------------------------------
// 4. ~Runtime with fibers blocked in I/O on every scheduler thread.

// What a fiber blocked in an operation saw when it woke.
enum class Outcome { kCancelledError, kOperationAborted, kCompleted, kOtherError };

std::string to_string(Outcome o) {
  switch (o) {
    case Outcome::kCancelledError: return "CancelledError";
    case Outcome::kOperationAborted: return "operation_aborted";
    case Outcome::kCompleted: return "completed";
    case Outcome::kOtherError: return "another error";
  }
  return "?";
}

// Blocks in a read on `s` that nobody answers (use_fiber, or use_fiber[ec] when `with_ec`).
Outcome blocked_read(tcp::socket& s, bool with_ec) {
  char buf[16];
  try {
    if (with_ec) {
      boost::system::error_code ec;
      (void)s.async_read_some(asio::buffer(buf), fb::use_fiber[ec]);
      return ec == asio::error::operation_aborted ? Outcome::kOperationAborted
             : ec                                 ? Outcome::kOtherError
                                                  : Outcome::kCompleted;
    }
    (void)s.async_read_some(asio::buffer(buf), fb::use_fiber);
    return Outcome::kCompleted;
  } catch (const fb::CancelledError&) {
    return Outcome::kCancelledError;
  } catch (...) {
    return Outcome::kOtherError;
  }
}

// Blocks on a timer that would fire in an hour.
Outcome blocked_timer() {
  try {
    asio::steady_timer timer(fb::io_executor(), std::chrono::hours(1));
    timer.async_wait(fb::use_fiber);
    return Outcome::kCompleted;
  } catch (const fb::CancelledError&) {
    return Outcome::kCancelledError;
  } catch (...) {
    return Outcome::kOtherError;
  }
}

// Extends AsioTest.RuntimeDestructionWakesFibersInPendingOperations (one thread, one timer) to
// both scheduler threads of a 2-thread runtime and to socket reads: on each thread, a read with
// use_fiber, a read with use_fiber[ec] and a 1 h timer. ~Runtime (on a helper thread) must
// return before a deadline, and each fiber must have woken with the documented result.
TEST(FiberIoShutdown, RuntimeDestructionWakesFibersBlockedInIoOnEverySchedulerThread) {
  asio::io_context plain;  // the peers outlive the runtime (nobody ever writes to them)
  std::vector<tcp::socket> peers;
  auto rt = std::make_unique<fb::Runtime>(fb::RuntimeOptions{.threads = 2, .slow_fiber_threshold = {}});

  struct Blocked {
    fb::Task<Outcome> task;
    std::thread::id thread;  // where it started its operation
    Outcome expected;
    std::string what;
  };
  std::vector<std::unique_ptr<Blocked>> blocked;
  // Spawns the three blocked fibers and waits until each is about to block; the fiber end of
  // each socket moves into its fiber (destroyed there, before the runtime).
  auto block_three = [&] {
    for (int kind = 0; kind < 3; ++kind) {
      auto b = std::make_unique<Blocked>();
      auto ready = std::make_shared<ThreadEvent>();
      Blocked* self = b.get();
      if (kind == 2) {
        b->expected = Outcome::kCancelledError;
        b->what = "1 h timer, use_fiber";
        b->task = rt->spawn({.name = "blocked-timer"}, [self, ready] {
          self->thread = here();
          ready->set();
          return blocked_timer();
        });
      } else {
        LoopbackPair pair = connect_loopback(rt->io_executor(), plain);
        peers.push_back(std::move(pair.peer));
        const bool with_ec = kind == 1;
        b->expected = with_ec ? Outcome::kOperationAborted : Outcome::kCancelledError;
        b->what = with_ec ? "socket read, use_fiber[ec]" : "socket read, use_fiber";
        b->task = rt->spawn({.name = "blocked-read"}, [self, ready, with_ec](tcp::socket s) {
          self->thread = here();
          ready->set();
          return blocked_read(s, with_ec);
        }, std::move(pair.fiber_end));
      }
      ready->wait("a fiber about to block in I/O");
      blocked.push_back(std::move(b));
    }
  };

  // Thread A held by a hog: the first three block on thread B. Then B is held and the next
  // three block on thread A.
  Hog hog_a, hog_b;
  hog_a.start(*rt);
  block_three();
  hog_b.start(*rt);
  hog_a.finish();
  block_three();
  hog_b.finish();

  ASSERT_NE(hog_a.thread, hog_b.thread);
  std::set<std::thread::id> threads;
  for (std::size_t i = 0; i < blocked.size(); ++i) {
    threads.insert(blocked[i]->thread);
    EXPECT_EQ(blocked[i]->thread, i < 3 ? hog_b.thread : hog_a.thread) << blocked[i]->what << " was not placed";
  }
  EXPECT_EQ(threads.size(), 2u) << "the blocked fibers do not cover both scheduler threads";

  auto destroyed = std::async(std::launch::async, [r = std::move(rt)]() mutable { r.reset(); });
  future_within(destroyed, "~Runtime with fibers blocked in I/O on both threads");
  for (auto& b : blocked) {
    ASSERT_TRUE(b->task.ready()) << b->what << ": ~Runtime returned before the fiber finished";
    EXPECT_EQ(to_string(b->task.get()), to_string(b->expected)) << b->what;
  }
}

// ---------------------------------------------------------------------------------------------
// 5. use_fiber cancellation across scheduler threads.
//
// asio_test.cpp covers a stop requested from the test thread: a timer (use_fiber and
// use_fiber[ec]), a socket read_some (use_fiber), a stop before the call, an uncancellable
// operation, ~Runtime (one thread, a timer). Missing, added here: the stop requested by a fiber
// on the *other* scheduler thread of a 2-thread runtime, for socket reads with use_fiber,
// use_fiber[ec] and a composed async_read; the reader's thread is held by a hog while the stop
// arrives (its wake-up is remote), and afterwards the socket and the runtime still serve I/O.

enum class ReadKind { kReadSomeThrows, kReadSomeEc, kComposedReadThrows };

std::string read_kind_name(const ::testing::TestParamInfo<ReadKind>& info) {
  switch (info.param) {
    case ReadKind::kReadSomeThrows: return "ReadSome_UseFiber";
    case ReadKind::kReadSomeEc: return "ReadSome_UseFiberEc";
    case ReadKind::kComposedReadThrows: return "ComposedAsyncRead_UseFiber";
  }
  return "unknown";
}

class FiberIoCancel : public ::testing::TestWithParam<ReadKind> {
 protected:
  fb::Runtime rt{fb::RuntimeOptions{.threads = 2, .slow_fiber_threshold = {}}};
};
INSTANTIATE_TEST_SUITE_P(Kinds, FiberIoCancel,
                         ::testing::Values(ReadKind::kReadSomeThrows, ReadKind::kReadSomeEc,
                                           ReadKind::kComposedReadThrows),
                         read_kind_name);

TEST_P(FiberIoCancel, StopFromAFiberOnTheOtherThreadCancelsASocketRead) {
  asio::io_context plain;
  LoopbackPair pair = connect_loopback(rt.io_executor(), plain);  // after rt: destroyed first
  const ReadKind kind = GetParam();

  // The reader blocks on thread B (A held), then B is held while a fiber on A stops it.
  Hog hog_a, hog_b;
  hog_a.start(rt);
  ThreadEvent reading;
  std::thread::id reader_thread;
  auto reader = rt.spawn({.name = "reader"}, [&] {
    reader_thread = here();
    reading.set();
    char buf[16];
    try {
      switch (kind) {
        case ReadKind::kReadSomeThrows:
          (void)pair.fiber_end.async_read_some(asio::buffer(buf), fb::use_fiber);
          return Outcome::kCompleted;
        case ReadKind::kReadSomeEc: {
          boost::system::error_code ec;
          (void)pair.fiber_end.async_read_some(asio::buffer(buf), fb::use_fiber[ec]);
          return ec == asio::error::operation_aborted ? Outcome::kOperationAborted
                 : ec                                 ? Outcome::kOtherError
                                                      : Outcome::kCompleted;
        }
        case ReadKind::kComposedReadThrows:
          (void)asio::async_read(pair.fiber_end, asio::buffer(buf), fb::use_fiber);
          return Outcome::kCompleted;
      }
    } catch (const fb::CancelledError&) {
      return Outcome::kCancelledError;
    } catch (...) {
      return Outcome::kOtherError;
    }
    return Outcome::kOtherError;
  });
  reading.wait("the reader to start");
  hog_b.start(rt);  // the reader's thread: held (the reader is suspended in its read)
  hog_a.finish();

  auto canceller = rt.spawn({.name = "canceller"}, [&] {
    const auto t = here();
    reader.request_stop();
    return t;
  });
  const std::thread::id canceller_thread = get_within(canceller, "the canceller");
  hog_b.finish();  // the reader's thread runs again: the reader wakes there
  const Outcome got = get_within(reader, "the cancelled reader");

  EXPECT_EQ(reader_thread, hog_b.thread) << "the reader was not placed on thread B";
  EXPECT_EQ(canceller_thread, hog_a.thread) << "the canceller was not placed on thread A";
  EXPECT_NE(reader_thread, canceller_thread);
  const Outcome expected = kind == ReadKind::kReadSomeEc ? Outcome::kOperationAborted : Outcome::kCancelledError;
  EXPECT_EQ(to_string(got), to_string(expected));

  // The socket and the reactor still work: a fresh fiber reads what the peer writes now.
  const std::string msg = "after the cancel";
  asio::write(pair.peer, asio::buffer(msg));
  auto again = rt.spawn([&] {
    std::string back(msg.size(), '\0');
    asio::async_read(pair.fiber_end, asio::buffer(back), fb::use_fiber);
    return back;
  });
  EXPECT_EQ(get_within(again, "a read on the socket after the cancelled one"), msg);
}

}  // namespace
