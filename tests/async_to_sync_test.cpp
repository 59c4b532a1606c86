// tests/async_to_sync_test.cpp — AsyncToSync from plain threads: results and arguments (#16),
// the body runs as a fiber on options.runtime / the default runtime, exceptions as the same
// object, the decorator form (#17), several threads at once (#20), force_new_loop's private
// scheduler (fibers left behind are stopped and joined), and "returns only when the fiber is done
// and no routed work is pending".
#include "fixtures.hpp"

#include <sched.h>

#include <boost/fiber/operations.hpp>

#include <memory>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace fbtest;

class AsyncToSyncShape : public ShapedTest {};
FB_INSTANTIATE_SHAPES(AsyncToSyncShape);

// #16 test_async_to_sync: a basic call from a plain thread with no runtime around.
TEST(AsyncToSync, ReturnsTheResultToAPlainThread) {
  run_with_deadline([] { EXPECT_EQ(fb::async_to_sync([](int a, int b) { return a * b; })(42, 2), 84); });
}

TEST(AsyncToSync, BodyRunsAsAFiberOfTheDefaultRuntimeByDefault) {
  run_with_deadline([] {
    const auto [on_fiber, runtime] = fb::async_to_sync([] { return std::pair{fb::in_fiber(), fb::current_runtime()}; })();
    EXPECT_TRUE(on_fiber);
    EXPECT_EQ(runtime, &fb::Runtime::default_runtime());
  });
}

TEST_P(AsyncToSyncShape, BodyRunsOnOptionsRuntime) {
  run_with_deadline([&] {
    const auto caller = std::this_thread::get_id();
    const auto [runtime, thread] =
        fb::async_to_sync([] { return std::pair{fb::current_runtime(), std::this_thread::get_id()}; }, {.runtime = &rt})();
    EXPECT_EQ(runtime, &rt);
    EXPECT_NE(thread, caller);
  });
}

// A plain thread parked in async_to_sync runs the thread-sensitive bodies of its call itself, under
// its own scheduling policy: only threads the library starts run under SCHED_BATCH
// (sync_to_async_call_test).
TEST_P(AsyncToSyncShape, ThreadSensitiveBodiesServedByTheCallerKeepItsPolicy) {
  run_with_deadline([&] {
    ASSERT_EQ(::sched_getscheduler(0), SCHED_OTHER);
    const auto caller = std::this_thread::get_id();
    const auto [thread, policy] = fb::async_to_sync(
        [] {
          return fb::sync_to_async([] { return std::pair{std::this_thread::get_id(), ::sched_getscheduler(0)}; })();
        },
        {.runtime = &rt})();
    EXPECT_EQ(thread, caller);
    EXPECT_EQ(policy, SCHED_OTHER);
  });
}

TEST_P(AsyncToSyncShape, VoidBodyCompletesBeforeTheCallReturns) {
  run_with_deadline([&] {
    bool ran = false;  // plain bool: the return must happen-after the fiber's write
    fb::async_to_sync([&] {
      boost::this_fiber::yield();
      ran = true;
    }, {.runtime = &rt})();
    EXPECT_TRUE(ran);
  });
}

TEST_P(AsyncToSyncShape, ArgumentsAreDecayCopiedAndMoveOnlyOnesMoved) {
  run_with_deadline([&] {
    std::string s = "thread";
    std::string r = "thread";
    auto p = std::make_unique<int>(1);
    const int* raw = p.get();
    auto back = fb::async_to_sync(
        [](std::string copy, std::string& ref, std::unique_ptr<int> q) {
          copy += "+fiber";
          ref += "+fiber";
          *q += 1;
          return std::pair{copy, std::move(q)};
        },
        {.runtime = &rt})(s, std::ref(r), std::move(p));
    EXPECT_EQ(back.first, "thread+fiber");
    EXPECT_EQ(s, "thread");
    EXPECT_EQ(r, "thread+fiber");
    EXPECT_EQ(back.second.get(), raw);
    EXPECT_EQ(*back.second, 2);
  });
}

TEST_P(AsyncToSyncShape, ExceptionReachesTheCallerAsTheSameObject) {
  struct Boom : std::runtime_error {
    Boom() : std::runtime_error("async boom") {}
  };
  run_with_deadline([&] {
    const void* thrown = nullptr;
    try {
      fb::async_to_sync([&thrown] { throw_noting_address(Boom(), thrown); }, {.runtime = &rt})();
      ADD_FAILURE() << "nothing thrown";
    } catch (const Boom& b) {
      EXPECT_EQ(static_cast<const void*>(&b), thrown);
      EXPECT_STREQ(b.what(), "async boom");
    }
  });
}

// #17 test_async_to_sync_decorator: the options-first form.
TEST_P(AsyncToSyncShape, DecoratorFormAppliesItsOptions) {
  run_with_deadline([&] {
    auto on_rt = fb::async_to_sync(fb::AsyncToSyncOptions{.runtime = &rt});
    auto where = on_rt([](int x) { return std::pair{x + 1, fb::current_runtime()}; });
    EXPECT_EQ(where.options().runtime, &rt);
    EXPECT_FALSE(where.options().force_new_loop);
    const auto [v, runtime] = where(41);
    EXPECT_EQ(v, 42);
    EXPECT_EQ(runtime, &rt);
  });
}

