// tests/thread_sensitive_test.cpp — ThreadSensitiveContext (#32, #33, #34, #47, #59; rule 2, its
// order and serialisation, rule 1 winning over it, exit suspending only the fiber, a fiber
// outliving its context) and AsyncSingleThreadContext (#27-#31, other threads unaffected).
#include "fixtures.hpp"

#include <boost/fiber/operations.hpp>

#include <latch>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace {

using namespace fbtest;

class ThreadSensitive : public SyncThreadShapedTest {};
FB_INSTANTIATE_SHAPES(ThreadSensitive);

// #32 test_thread_sensitive_with_context_matches: fibers inside one context (spawned inside it:
// they inherit it) run their sensitive bodies on the same thread, which is not the sync thread.
TEST_P(ThreadSensitive, FibersInOneContextShareItsDedicatedThread) {
  auto t = rt.spawn([] {
    fb::ThreadSensitiveContext scope;
    const auto mine = fb::sync_to_async(here)();
    auto a = fb::spawn([] { return fb::sync_to_async(here)(); });
    auto b = fb::spawn([] { return fb::sync_to_async(here)(); });
    return std::tuple{mine, a.get(), b.get()};
  });
  const auto [mine, a, b] = get_within(t);
  EXPECT_EQ(a, mine);
  EXPECT_EQ(b, mine);
  EXPECT_NE(mine, sync_thread_id());
  EXPECT_NE(mine, here());
}

// #33 test_thread_sensitive_nested_context: a nested context is a no-op sharing the outer thread.
TEST_P(ThreadSensitive, NestedContextSharesTheOuterThread) {
  auto t = rt.spawn([] {
    fb::ThreadSensitiveContext outer;
    const auto before = fb::sync_to_async(here)();
    std::thread::id inside;
    {
      fb::ThreadSensitiveContext inner;
      inside = fb::sync_to_async(here)();
    }
    const auto after = fb::sync_to_async(here)();  // the inner exit did not release the thread
    return std::tuple{before, inside, after};
  });
  const auto [before, inside, after] = get_within(t);
  EXPECT_EQ(inside, before);
  EXPECT_EQ(after, before);
}

// #34 test_thread_sensitive_context_without_sync_work.
TEST_P(ThreadSensitive, EmptyContextEntersAndExitsCleanly) {
  auto t = rt.spawn([] {
    for (int i = 0; i < 20; ++i) fb::ThreadSensitiveContext scope;
    return 1;
  });
  EXPECT_EQ(get_within(t), 1);
}

// #59 test_thread_sensitive_with_context_different: separate contexts use separate threads and
// run in parallel (each body waits for the other to be inside at the same time).
TEST_P(ThreadSensitive, SeparateContextsRunInParallelOnSeparateThreads) {
  auto both_inside = std::make_shared<std::latch>(2);
  auto request = [both_inside] {
    fb::ThreadSensitiveContext scope;
    return fb::sync_to_async([both_inside] {
      both_inside->arrive_and_wait();
      return here();
    })();
  };
  auto a = rt.spawn(request);
  auto b = rt.spawn(request);
  const auto ida = get_within(a, "request a");
  const auto idb = get_within(b, "request b");
  EXPECT_NE(ida, idb);
  EXPECT_NE(ida, sync_thread_id());
  EXPECT_NE(idb, sync_thread_id());
}

// Many requests at once, each in its own context: one thread per live context, all distinct.
TEST_P(ThreadSensitive, EachOfManyConcurrentRequestsGetsItsOwnThread) {
  constexpr int kRequests = 16;
  auto all_inside = std::make_shared<std::latch>(kRequests);
  std::vector<fb::Task<std::thread::id>> requests;
  for (int i = 0; i < kRequests; ++i)
    requests.push_back(rt.spawn([all_inside] {
      fb::ThreadSensitiveContext scope;
      return fb::sync_to_async([all_inside] {
        all_inside->arrive_and_wait();
        return here();
      })();
    }));
  std::set<std::thread::id> ids;
  for (auto& r : requests) ids.insert(get_within(r, "request"));
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(kRequests));
}

