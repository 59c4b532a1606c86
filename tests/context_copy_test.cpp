// tests/context_copy_test.cpp — the context through the bridges: copy-in and copy-back.
// asgiref: #60 and #63 (copy-in/back through each bridge), #69, #70, #71, #72 (values through 1, 2
// and 4 layers and back). Beyond asgiref: four layers from either side, copy-back after an
// exception, thousands of bridging fibers each with their own value.
#include "context_vars.hpp"

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace fbtest;

FB_INSTANTIATE_SHAPES(ContextShape);

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

// Layer `n` of four appends its number to foo and enters layer n + 1 through the other bridge
// (sync_to_async from a fiber, async_to_sync from a sync body); the innermost one adds counter.
void layer(int n) {
  foo.set(foo.value_or("?") + std::to_string(n));
  if (n == 4)
    counter.set(4);
  else if (fb::in_fiber())
    fb::sync_to_async([n] { layer(n + 1); })();
  else
    fb::async_to_sync([n] { layer(n + 1); })();
}

// #72 test_local_many_layers: four nested layers from a fiber, each appending, all coming back.
TEST_P(ContextShape, ContextFlowsThroughFourLayersFromAFiberAndBack) {
  auto t = rt.spawn([] {
    foo.set("0");
    counter.set(0);
    fb::sync_to_async([] { layer(1); })();
    return std::pair{foo.value_or(""), counter.value_or(-1)};
  });
  EXPECT_EQ(get_within(t), (std::pair{std::string("01234"), 4}));
}

// The same four layers starting from a plain thread.
TEST_P(ContextShape, ContextFlowsThroughFourLayersFromAPlainThreadAndBack) {
  run_with_deadline([&] {
    foo.set("0");
    counter.set(0);
    fb::async_to_sync([] { layer(1); }, {.runtime = &rt})();
    EXPECT_EQ(foo.value_or(""), "01234");
    EXPECT_EQ(counter.value_or(-1), 4);
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

}  // namespace
