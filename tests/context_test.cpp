// tests/context_test.cpp — ContextVar, Token, Context, copy_context and ThreadCriticalLocal.
// asgiref: #60 and #63 (copy-in/back through each bridge), #67/#77/#78 (a new thread starts
// empty), #69, #70, #71, #72 (values through 1, 2 and 4 layers and back), #73, #74, #76
// (thread-critical locals), #79, #80 (child snapshot, writes and deletions never leak back),
// #267 (Token from another context). Beyond asgiref: four layers from either side, copy-back after
// an exception, values surviving migration between scheduler threads, 10,000 fibers each with
// their own value, Context::run exclusivity.
#include "fixtures.hpp"

#include <boost/fiber/operations.hpp>

#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace fbtest;

fb::ContextVar<std::string> foo{"foo"};
fb::ContextVar<int> counter{"counter", 0};
fb::ContextVar<int> no_default{"no_default"};

class ContextShape : public ShapedTest {};
FB_INSTANTIATE_SHAPES(ContextShape);

// ---- ContextVar and Token basics (each on a fresh plain thread: an empty context) -------------

TEST(ContextVar, GetFallsBackToTheDefaultThenToNullopt) {
  run_with_deadline([] {
    EXPECT_EQ(counter.name(), "counter");
    EXPECT_EQ(counter.get(), std::optional<int>(0));
    EXPECT_EQ(no_default.get(), std::nullopt);
    EXPECT_EQ(no_default.value_or(7), 7);
    no_default.set(3);
    EXPECT_EQ(no_default.get(), std::optional<int>(3));
    EXPECT_EQ(no_default.value_or(7), 3);
    no_default.erase();
    EXPECT_EQ(no_default.get(), std::nullopt);
    counter.set(5);
    counter.erase();
    EXPECT_EQ(counter.get(), std::optional<int>(0)) << "after erase the default shows again";
  });
}

TEST(ContextVar, TokenRestoresThePreviousValueOnce) {
  run_with_deadline([] {
    auto first = foo.set("one");
    auto second = foo.set("two");
    foo.reset(second);
    EXPECT_EQ(foo.get(), std::optional<std::string>("one"));
    EXPECT_THROW(foo.reset(second), std::invalid_argument) << "a Token is usable once";
    foo.reset(first);
    EXPECT_EQ(foo.get(), std::nullopt) << "resetting the first set removes the value again";
  });
}

TEST(ContextVar, TokenOfAnotherVariableIsRejected) {
  run_with_deadline([] {
    auto token = counter.set(1);
    EXPECT_THROW(no_default.reset(token), std::invalid_argument);
    counter.reset(token);
  });
}

TEST(ContextVar, EmptyTokenIsRejected) {
  run_with_deadline([] { EXPECT_THROW(foo.reset(fb::Token{}), std::invalid_argument); });
}

TEST(ContextVar, TokenFromAnotherThreadIsRejected) {
  run_with_deadline([] {
    fb::Token token;
    std::thread([&] { token = foo.set("elsewhere"); }).join();
    EXPECT_THROW(foo.reset(token), std::invalid_argument);
  });
}

