// tests/context_var_test.cpp — ContextVar, Token and Context: values per thread and per fiber.
// asgiref: #67/#77/#78 (a new thread starts empty), #79, #80 (child snapshot, writes and
// deletions never leak back), #267 (Token from another context). Beyond asgiref: values
// surviving migration between scheduler threads, 10,000 fibers each with their own value,
// Context::run exclusivity. (Through the bridges: context_copy_test.cpp; ThreadCriticalLocal:
// context_local_test.cpp.)
#include "context_vars.hpp"

#include <boost/fiber/operations.hpp>

#include <latch>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace fbtest;

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

// Both ways: a token of another thread is rejected here, ours is rejected there (and still
// works here afterwards).
TEST(ContextVar, TokenFromAnotherThreadIsRejected) {
  run_with_deadline([] {
    fb::Token token;
    std::thread([&] { token = foo.set("elsewhere"); }).join();
    EXPECT_THROW(foo.reset(token), std::invalid_argument);
    auto mine = foo.set("here");
    std::thread([&] { EXPECT_THROW(foo.reset(mine), std::invalid_argument); }).join();
    foo.reset(mine);
    EXPECT_EQ(foo.get(), std::nullopt);
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
  EXPECT_NE(msg.find("different Context"), std::string::npos) << "the message should say why: " << msg;
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

// Every fiber yields until all have written: the switches grow with the square of the count.
#if defined(__SANITIZE_THREAD__)
constexpr int kTenThousand = 500;  // TSan keeps heavy per-fiber state (1,000 took 43 s here)
#elif defined(__SANITIZE_ADDRESS__)
constexpr int kTenThousand = 2500;  // 10,000 took 11-21 s under ASan here, against a 20 s deadline
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

}  // namespace