// #20 test_async_to_sync_in_thread: many plain threads call into one runtime at once.
TEST_P(AsyncToSyncShape, ManyPlainThreadsCallConcurrently) {
  constexpr int kThreads = 8, kCalls = 100;
  run_with_deadline([&] {
    std::atomic<long> sum{0};
    on_threads(kThreads, [&](int t) {
      for (int i = 0; i < kCalls; ++i) sum += fb::async_to_sync([](int v) { return v; }, {.runtime = &rt})(t * kCalls + i);
    });
    const long n = kThreads * kCalls;
    EXPECT_EQ(sum.load(), n * (n - 1) / 2);
  });
}

// The wrapper object can be reused; each call is a new fiber.
TEST_P(AsyncToSyncShape, WrapperIsReusable) {
  run_with_deadline([&] {
    auto count = fb::async_to_sync([](int x) { return x * x; }, {.runtime = &rt});
    int sum = 0;
    for (int i = 0; i < 100; ++i) sum += count(i);
    EXPECT_EQ(sum, 328350);
  });
}

// ---- force_new_loop --------------------------------------------------------------------------

TEST_P(AsyncToSyncShape, ForceNewLoopRunsOnAFreshPrivateScheduler) {
  run_with_deadline([&] {
    fb::Runtime* const default_rt = &fb::Runtime::default_runtime();  // before: the private one is freed after
    auto where = [] { return std::pair{fb::in_fiber(), fb::current_runtime()}; };
    const auto [on_fiber, first] = fb::async_to_sync(where, {.force_new_loop = true, .runtime = &rt})();
    EXPECT_TRUE(on_fiber);
    EXPECT_NE(first, nullptr);
    EXPECT_NE(first, &rt);
    EXPECT_NE(first, default_rt);
  });
}

// Like asyncio.run: fibers the body leaves behind are stopped and joined before the call returns.
TEST(AsyncToSync, ForceNewLoopStopsAndJoinsFibersLeftBehind) {
  run_with_deadline([] {
    struct Shared {
      ThreadEvent body_started, body_released;
    };
    auto sh = std::make_shared<Shared>();
    fb::Task<int> leftover = fb::async_to_sync([sh] {
      auto task = fb::spawn([sh] {
        // Blocks in a bridge until stopped: an interruption point. The body itself sees the stop.
        fb::sync_to_async([sh](std::stop_token st) {
          sh->body_started.set();
          std::mutex m;
          std::condition_variable_any cv;
          std::unique_lock lk(m);
          (void)cv.wait_for(lk, st, kDeadline, [] { return false; });
          sh->body_released.set();
        }, {.thread_sensitive = false})();
        return 1;
      });
      // Return only once the leftover fiber is blocked in its bridge.
      fb::sync_to_async([sh] { sh->body_started.wait("leftover body start"); }, {.thread_sensitive = false})();
      return task;
    }, {.force_new_loop = true})();
    ASSERT_TRUE(leftover.valid());
    EXPECT_TRUE(leftover.ready()) << "a fiber left behind still runs after force_new_loop returned";
    EXPECT_THROW(get_within(leftover), fb::CancelledError);
    sh->body_released.wait("the stopped body");
  });
}

// ---- returns only when no routed work is pending -----------------------------------------------

// The fiber finishes while a thread-sensitive call routed to the parked caller is still queued
// behind another one: the caller runs both before returning. One scheduler thread makes the order
// deterministic (the second call is queued before the fiber resumes).
TEST(AsyncToSync, ReturnsOnlyAfterRoutedWorkStillQueuedHasRun) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 1}};
  run_with_deadline([&] {
    const auto caller = std::this_thread::get_id();
    auto first_running = std::make_shared<ThreadEvent>();
    auto fiber_done = std::make_shared<ThreadEvent>();
    std::thread::id first_thread, second_thread;
    bool second_ran = false;
    fb::Task<void> c1, c2;
    fb::async_to_sync([&] {
      c1 = fb::spawn([&] {
        fb::sync_to_async([&] {
          first_thread = std::this_thread::get_id();
          first_running->set();
          fiber_done->wait("the fiber's end");
        })();
      });
      // Wait (on a pool thread) until the caller is busy with the first call.
      fb::sync_to_async([&] { first_running->wait("first call"); }, {.thread_sensitive = false})();
      auto queued = std::make_shared<FiberEvent>();
      c2 = fb::spawn([&, queued] {
        queued->set();  // no suspension between this and the routing of the call below
        fb::sync_to_async([&] {
          second_thread = std::this_thread::get_id();
          second_ran = true;
        })();
      });
      queued->wait("second call queued");
      fiber_done->set();
    }, {.runtime = &rt})();
    EXPECT_TRUE(second_ran) << "async_to_sync returned with routed work still pending";
    EXPECT_EQ(first_thread, caller);
    EXPECT_EQ(second_thread, caller);
    get_within(c1);
    get_within(c2);
  });
}

}  // namespace