// #267: each sync_to_async call runs in a fresh copy, so a Token from one call cannot be reset in
// another; the message explains why.
TEST_P(ContextShape, TokenFromAnEarlierSyncToAsyncCallIsRejectedWithAnExplanation) {
  auto t = rt.spawn([] {
    auto token = fb::sync_to_async([] { return foo.set("a"); })();
    try {
      fb::sync_to_async([token] { foo.reset(token); })();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  });
  const auto msg = get_within(t);
  EXPECT_NE(msg, "(accepted)");
  EXPECT_NE(msg.find("foo"), std::string::npos) << "the message should name the variable: " << msg;
}

TEST_P(ContextShape, TokenFromTheParentFiberIsRejectedInAChild) {
  auto t = rt.spawn([] {
    auto token = counter.set(1);
    auto child = fb::spawn([token] {
      try {
        counter.reset(token);
      } catch (const std::invalid_argument&) {
        return true;
      }
      return false;
    });
    return child.get();
  });
  EXPECT_TRUE(get_within(t));
}

// ---- threads and fibers ----------------------------------------------------------------------

// #67 test_local_thread_nested / #77 / #78: a new std::thread starts empty; its writes stay there.
TEST(ContextVar, NewThreadStartsEmptyAndDoesNotLeakBack) {
  run_with_deadline([] {
    foo.set("parent");
    std::optional<std::string> seen_in_child = std::string("(not run)");
    std::thread([&] {
      seen_in_child = foo.get();
      foo.set("child");
    }).join();
    EXPECT_EQ(seen_in_child, std::nullopt);
    EXPECT_EQ(foo.get(), std::optional<std::string>("parent"));
  });
}

// #79 test_visibility_task / #80 test_deletion: a spawned fiber sees a snapshot of its parent's
// values; its writes and deletions never leak back.
TEST_P(ContextShape, ChildFiberSeesASnapshotAndCannotLeakBack) {
  auto t = rt.spawn([] {
    counter.set(0);
    foo.set("parent");
    auto child = fb::spawn([] {
      const auto seen = std::pair{counter.value_or(-1), foo.value_or("")};
      counter.set(1);
      foo.erase();
      return seen;
    });
    const auto seen = child.get();
    return std::tuple{seen, counter.value_or(-1), foo.value_or("")};
  });
  const auto [seen, after_counter, after_foo] = get_within(t);
  EXPECT_EQ(seen, (std::pair{0, std::string("parent")}));
  EXPECT_EQ(after_counter, 0);
  EXPECT_EQ(after_foo, "parent");
}

// Changes the parent makes after spawning are not seen by the child either (a snapshot).
TEST_P(ContextShape, ChildDoesNotSeeTheParentsLaterChanges) {
  auto t = rt.spawn([] {
    foo.set("before spawn");
    auto gate = std::make_shared<FiberEvent>();
    auto child = fb::spawn([gate] {
      gate->wait("parent's change");
      return foo.value_or("");
    });
    foo.set("after spawn");
    gate->set();
    return child.get();
  });
  EXPECT_EQ(get_within(t), "before spawn");
}

// Values live in fiber-specific storage: they survive yields and migrations between scheduler
// threads, and fibers interleaved on one thread never see each other's values.
TEST_P(ContextShape, ValuesFollowTheFiberAcrossYieldsAndThreads) {
  constexpr int kFibers = 50, kYields = 50;
  std::vector<fb::Task<bool>> tasks;
  for (int i = 0; i < kFibers; ++i)
    tasks.push_back(rt.spawn([i] {
      counter.set(i);
      for (int y = 0; y < kYields; ++y) {
        boost::this_fiber::yield();
        if (counter.value_or(-1) != i) return false;
      }
      return true;
    }));
  for (auto& t : tasks) EXPECT_TRUE(get_within(t));
}

#if defined(__SANITIZE_THREAD__)
constexpr int kTenThousand = 1000;  // TSan keeps heavy per-fiber state
#else
constexpr int kTenThousand = 10000;
#endif

// 10,000 fibers, all alive at once, each setting and reading its own value.
TEST_P(ContextShape, TenThousandFibersEachKeepTheirOwnValue) {
  auto all_set = std::make_shared<std::latch>(kTenThousand);
  std::vector<fb::Task<bool>> tasks;
  tasks.reserve(kTenThousand);
  for (int i = 0; i < kTenThousand; ++i)
    tasks.push_back(rt.spawn([i, all_set] {
      counter.set(i);
      foo.set(std::to_string(i));
      all_set->count_down();
      while (!all_set->try_wait()) boost::this_fiber::yield();  // everyone has written: no one sees another's value
      return counter.value_or(-1) == i && foo.value_or("") == std::to_string(i);
    }));
  int wrong = 0;
  for (auto& t : tasks) wrong += get_within(t, "10k fibers") ? 0 : 1;
  EXPECT_EQ(wrong, 0);
}

// ---- copy-in and copy-back through the bridges ------------------------------------------------

// #60 test_sync_to_async_contextvars / #69 test_local_task_to_sync.
TEST_P(ContextShape, SyncToAsyncCopiesTheContextInAndChangesBack) {
  auto t = rt.spawn([] {
    foo.set("bar");
    const auto seen = fb::sync_to_async([] {
      const auto v = foo.value_or("");
      foo.set("baz");
      no_default.set(1);  // added inside
      return v;
    })();
    return std::tuple{seen, foo.value_or(""), no_default.get()};
  });
  const auto [seen, after, added] = get_within(t);
  EXPECT_EQ(seen, "bar");
  EXPECT_EQ(after, "baz");
  EXPECT_EQ(added, std::optional<int>(1));
}

TEST_P(ContextShape, NonSensitiveAndExecutorBodiesCopyTheContextToo) {
  struct Inline : fb::Executor {
    void execute(std::function<void()> w) override { w(); }
  };
  auto ex = std::make_shared<Inline>();
  auto t = rt.spawn([ex] {
    counter.set(10);
    fb::sync_to_async([] { counter.set(counter.value_or(-100) + 1); }, {.thread_sensitive = false})();
    fb::sync_to_async([] { counter.set(counter.value_or(-100) + 1); }, {.thread_sensitive = false, .executor = ex.get()})();
    return counter.value_or(-1);
  });
  EXPECT_EQ(get_within(t), 12);
}

// #63 test_async_to_sync_contextvars / #70 test_local_thread_to_async.
TEST_P(ContextShape, AsyncToSyncCopiesTheContextInAndChangesBack) {
  run_with_deadline([&] {
    foo.set("bar");
    const auto seen = fb::async_to_sync([] {
      const auto v = foo.value_or("");
      foo.set("baz");
      no_default.set(2);
      return v;
    }, {.runtime = &rt})();
    EXPECT_EQ(seen, "bar");
    EXPECT_EQ(foo.value_or(""), "baz");
    EXPECT_EQ(no_default.get(), std::optional<int>(2));
  });
}

// #71 test_local_task_to_sync_to_task: fiber -> s2a -> a2s and back.
TEST_P(ContextShape, ValuesFlowThroughSyncToAsyncThenAsyncToSyncAndBack) {
  auto t = rt.spawn([] {
    foo.set("fiber");
    fb::sync_to_async([] {
      foo.set(foo.value_or("?") + ">body");
      fb::async_to_sync([] { foo.set(foo.value_or("?") + ">inner"); })();
    })();
    return foo.value_or("");
  });
  EXPECT_EQ(get_within(t), "fiber>body>inner");
}

// #72 test_local_many_layers: four nested layers from a fiber, each appending, all coming back.
TEST_P(ContextShape, ContextFlowsThroughFourLayersFromAFiberAndBack) {
  auto t = rt.spawn([] {
    foo.set("0");
    counter.set(0);
    fb::sync_to_async([] {
      foo.set(foo.value_or("?") + "1");
      fb::async_to_sync([] {
        foo.set(foo.value_or("?") + "2");
        fb::sync_to_async([] {
          foo.set(foo.value_or("?") + "3");
          fb::async_to_sync([] {
            foo.set(foo.value_or("?") + "4");
            counter.set(4);  // added only at the innermost layer
          })();
        })();
      })();
    })();
    return std::pair{foo.value_or(""), counter.value_or(-1)};
  });
  EXPECT_EQ(get_within(t), (std::pair{std::string("01234"), 4}));
}

// The same four layers starting from a plain thread.
TEST_P(ContextShape, ContextFlowsThroughFourLayersFromAPlainThreadAndBack) {
  run_with_deadline([&] {
    foo.set("0");
    fb::async_to_sync([] {
      foo.set(foo.value_or("?") + "1");
      fb::sync_to_async([] {
        foo.set(foo.value_or("?") + "2");
        fb::async_to_sync([] {
          foo.set(foo.value_or("?") + "3");
          fb::sync_to_async([] { foo.set(foo.value_or("?") + "4"); })();
        })();
      })();
    }, {.runtime = &rt})();
    EXPECT_EQ(foo.value_or(""), "01234");
  });
}

// Copy-back happens after an exception too, and never removes a variable the callee erased.
TEST_P(ContextShape, CopyBackAfterAnExceptionAndNeverRemoves) {
  auto t = rt.spawn([] {
    foo.set("kept");
    try {
      fb::sync_to_async([] {
        foo.erase();
        counter.set(41);
        throw std::runtime_error("body failed");
      })();
    } catch (const std::runtime_error&) {
    }
    return std::pair{foo.value_or("(removed)"), counter.value_or(-1)};
  });
  EXPECT_EQ(get_within(t), (std::pair{std::string("kept"), 41}));
}

TEST_P(ContextShape, AsyncToSyncCopiesBackAfterAnException) {
  run_with_deadline([&] {
    counter.set(1);
    EXPECT_THROW(fb::async_to_sync([] {
      counter.set(2);
      throw std::logic_error("fiber failed");
    }, {.runtime = &rt})(), std::logic_error);
    EXPECT_EQ(counter.value_or(-1), 2);
  });
}

// asgiref §2.7 scope: changes made in fibers spawned inside the a2s fiber stay in those fibers.
TEST_P(ContextShape, ChangesOfFibersSpawnedInsideAsyncToSyncDoNotComeBack) {
  run_with_deadline([&] {
    foo.set("caller");
    fb::async_to_sync([] { fb::spawn([] { foo.set("grandchild"); }).get(); }, {.runtime = &rt})();
    EXPECT_EQ(foo.value_or(""), "caller");
  });
}

// Concurrent fibers each bridging with their own value: no cross-talk through the sync thread or
// the pool, and each gets its own copy-back.
TEST_P(ContextShape, ThousandsOfBridgingFibersKeepTheirOwnValues) {
  constexpr int kFibers = 2000 / kScaleDown;
  std::vector<fb::Task<bool>> tasks;
  tasks.reserve(kFibers);
  for (int i = 0; i < kFibers; ++i)
    tasks.push_back(rt.spawn([i] {
      counter.set(i);
      const bool sensitive = i % 2 == 0;
      const int inside = fb::sync_to_async([] {
        const int v = counter.value_or(-1);
        counter.set(v * 2);
        return v;
      }, {.thread_sensitive = sensitive})();
      return inside == i && counter.value_or(-1) == 2 * i;
    }));
  int wrong = 0;
  for (auto& t : tasks) wrong += get_within(t, "bridging fiber") ? 0 : 1;
  EXPECT_EQ(wrong, 0);
}

// ---- Context and copy_context ----------------------------------------------------------------

TEST(Context, CopyIsASnapshotThatLaterChangesDoNotReach) {
  run_with_deadline([] {
    foo.set("v1");
    const fb::Context snap = fb::copy_context();
    foo.set("v2");
    EXPECT_EQ(snap.get(foo), std::optional<std::string>("v1"));
    EXPECT_EQ(snap.get(no_default), std::nullopt);
    EXPECT_EQ(snap.get(counter), std::nullopt) << "Context::get reports the value, not the default";
    EXPECT_EQ(fb::Context().get(foo), std::nullopt);
  });
}

TEST(Context, RunKeepsItsChangesInTheContextObject) {
  run_with_deadline([] {
    foo.set("outer");
    fb::Context ctx = fb::copy_context();
    const auto seen = ctx.run([] {
      const auto v = foo.value_or("");
      foo.set("inside");
      return v;
    });
    EXPECT_EQ(seen, "outer");
    EXPECT_EQ(foo.value_or(""), "outer");
    EXPECT_EQ(ctx.get(foo), std::optional<std::string>("inside"));
    ctx.run([] { EXPECT_EQ(foo.value_or(""), "inside"); });  // changes accumulate in the object
  });
}

TEST(Context, CopiesAreIndependent) {
  run_with_deadline([] {
    fb::Context a;
    a.run([] { foo.set("a"); });
    fb::Context b = a;
    b.run([] { foo.set("b"); });
    fb::Context c;
    c = b;
    c.run([] { foo.erase(); });
    EXPECT_EQ(a.get(foo), std::optional<std::string>("a"));
    EXPECT_EQ(b.get(foo), std::optional<std::string>("b"));
    EXPECT_EQ(c.get(foo), std::nullopt);
  });
}

// One caller at a time: a second run of the same Context while the first is inside throws.
TEST(Context, ConcurrentSecondRunOfOneContextIsRefused) {
  run_with_deadline([] {
    fb::Context ctx;
    ThreadEvent inside, second_tried;
    std::thread first([&] {
      ctx.run([&] {
        inside.set();
        second_tried.wait("second run attempt");
      });
    });
    inside.wait("first run");
    EXPECT_THROW(ctx.run([] {}), std::logic_error);
    second_tried.set();
    first.join();
    EXPECT_NO_THROW(ctx.run([] {}));  // free again
  });
}

TEST(Context, RunRestoresTheCallersContextWhenTheFunctionThrows) {
  run_with_deadline([] {
    foo.set("caller");
    fb::Context ctx;
    EXPECT_THROW(ctx.run([] {
      foo.set("inside");
      throw std::runtime_error("x");
    }), std::runtime_error);
    EXPECT_EQ(foo.value_or(""), "caller");
    EXPECT_EQ(ctx.get(foo), std::optional<std::string>("inside"));
  });
}

TEST_P(ContextShape, ContextRunWorksOnAFiber) {
  auto t = rt.spawn([] {
    foo.set("fiber");
    fb::Context ctx;
    ctx.run([] {
      foo.set("ctx");
      boost::this_fiber::yield();
    });
    return std::pair{foo.value_or(""), ctx.get(foo).value_or("")};
  });
  EXPECT_EQ(get_within(t), (std::pair{std::string("fiber"), std::string("ctx")}));
}

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
// on the parked caller (from a fiber spawned inside the a2s fiber) sees and updates that thread's
// value; a ContextVar set in that spawned fiber is not copied back.
TEST_P(ContextShape, SensitiveBodyOnTheParkedCallerSharesItsThreadCriticalValue) {
  run_with_deadline([&] {
    connection.set(1);
    foo.set("caller");
    fb::async_to_sync([] {
      fb::spawn([] {
        fb::sync_to_async([] {
          EXPECT_EQ(connection.get(), std::optional<int>(1));
          connection.set(2);
          foo.set("spawned fiber's body");
        })();
      }).get();
    }, {.runtime = &rt})();
    EXPECT_EQ(connection.get(), std::optional<int>(2));
    EXPECT_EQ(foo.value_or(""), "caller");
  });
}

}  // namespace
