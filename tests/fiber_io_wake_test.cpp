// fiber_io_wake_test — where a fiber resumes after its I/O completes (issue 12): the scheduler
// thread that ran the completion handler adopts the fiber (scheduler/fiber_wake.hpp), so a
// completion is never a cross-thread wake while that thread is free; a handler of another
// runtime (or a plain thread) hands the fiber back to a thread of its own runtime.
// Every wait has a deadline (fixtures.hpp: a hang prints which wait and exits with code 3);
// nothing sleeps to synchronise. Fibers are placed with hogs (fiber_io.hpp).
#include "fiber_io.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/error_code.hpp>

#include <sys/syscall.h>
#include <unistd.h>

#include <functional>

namespace {

using namespace fbtest;
using namespace fbtest_io;

// The kernel's id of the calling thread, read afresh: std::this_thread::get_id() is
// pthread_self(), which glibc declares `const`, so the compiler may reuse a value read before
// the fiber suspended, on another thread.
long kernel_tid() { return static_cast<long>(::syscall(SYS_gettid)); }

// An operation the test completes by hand: the initiation stores the handler; complete() posts
// it to `ex` and records the thread that ran it.
struct ManualOp {
  std::mutex m;
  std::function<void(boost::system::error_code)> handler;
  ThreadEvent initiated;
  std::atomic<std::thread::id> ran_on{};
  std::atomic<long> ran_on_tid{0};

  void start() {
    asio::async_initiate<const fb::use_fiber_t&, void(boost::system::error_code)>(
        [this](auto h) {
          {
            std::lock_guard g(m);
            handler = [h = std::make_shared<decltype(h)>(std::move(h))](boost::system::error_code ec) mutable {
              std::move (*h)(ec);
            };
          }
          initiated.set();
        },
        fb::use_fiber);
  }
  void complete(asio::any_io_executor ex) {
    asio::post(ex, [this] {
      ran_on.store(here());
      ran_on_tid.store(kernel_tid());
      std::function<void(boost::system::error_code)> h;
      {
        std::lock_guard g(m);
        h = std::move(handler);
      }
      h(boost::system::error_code{});
    });
  }
};

// The fiber's own thread is held (a hog) when its operation completes on the other thread: the
// fiber resumes on the thread that ran the handler, without waiting for its own.
TEST(FiberIoWake, TheThreadThatRunsTheHandlerRunsTheFiber) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 2, .slow_fiber_threshold = {}}};
  Hog hog_a, hog_b;
  ManualOp op;
  std::thread::id started_on;
  long started_tid = 0, resumed_tid = 0;
  hog_a.start(rt);  // thread A held: the waiter starts on thread B
  auto waiter = rt.spawn({.name = "waiter"}, [&] {
    started_on = here();
    started_tid = kernel_tid();
    op.start();  // suspends until the handler runs
    resumed_tid = kernel_tid();
  });
  op.initiated.wait("the waiter to start its operation");
  hog_b.start(rt);   // B drains the inbox once the waiter is suspended: the hog holds B
  op.complete(rt.io_executor());
  hog_a.release.set();  // A goes idle, drives the reactor, runs the handler
  get_within(waiter, "the waiter to resume while its own thread is held");
  hog_b.finish();
  hog_a.finish();

  ASSERT_NE(hog_a.thread, hog_b.thread);
  EXPECT_EQ(started_on, hog_b.thread) << "the waiter was not placed on thread B";
  EXPECT_EQ(op.ran_on.load(), hog_a.thread) << "the handler did not run on the free thread";
  EXPECT_EQ(resumed_tid, op.ran_on_tid.load()) << "the fiber did not resume on the thread that ran its handler";
  EXPECT_NE(resumed_tid, started_tid) << "the fiber resumed on its own (held) thread";
}

// A fiber of one runtime waiting on another runtime's timers: each completion runs on the other
// runtime's thread, and the fiber is handed back to its own runtime every time (never runs on
// the other's thread), with no lost wake-up.
TEST(FiberIoWake, AHandlerOfAnotherRuntimeHandsTheFiberBack) {
  fb::Runtime mine{fb::RuntimeOptions{.threads = 2}};
  fb::Runtime other{fb::RuntimeOptions{.threads = 1}};
  const long other_thread = get_within(other.spawn([] { return kernel_tid(); }), "the other runtime's thread");
  constexpr int kWaits = 200;
  auto task = mine.spawn([&] {
    int wrong = 0;
    asio::steady_timer timer(other.io_executor());
    for (int i = 0; i < kWaits; ++i) {
      timer.expires_after(std::chrono::microseconds(50));
      timer.async_wait(fb::use_fiber);
      if (kernel_tid() == other_thread || fb::current_runtime() != &mine) ++wrong;
    }
    return wrong;
  });
  EXPECT_EQ(get_within(task, "200 waits on the other runtime's timers"), 0)
      << "the fiber resumed on the other runtime's thread";
}