// Within one context the thread runs the bodies one at a time, in the order they were called.
TEST_P(ThreadSensitive, BodiesOfOneContextRunSeriallyInCallOrder) {
  auto t = rt.spawn([] {
    fb::ThreadSensitiveContext scope;
    std::vector<int> order;  // only touched by bodies: the context thread
    std::atomic<int> inside{0}, overlap{0};
    for (int i = 0; i < 20; ++i)
      fb::sync_to_async([&, i] {
        if (inside.fetch_add(1) != 0) overlap.fetch_add(1);
        order.push_back(i);
        inside.fetch_sub(1);
      })();
    std::vector<fb::Task<void>> concurrent;
    for (int i = 0; i < 20; ++i)
      concurrent.push_back(fb::spawn([&] {
        fb::sync_to_async([&] {
          if (inside.fetch_add(1) != 0) overlap.fetch_add(1);
          std::this_thread::yield();
          inside.fetch_sub(1);
        })();
      }));
    for (auto& c : concurrent) c.get();
    bool in_order = order.size() == 20;
    for (int i = 0; in_order && i < 20; ++i) in_order = order[i] == i;
    return std::pair{in_order, overlap.load()};
  });
  const auto [in_order, overlap] = get_within(t);
  EXPECT_TRUE(in_order);
  EXPECT_EQ(overlap, 0);
}

// Non-sensitive calls inside a context still go to the blocking pool.
TEST_P(ThreadSensitive, NonSensitiveCallsIgnoreTheContext) {
  auto t = rt.spawn([] {
    fb::ThreadSensitiveContext scope;
    const auto ctx_thread = fb::sync_to_async(here)();
    const auto pool_thread = fb::sync_to_async(here, {.thread_sensitive = false})();
    return ctx_thread != pool_thread;
  });
  EXPECT_TRUE(get_within(t));
}

// Rule 1 wins over rule 2: under an async_to_sync, a context's fiber still routes to the caller.
TEST_P(ThreadSensitive, EnclosingAsyncToSyncFrameWinsOverTheContext) {
  run_with_deadline([&] {
    const auto caller = here();
    const auto where = fb::async_to_sync([] {
      fb::ThreadSensitiveContext scope;
      return fb::sync_to_async(here)();
    }, {.runtime = &rt})();
    EXPECT_EQ(where, caller);
  });
}

// The outermost exit waits for the thread's pending work, suspending only the exiting fiber: on ONE
// scheduler thread, the work is released by a sibling fiber while the exit waits.
TEST(ThreadSensitiveContext, ExitWaitsForPendingWorkSuspendingOnlyTheFiber) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 1}};
  struct Shared {
    ThreadEvent body_started, release;
    std::atomic<bool> body_done{false};
  };
  auto sh = std::make_shared<Shared>();
  auto request = rt.spawn([sh] {
    fb::Task<void> orphan;
    {
      fb::ThreadSensitiveContext scope;
      orphan = fb::spawn([sh] {
        fb::sync_to_async([sh] {
          sh->body_started.set();
          sh->release.wait("release by the sibling");
          sh->body_done = true;
        })();
      });
      fb::sync_to_async([sh] { sh->body_started.wait("context body start"); }, {.thread_sensitive = false})();
      // A sibling on this same scheduler thread releases the body; it can only run if the exit
      // below suspends just this fiber.
      (void)fb::spawn([sh] { sh->release.set(); });
    }  // waits for the pending body
    const bool done_at_exit = sh->body_done.load();
    orphan.get();
    return done_at_exit;
  });
  EXPECT_TRUE(get_within(request)) << "the context's exit returned before its thread's pending work finished";
}

// A fiber that outlives its context (spawned inside, calling after the exit) still gets its
// sensitive call run instead of failing.
TEST_P(ThreadSensitive, FiberOutlivingItsContextStillRunsItsCalls) {
  auto t = rt.spawn([] {
    auto gate = std::make_shared<FiberEvent>();
    fb::Task<int> late;
    {
      fb::ThreadSensitiveContext scope;
      (void)fb::sync_to_async([] {})();
      late = fb::spawn([gate] {
        gate->wait("context exit");
        return fb::sync_to_async([] { return 12; })();
      });
    }
    gate->set();
    return late.get();
  });
  EXPECT_EQ(get_within(t), 12);
}

// #47 test_sync_to_async_within_create_task (#348): inside a context, middleware s2a -> view a2s
// -> a task doing s2a awaited with a timeout: the task's body runs on the middleware's thread and
// nothing hangs.
TEST_P(ThreadSensitive, TaskAwaitedWithATimeoutUnderSyncMiddlewareRunsOnTheMiddlewareThread) {
  auto t = rt.spawn([] {
    fb::ThreadSensitiveContext scope;
    return fb::sync_to_async([] {
      const auto middleware = here();
      const auto ran_on = fb::async_to_sync([] {
        auto task = fb::spawn([] { return fb::sync_to_async(here)(); });
        if (!task.wait_for(kDeadline)) return std::thread::id{};
        return task.get();
      })();
      return ran_on == middleware;
    })();
  });
  EXPECT_TRUE(get_within(t));
}

