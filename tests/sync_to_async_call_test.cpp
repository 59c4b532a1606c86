// tests/sync_to_async_call_test.cpp — SyncToAsync on its own (no enclosing async_to_sync): results
// of every kind, arguments decay-copied, exceptions as the same object, only the calling fiber
// suspends (asgiref #1), the process-wide sync thread (rule 5), the blocking pool, user executors
// (#43), the decorator form. (Thousands of fibers at once: sync_to_async_load_test.cpp.)
#include "fixtures.hpp"

#include <sched.h>

#include <boost/fiber/operations.hpp>

#include <algorithm>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace fbtest;

// Compile-time contract of the async-callable traits.
inline int plain_function(int x) { return x; }
static_assert(!fb::is_async_callable_v<decltype(&plain_function)>);
static_assert(fb::is_async_callable_v<decltype(fb::sync_to_async(&plain_function))>);
static_assert(fb::is_async_callable_v<decltype(fb::mark_async([] { return 1; }))>);
static_assert(fb::is_async_callable_v<const decltype(fb::sync_to_async(&plain_function))&>);
static_assert(!fb::is_async_callable_v<decltype([] { return 1; })>);

class SyncToAsyncShape : public SyncThreadShapedTest {};
FB_INSTANTIATE_SHAPES(SyncToAsyncShape);

// #1 test_sync_to_async: the result comes back, and while the body blocks only the calling fiber
// waits. With ONE scheduler thread, the body is released by another fiber of that thread.
TEST(SyncToAsync, OnlyTheCallingFiberSuspendsWhileTheBodyBlocks) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 1}};
  auto released = std::make_shared<ThreadEvent>();
  auto blocked = rt.spawn([released] {
    return fb::sync_to_async([released] {
      released->wait("release by a sibling fiber");
      return 42;
    })();
  });
  auto sibling = rt.spawn([released] { released->set(); });
  EXPECT_EQ(get_within(blocked), 42);
  get_within(sibling);
}

TEST_P(SyncToAsyncShape, BodyRunsOffTheFiberOnAPlainThread) {
  auto t = rt.spawn([] {
    const auto fiber_thread = std::this_thread::get_id();
    struct Seen {
      std::thread::id thread;
      bool in_fiber;
      fb::Runtime* runtime;
    };
    auto seen = fb::sync_to_async([] { return Seen{std::this_thread::get_id(), fb::in_fiber(), fb::current_runtime()}; })();
    return std::tuple{fiber_thread != seen.thread, seen.in_fiber, seen.runtime};
  });
  const auto [other_thread, in_fiber, runtime] = get_within(t);
  EXPECT_TRUE(other_thread);
  EXPECT_FALSE(in_fiber);
  EXPECT_EQ(runtime, nullptr);
}

// Rule 5: outside any async_to_sync frame and ThreadSensitiveContext, every thread-sensitive body
// of every runtime runs on one process-wide sync thread, which is no scheduler thread.
TEST_P(SyncToAsyncShape, SensitiveBodiesOfAllRuntimesShareOneSyncThread) {
  fb::Runtime other{fb::RuntimeOptions{.threads = 1}};
  auto where = [] { return fb::sync_to_async([] { return std::this_thread::get_id(); })(); };
  auto a = rt.spawn(where);
  auto b = other.spawn(where);
  const auto ida = get_within(a);
  EXPECT_EQ(ida, get_within(b));
  EXPECT_EQ(ida, sync_thread_id());
  EXPECT_NE(ida, std::this_thread::get_id());
}

TEST_P(SyncToAsyncShape, SensitiveBodiesNeverOverlap) {
  std::atomic<int> inside{0}, max_inside{0};
  std::vector<fb::Task<void>> tasks;
  for (int i = 0; i < 64; ++i) {
    tasks.push_back(rt.spawn([&] {
      fb::sync_to_async([&] {
        const int now = inside.fetch_add(1) + 1;
        int seen = max_inside.load();
        while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::yield();  // widen the window in which an overlap would show
        inside.fetch_sub(1);
      })();
    }));
  }
  for (auto& t : tasks) get_within(t);
  EXPECT_EQ(max_inside.load(), 1);
}