// Plain threads complete the operations (an io_context the test runs itself): every fiber is
// handed back to its runtime, many at once, across both threads, with no lost wake-up.
TEST(FiberIoWake, PlainThreadCompletionsHandFibersBack) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 2}};
  asio::io_context plain;
  auto guard = asio::make_work_guard(plain);
  std::atomic<long> runner_tid{0};
  std::thread runner([&] {
    runner_tid.store(kernel_tid());
    plain.run();
  });
  constexpr int kFibers = 16, kWaits = 100;
  std::vector<fb::Task<int>> tasks;
  for (int f = 0; f < kFibers; ++f) {
    tasks.push_back(rt.spawn([&plain, &runner_tid] {
      int wrong = 0;
      for (int i = 0; i < kWaits; ++i) {
        asio::post(plain.get_executor(), fb::use_fiber);
        if (kernel_tid() == runner_tid.load() || fb::current_runtime() == nullptr) ++wrong;
      }
      return wrong;
    }));
  }
  int wrong = 0;
  for (auto& t : tasks) wrong += get_within(t, "fibers completed by a plain thread");
  guard.reset();
  runner.join();
  EXPECT_EQ(wrong, 0) << "a fiber resumed on the plain thread that completed its operation";
}

// One handler completes two operations: its thread adopts both fibers in one pass (a batch, which
// wakes an idle peer only if it lasts: scheduler/spread_policy.hpp). The first fiber to run does
// not yield until the second has started, so no switch ever checks the batch: the slow-fiber
// watchdog's sample must offer the second fiber to the idle peer (observe/watchdog.hpp).
TEST(FiberIoWake, ABatchBehindAFiberThatDoesNotYieldReachesTheIdlePeer) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 2, .slow_fiber_threshold = std::chrono::milliseconds(100)}};
  ManualOp a, b;
  std::atomic<int> started{0};
  std::atomic<bool> gave_up{false};
  const auto body = [&](ManualOp& op) {
    op.start();
    started.fetch_add(1);
    const auto until = std::chrono::steady_clock::now() + kDeadline / 2;
    while (started.load() < 2) {  // no yield: only another thread can start the other fiber
      if (std::chrono::steady_clock::now() > until) {
        gave_up = true;
        return;
      }
    }
  };
  auto ta = rt.spawn([&] { body(a); });
  auto tb = rt.spawn([&] { body(b); });
  a.initiated.wait("the first fiber to start its operation");
  b.initiated.wait("the second fiber to start its operation");
  const auto take = [](ManualOp& op) {
    std::lock_guard g(op.m);
    return std::move(op.handler);
  };
  asio::post(rt.io_executor(), [&] {
    auto first = take(a);
    auto second = take(b);
    first(boost::system::error_code{});
    second(boost::system::error_code{});
  });
  get_within(ta, "the first fiber of the batch");
  get_within(tb, "the second fiber of the batch");
  EXPECT_FALSE(gave_up.load()) << "the fiber queued behind one that does not yield never reached the idle thread";
}

}  // namespace

namespace {

// The thread whose handler readied a fiber keeps the reactor while it runs it (the claim:
// scheduler/drive_token.hpp), so the idle peer stays on its futex. If that fiber then never
// yields, the slow-fiber watchdog's sample takes the claim away and wakes the peer to drive:
// an operation completed meanwhile is served there instead of waiting for the fiber.
TEST(FiberIoWake, IoIsServedWhileTheThreadThatKeepsTheReactorRunsAFiberThatDoesNotYield) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 2, .slow_fiber_threshold = std::chrono::milliseconds(100)}};
  ManualOp hog_op, reader_op;
  ThreadEvent spinning;
  std::atomic<bool> served{false}, gave_up{false};
  auto hog = rt.spawn([&] {
    // Resumed by the handler's thread, which then keeps the reactor; or, when the handler ran
    // before the fiber had finished suspending (it could not be adopted), handed back to its
    // own thread, to which the handler's thread then gives the reactor. Either way the thread
    // that runs the hog holds the claim, and only the watchdog's sample can take it away.
    hog_op.start();
    spinning.set();
    const auto until = std::chrono::steady_clock::now() + kDeadline / 2;
    while (!served.load()) {  // no yield: the reader's completion must be run by the other thread
      if (std::chrono::steady_clock::now() > until) {
        gave_up = true;
        return;
      }
    }
  });
  auto reader = rt.spawn([&] {
    reader_op.start();
    served = true;
  });
  hog_op.initiated.wait("the hog fiber to start its operation");
  reader_op.initiated.wait("the reader fiber to start its operation");
  hog_op.complete(rt.io_executor());
  spinning.wait("the hog fiber to resume and spin");
  reader_op.complete(rt.io_executor());  // queued in the reactor; nobody waits in it now
  get_within(reader, "the reader whose operation completed while the hog spins");
  get_within(hog, "the hog fiber");
  // (The reader's handler cannot have run on the hog's thread, which spins until it is served;
  // whether it ran on the thread that ran the hog's handler depends on that adoption race.)
  EXPECT_FALSE(gave_up.load()) << "the completion waited for the fiber that does not yield";
}

}  // namespace