// ---- AsyncSingleThreadContext ----------------------------------------------------------------

struct Where {
  std::thread::id thread;
  fb::Runtime* runtime;
};
Where where_a2s_runs() {
  return fb::async_to_sync([] { return Where{here(), fb::current_runtime()}; })();
}

// #27 test_async_single_thread_context_matches / #28 nested: calls inside the context run on one
// private scheduler thread (not the caller, not the default runtime), nested contexts share it.
TEST(AsyncSingleThreadContext, CallsRunOnOnePrivateSchedulerThread) {
  run_with_deadline([] {
    fb::AsyncSingleThreadContext outer;
    const auto a = where_a2s_runs();
    const auto b = where_a2s_runs();
    Where c{};
    {
      fb::AsyncSingleThreadContext nested;
      c = where_a2s_runs();
    }
    const auto d = where_a2s_runs();
    EXPECT_NE(a.thread, here());
    EXPECT_NE(a.runtime, &fb::Runtime::default_runtime());
    EXPECT_NE(a.runtime, nullptr);
    EXPECT_EQ(b.thread, a.thread);
    EXPECT_EQ(c.thread, a.thread);
    EXPECT_EQ(d.thread, a.thread);
  });
}

// #29 test_async_single_thread_context_without_async_work.
TEST(AsyncSingleThreadContext, EmptyContextEntersAndExitsCleanly) {
  run_with_deadline([] {
    for (int i = 0; i < 20; ++i) fb::AsyncSingleThreadContext scope;
  });
}

// #30 test_async_single_thread_context_success_share_context: a variable incremented by two calls
// ends at 2 (ordinary copy-back).
TEST(AsyncSingleThreadContext, CallsShareContextChangesThroughCopyBack) {
  static fb::ContextVar<int> counter{"ast.counter", 0};
  run_with_deadline([] {
    fb::AsyncSingleThreadContext scope;
    auto bump = [] { counter.set(counter.value_or(-100) + 1); };
    fb::async_to_sync(bump)();
    fb::async_to_sync(bump)();
    EXPECT_EQ(counter.value_or(-1), 2);
  });
}

// #31 test_async_single_thread_context_matches_from_async_thread: inside a sync body, a2s under
// the context still goes to the outer fiber's runtime.
TEST_P(ThreadSensitive, AsyncSingleThreadContextDoesNotOverrideTheOuterRuntime) {
  auto t = rt.spawn([] {
    return fb::sync_to_async([] {
      fb::AsyncSingleThreadContext scope;
      return fb::async_to_sync([] { return fb::current_runtime(); })();
    })();
  });
  EXPECT_EQ(get_within(t), &rt);
}

// The context belongs to the thread that made it; another thread's calls are unaffected.
TEST(AsyncSingleThreadContext, OtherThreadsAreUnaffected) {
  run_with_deadline([] {
    fb::AsyncSingleThreadContext scope;
    const auto mine = where_a2s_runs();
    Where theirs{};
    std::thread([&] { theirs = where_a2s_runs(); }).join();
    EXPECT_EQ(theirs.runtime, &fb::Runtime::default_runtime());
    EXPECT_NE(mine.runtime, theirs.runtime);
  });
}

// Two threads with their own contexts get two different private threads.
TEST(AsyncSingleThreadContext, EachThreadsContextHasItsOwnSchedulerThread) {
  run_with_deadline([] {
    std::thread::id a, b;
    std::latch both_in_context(2);
    auto worker = [&both_in_context](std::thread::id& out) {
      fb::AsyncSingleThreadContext scope;
      both_in_context.arrive_and_wait();  // both contexts alive at once
      out = where_a2s_runs().thread;
    };
    std::thread ta(worker, std::ref(a)), tb(worker, std::ref(b));
    ta.join();
    tb.join();
    EXPECT_NE(a, b);
  });
}

// Thread-sensitive work of a fiber inside the context routes back to the parked caller (rule 1).
TEST(AsyncSingleThreadContext, SensitiveBodiesStillRunOnTheCaller) {
  run_with_deadline([] {
    fb::AsyncSingleThreadContext scope;
    const auto where = fb::async_to_sync([] { return fb::sync_to_async(here)(); })();
    EXPECT_EQ(where, here());
  });
}

}  // namespace
