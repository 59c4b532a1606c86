// tests/context_local_test.cpp — ThreadCriticalLocal: per OS thread on plain threads, per fiber on
// fibers, never carried across a bridge (asgiref #73, #74), shared with a sensitive body run back
// on the parked caller (#76).
#include "context_vars.hpp"

#include <boost/fiber/operations.hpp>

#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace fbtest;

FB_INSTANTIATE_SHAPES(ContextShape);

// ---- ThreadCriticalLocal ---------------------------------------------------------------------

fb::ThreadCriticalLocal<int> connection;

// Per OS thread on plain threads, independent of the current Context (asgiref's threading.local
// behaviour in a sync thread).
TEST(ThreadCriticalLocal, PerThreadOnPlainThreadsAndIndependentOfContext) {
  run_with_deadline([] {
    EXPECT_EQ(connection.get(), std::nullopt);
    connection.set(1);
    fb::Context ctx;
    ctx.run([] {
      EXPECT_EQ(connection.get(), std::optional<int>(1));
      connection.set(2);
    });
    EXPECT_EQ(connection.get(), std::optional<int>(2));
    std::optional<int> other = -1;
    std::thread([&] { other = connection.get(); }).join();
    EXPECT_EQ(other, std::nullopt);
    connection.erase();
    EXPECT_EQ(connection.get(), std::nullopt);
  });
}

// Keyed by the object's identity: two locals of one type are independent.
TEST(ThreadCriticalLocal, TwoLocalsAreIndependent) {
  run_with_deadline([] {
    fb::ThreadCriticalLocal<int> a, b;
    a.set(1);
    EXPECT_EQ(b.get(), std::nullopt);
    b.set(2);
    EXPECT_EQ(a.get(), std::optional<int>(1));
  });
}

// Per fiber on fibers: fibers interleaved on one thread do not see each other's values, and a
// spawned child does not inherit the parent's.
TEST_P(ContextShape, ThreadCriticalLocalIsPerFiber) {
  auto t = rt.spawn([] {
    connection.set(100);
    std::vector<fb::Task<bool>> kids;
    for (int i = 0; i < 20; ++i)
      kids.push_back(fb::spawn([i] {
        const bool empty_at_start = !connection.get().has_value();
        connection.set(i);
        for (int y = 0; y < 10; ++y) boost::this_fiber::yield();
        return empty_at_start && connection.get() == std::optional<int>(i);
      }));
    bool all = true;
    for (auto& k : kids) all = k.get() && all;
    return all && connection.get() == std::optional<int>(100);
  });
  EXPECT_TRUE(get_within(t));
}

// #73 test_local_critical_no_task_to_thread: not visible inside s2a; the body's write stays out.
TEST_P(ContextShape, ThreadCriticalLocalIsNotCarriedIntoASyncBody) {
  fb::ThreadCriticalLocal<int> local;  // fresh: a reused pool thread keeps values like a thread_local
  auto t = rt.spawn([&local] {
    local.set(5);
    const auto in_body = fb::sync_to_async([&local] {
      auto v = local.get();
      local.set(6);
      return v;
    }, {.thread_sensitive = false})();
    return std::pair{in_body, local.get()};
  });
  const auto [in_body, after] = get_within(t);
  EXPECT_EQ(in_body, std::nullopt);
  EXPECT_EQ(after, std::optional<int>(5));
}

// #74 test_local_critical_no_thread_to_task: not visible inside a2s; the fiber's write stays out.
TEST_P(ContextShape, ThreadCriticalLocalIsNotCarriedIntoAnAsyncToSyncFiber) {
  run_with_deadline([&] {
    connection.set(1);
    const auto in_fiber = fb::async_to_sync([] {
      auto v = connection.get();
      connection.set(9);
      return v;
    }, {.runtime = &rt})();
    EXPECT_EQ(in_fiber, std::nullopt);
    EXPECT_EQ(connection.get(), std::optional<int>(1));
  });
}

// #76 test_thread_critical_local_not_context_dependent_in_sync_thread: a sensitive body run back
// on the parked caller (directly, and from a fiber spawned inside the a2s fiber) sees and updates
// that thread's value; a ContextVar set in that spawned fiber is not copied back.
TEST_P(ContextShape, SensitiveBodyOnTheParkedCallerSharesItsThreadCriticalValue) {
  run_with_deadline([&] {
    connection.set(1);
    foo.set("caller");
    fb::async_to_sync([] {
      fb::sync_to_async([] {  // directly: runs back on the parked caller (rule 1)
        EXPECT_EQ(connection.get(), std::optional<int>(1));
        connection.set(2);
      })();
      fb::spawn([] {
        fb::sync_to_async([] {
          EXPECT_EQ(connection.get(), std::optional<int>(2));
          connection.set(3);
          foo.set("spawned fiber's body");
        })();
      }).get();
    }, {.runtime = &rt})();
    EXPECT_EQ(connection.get(), std::optional<int>(3));
    EXPECT_EQ(foo.value_or(""), "caller");
  });
}

}  // namespace