// thread_sensitive = false: the built-in blocking pool, which grows on demand (8 bodies that can
// only finish together) and is neither the sync thread nor a scheduler thread.
TEST_P(SyncToAsyncShape, NonSensitiveBodiesRunInParallelOnThePool) {
  constexpr int kBodies = 8;
  auto all_inside = std::make_shared<std::latch>(kBodies);
  std::mutex m;
  std::set<std::thread::id> threads;
  std::vector<fb::Task<void>> tasks;
  for (int i = 0; i < kBodies; ++i) {
    tasks.push_back(rt.spawn([&, all_inside] {
      fb::sync_to_async([&, all_inside] {
        {
          std::lock_guard g(m);
          threads.insert(std::this_thread::get_id());
        }
        all_inside->arrive_and_wait();  // only possible if all 8 run at once
      }, {.thread_sensitive = false})();
    }));
  }
  for (auto& t : tasks) get_within(t, "8 parallel pool bodies");
  EXPECT_EQ(threads.size(), static_cast<std::size_t>(kBodies));
  EXPECT_EQ(threads.count(sync_thread_id()), 0u);
}

// The pool reuses its threads: sequential calls do not each get a new thread.
TEST_P(SyncToAsyncShape, PoolThreadsAreReusedAcrossCalls) {
  constexpr int kCalls = 50;
  auto t = rt.spawn([] {
    std::set<std::thread::id> threads;
    for (int i = 0; i < kCalls; ++i)
      threads.insert(fb::sync_to_async([] { return std::this_thread::get_id(); }, {.thread_sensitive = false})());
    return threads.size();
  });
  EXPECT_LT(get_within(t), static_cast<std::size_t>(kCalls / 5));
}

// The threads the library starts for sync bodies run under SCHED_BATCH (a woken one does not
// preempt the scheduler thread that gave it work; detail/batch_scheduling.hpp): the pool's
// workers and the sync thread. (A caller's own thread keeps its policy: async_to_sync_test.)
TEST_P(SyncToAsyncShape, BodyThreadsRunUnderBatchScheduling) {
  auto t = rt.spawn([] {
    const int pool = fb::sync_to_async([] { return ::sched_getscheduler(0); }, {.thread_sensitive = false})();
    const int sensitive = fb::sync_to_async([] { return ::sched_getscheduler(0); })();
    return std::pair{pool, sensitive};
  });
  const auto [pool, sensitive] = get_within(t);
  EXPECT_EQ(pool, SCHED_BATCH);
  EXPECT_EQ(sensitive, SCHED_BATCH);
}

TEST_P(SyncToAsyncShape, VoidBodyCompletes) {
  std::atomic<int> calls{0};
  auto t = rt.spawn([&] { fb::sync_to_async([&] { ++calls; })(); });
  get_within(t);
  EXPECT_EQ(calls.load(), 1);
}

TEST_P(SyncToAsyncShape, ArgumentsAreDecayCopiedUnlessPassedByRef) {
  auto t = rt.spawn([] {
    std::string by_value = "fiber";
    std::string by_ref = "fiber";
    auto body = fb::sync_to_async([](std::string copy, std::string& ref) {
      copy += "+body";
      ref += "+body";
      return copy;
    });
    const std::string r = body(by_value, std::ref(by_ref));
    return r + "|" + by_value + "|" + by_ref;
  });
  EXPECT_EQ(get_within(t), "fiber+body|fiber|fiber+body");
}

TEST_P(SyncToAsyncShape, MoveOnlyArgumentAndResultAreMovedThrough) {
  auto t = rt.spawn([] {
    auto p = std::make_unique<int>(7);
    const int* raw = p.get();
    auto q = fb::sync_to_async([](std::unique_ptr<int> x) {
      *x += 1;
      return x;
    })(std::move(p));
    return q.get() == raw && *q == 8;
  });
  EXPECT_TRUE(get_within(t));
}

TEST_P(SyncToAsyncShape, CallableObjectIsCopiedIntoEachCall) {
  struct Counter {
    int calls = 0;
    int operator()() { return ++calls; }
  };
  auto t = rt.spawn([] {
    auto wrapped = fb::sync_to_async(Counter{});
    const int a = wrapped();
    const int b = wrapped();  // each call works on its own copy (the wrapper is const-callable)
    return a + b;
  });
  EXPECT_EQ(get_within(t), 2);
}

TEST_P(SyncToAsyncShape, ExceptionComesBackAsTheSameObject) {
  struct Boom : std::runtime_error {
    Boom() : std::runtime_error("boom") {}
  };
  std::atomic<const void*> thrown{nullptr};
  auto t = rt.spawn([&thrown] {
    try {
      fb::sync_to_async([&thrown] { throw_noting_address(Boom(), thrown); })();
    } catch (const Boom& b) {
      return static_cast<const void*>(&b);
    }
    return static_cast<const void*>(nullptr);
  });
  const void* caught = get_within(t);
  ASSERT_NE(caught, nullptr) << "the Boom type did not come back";
  EXPECT_EQ(caught, thrown.load());
}

// #44 test_sync_to_async_deadlock_ignored_with_exception: failing calls in a row leave no hold
// behind, sensitive or not.
TEST_P(SyncToAsyncShape, FailingCallsLeaveNoDeadlockHoldBehind) {
  auto t = rt.spawn([] {
    int caught = 0;
    for (int i = 0; i < 3; ++i) {
      try {
        fb::sync_to_async([] { throw std::runtime_error("boom"); })();
      } catch (const std::runtime_error& e) {
        if (std::string(e.what()) == "boom") ++caught;
      }
    }
    return caught + fb::sync_to_async([] { return 10; })();
  });
  EXPECT_EQ(get_within(t), 13);
}

// #43 test_sync_to_async_uses_executor: a user executor runs the body, once per call.
TEST_P(SyncToAsyncShape, UserExecutorRunsEachBodyOnce) {
  struct OwnThread : fb::Executor {
    std::atomic<int> calls{0};
    std::mutex m;
    std::vector<std::thread> threads;
    void execute(std::function<void()> work) override {
      ++calls;
      std::lock_guard g(m);
      threads.emplace_back(std::move(work));
    }
    ~OwnThread() override {
      for (auto& t : threads) t.join();
    }
  };
  OwnThread executor;
  auto t = rt.spawn([&] {
    auto body = fb::sync_to_async([] { return std::this_thread::get_id(); },
                                  {.thread_sensitive = false, .executor = &executor});
    return std::pair{body(), body()};
  });
  const auto [a, b] = get_within(t);
  EXPECT_EQ(executor.calls.load(), 2);
  std::lock_guard g(executor.m);
  ASSERT_EQ(executor.threads.size(), 2u);
  EXPECT_EQ(a, executor.threads[0].get_id());
  EXPECT_EQ(b, executor.threads[1].get_id());
}

// The header's own example: an executor that runs the work inline, inside execute().
TEST_P(SyncToAsyncShape, InlineExecutorWorks) {
  struct Inline : fb::Executor {
    void execute(std::function<void()> w) override { w(); }
  } ex;
  auto t = rt.spawn([&ex] {
    int sum = 0;
    for (int i = 1; i <= 10; ++i) sum += fb::sync_to_async([i] { return i; }, {.thread_sensitive = false, .executor = &ex})();
    return sum;
  });
  EXPECT_EQ(get_within(t), 55);
}

// The decorator form: options first, the callable later; same result as the direct form.
TEST_P(SyncToAsyncShape, DecoratorFormAppliesItsOptions) {
  auto offload = fb::sync_to_async(fb::SyncToAsyncOptions{.thread_sensitive = false});
  auto query = offload([](int x) { return std::pair{x * 2, std::this_thread::get_id()}; });
  static_assert(fb::is_async_callable_v<decltype(query)>);
  EXPECT_FALSE(query.options().thread_sensitive);
  auto t = rt.spawn([query] { return query(21); });
  const auto [v, thread] = get_within(t);
  EXPECT_EQ(v, 42);
  EXPECT_NE(thread, sync_thread_id());
}

TEST(SyncToAsync, DefaultOptionsAreThreadSensitiveWithoutExecutor) {
  auto wrapped = fb::sync_to_async([] {});
  EXPECT_TRUE(wrapped.options().thread_sensitive);
  EXPECT_EQ(wrapped.options().executor, nullptr);
}

}  // namespace
