// tests/asgiref_context_scenarios_test.cpp — asgiref's contextvars / Local tests and the
// cancellation scenarios, ported (numbers from asgiref-semantics.md §4), plus what asgiref
// cannot have: a body that learns about the stop, 10,000 fibers with their own values.
#include <gtest/gtest.h>

#include <fiberbridge/fiberbridge.hpp>

#include <boost/fiber/operations.hpp>

#include <atomic>
#include <chrono>
#include <latch>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fb = fiberbridge;
using namespace std::chrono_literals;

namespace {

constexpr auto kDeadline = 20s;

template <class R>
R get_within(fb::Task<R>& task, const char* what) {
  if (!task.wait_for(kDeadline)) {
    std::fprintf(stderr, "%s hung; aborting the test binary\n", what);
    std::_Exit(3);
  }
  return task.get();
}

fb::ContextVar<std::string> foo{"foo"};
fb::ContextVar<int> counter{"counter", 0};

class ContextScenario : public ::testing::TestWithParam<unsigned> {
 protected:
  fb::Runtime rt{fb::RuntimeOptions{.threads = GetParam()}};
};

INSTANTIATE_TEST_SUITE_P(Threads, ContextScenario, ::testing::Values(1u, 2u),
                         [](const auto& info) { return std::to_string(info.param) + "_threads"; });

// #60 test_sync_to_async_contextvars: copy-in and copy-back through sync_to_async.
TEST_P(ContextScenario, SyncToAsyncCopiesContextInAndBack) {
  auto t = rt.spawn([] {
    foo.set("bar");
    const std::string seen = fb::sync_to_async([] {
      const std::string v = foo.value_or("");
      foo.set("baz");
      return v;
    })();
    return seen + "/" + foo.value_or("");
  });
  EXPECT_EQ(get_within(t, "#60"), "bar/baz");
}

// #63 test_async_to_sync_contextvars: the same through async_to_sync, on a plain thread.
TEST(ContextPlain, AsyncToSyncCopiesContextInAndBack) {
  std::thread([] {
    foo.set("bar");
    const std::string seen = fb::async_to_sync([] {
      const std::string v = foo.value_or("");
      foo.set("baz");
      return v;
    })();
    EXPECT_EQ(seen, "bar");
    EXPECT_EQ(foo.value_or(""), "baz");
  }).join();
}

// #72 test_local_many_layers: s2a -> a2s -> s2a -> a2s and back, four layers.
TEST_P(ContextScenario, ContextFlowsThroughFourLayersAndBack) {
  auto t = rt.spawn([] {
    counter.set(1);
    fb::sync_to_async([] {
      counter.set(counter.value_or(-100) + 1);
      fb::async_to_sync([] {
        counter.set(counter.value_or(-100) + 1);
        fb::sync_to_async([] {
          counter.set(counter.value_or(-100) + 1);
          fb::async_to_sync([] { counter.set(counter.value_or(-100) + 1); })();
        })();
      })();
    })();
    return counter.value_or(-1);
  });
  EXPECT_EQ(get_within(t, "#72"), 5);
}

// Copy-back happens after an exception too, and never removes a variable.
TEST_P(ContextScenario, CopyBackAfterExceptionNeverRemoves) {
  auto t = rt.spawn([] {
    foo.set("kept");
    try {
      fb::sync_to_async([] {
        foo.erase();
        counter.set(41);
        throw std::runtime_error("x");
      })();
    } catch (const std::runtime_error&) {
    }
    return foo.value_or("") + std::to_string(counter.value_or(0));
  });
  EXPECT_EQ(get_within(t, "copy-back after exception"), "kept41");
}

// #79 test_visibility_task / #80 test_deletion: a child sees the parent's value; its writes and
// deletions do not leak back.
TEST_P(ContextScenario, ChildFiberSeesASnapshotAndCannotLeakBack) {
  auto t = rt.spawn([] {
    counter.set(0);
    foo.set("parent");
    auto child = fb::spawn([] {
      const int seen = counter.value_or(-1);
      counter.set(1);
      foo.erase();
      return seen;
    });
    const int child_saw = child.get();
    return child_saw == 0 && counter.value_or(-1) == 0 && foo.value_or("") == "parent";
  });
  EXPECT_TRUE(get_within(t, "#79/#80"));
}

// A new std::thread starts with an empty context (#67, #77).
TEST(ContextPlain, NewThreadStartsEmpty) {
  foo.set("main");
  std::optional<std::string> in_thread;
  std::thread([&] { in_thread = foo.get(); }).join();
  EXPECT_FALSE(in_thread.has_value());
  foo.erase();
}

// asgiref #267: a Token from one sync_to_async call cannot be reset in another.
TEST_P(ContextScenario, TokenFromAnotherCallIsRejectedWithAnExplanation) {
  auto t = rt.spawn([] {
    auto token = fb::sync_to_async([] { return foo.set("a"); })();
    try {
      fb::sync_to_async([&] { foo.reset(token); })();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  });
  EXPECT_NE(get_within(t, "#267").find("different Context"), std::string::npos);
}

TEST(ContextPlain, TokenResetsWithinItsContextOnce) {
  std::thread([] {
    foo.set("one");
    auto token = foo.set("two");
    foo.reset(token);
    EXPECT_EQ(foo.value_or(""), "one");
    EXPECT_THROW(foo.reset(token), std::invalid_argument);
  }).join();
}

// Context::run keeps its changes in the Context object; copies are independent; a second
// concurrent run of one Context is refused.
TEST(ContextPlain, ContextRunKeepsChangesInTheContextObject) {
  std::thread([] {
    foo.set("outer");
    fb::Context ctx = fb::copy_context();
    ctx.run([&] {
      foo.set("inside");
      EXPECT_THROW(ctx.run([] {}), std::logic_error);
    });
    EXPECT_EQ(foo.value_or(""), "outer");
    EXPECT_EQ(ctx.get(foo).value_or(""), "inside");
    fb::Context copy = ctx;
    copy.run([] { foo.set("copy"); });
    EXPECT_EQ(ctx.get(foo).value_or(""), "inside");
  }).join();
}

// #73/#74/#76: thread-critical values are never carried across a bridge, but a sensitive body that
// runs back on the parked thread sees (and updates) that thread's value.
TEST(ContextPlain, ThreadCriticalLocalStaysWithTheThread) {
  static fb::ThreadCriticalLocal<int> connection;
  std::thread([] {
    connection.set(1);
    const auto in_fiber = fb::async_to_sync([] { return connection.get(); })();
    EXPECT_FALSE(in_fiber.has_value());  // #74: not carried into the fiber
    fb::async_to_sync([] {
      fb::sync_to_async([] {  // runs back on this parked thread (rule 1)
        EXPECT_EQ(connection.get().value_or(-1), 1);
        connection.set(2);
      })();
    })();
    EXPECT_EQ(connection.get().value_or(-1), 2);  // #76
  }).join();
}

TEST_P(ContextScenario, ThreadCriticalLocalIsNotCarriedIntoASyncBody) {
  fb::ThreadCriticalLocal<int> local;  // fresh per run: a pool thread keeps values, like a thread_local
  auto t = rt.spawn([&local] {
    local.set(5);
    const auto seen = fb::sync_to_async([&local] {
      auto v = local.get();
      local.set(6);
      return v;
    }, {.thread_sensitive = false})();
    return !seen.has_value() && local.get().value_or(-1) == 5;  // #73
  });
  EXPECT_TRUE(get_within(t, "#73"));
}

// 10,000 fibers, each setting and reading its own value while the others do the same.
// (ThreadSanitizer keeps heavy state per fiber: 1,000 there.)
#if defined(__SANITIZE_THREAD__)
constexpr int kManyFibers = 1000;
#else
constexpr int kManyFibers = 10000;
#endif
TEST_P(ContextScenario, TenThousandFibersKeepTheirOwnValues) {
  std::vector<fb::Task<bool>> tasks;
  tasks.reserve(kManyFibers);
  for (int i = 0; i < kManyFibers; ++i) {
    tasks.push_back(rt.spawn([i] {
      counter.set(i);
      boost::this_fiber::yield();
      const bool before = counter.value_or(-1) == i;
      // Thread-sensitive: 10,000 calls queue on the one sync thread (a pool would start up to 256
      // threads at once, which is slow under ThreadSanitizer).
      const int inside = fb::sync_to_async([] { return counter.value_or(-1); })();
      return before && inside == i && counter.value_or(-1) == i;
    }));
  }
  int ok = 0;
  for (auto& t : tasks) ok += get_within(t, "10k fibers") ? 1 : 0;
  EXPECT_EQ(ok, kManyFibers);
}

// Cancellation: the waiting fiber leaves at once with CancelledError while the body is blocked;
// a body taking std::stop_token sees the stop; context changes made before release come back.
TEST_P(ContextScenario, StopReleasesTheFiberAndReachesAStopAwareBody) {
  // Shared with the bodies, which run on detached and may outlive this test's frame.
  struct Shared {
    std::latch body_started{1};
    std::atomic<bool> body_saw_stop{false};
    std::atomic<bool> release_plain{false};
  };
  auto shared = std::make_shared<Shared>();
  auto t = rt.spawn([shared] {
    try {
      fb::sync_to_async([shared](std::stop_token st) {
        foo.set("set before the stop");
        shared->body_started.count_down();
        const auto until = std::chrono::steady_clock::now() + kDeadline;
        while (!st.stop_requested() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
        shared->body_saw_stop = st.stop_requested();
      })();
      return std::string("returned");
    } catch (const fb::CancelledError&) {
      return "cancelled:" + foo.value_or("");
    }
  });
  auto blocked = rt.spawn([shared] {  // a body that ignores stops: runs on, detached
    fb::sync_to_async([shared] {
      while (!shared->release_plain) std::this_thread::sleep_for(1ms);
    }, {.thread_sensitive = false})();
  });
  shared->body_started.wait();
  t.request_stop();
  t.request_stop();  // idempotent
  EXPECT_EQ(get_within(t, "cancel"), "cancelled:set before the stop");
  blocked.request_stop();
  EXPECT_THROW(get_within(blocked, "cancel detached"), fb::CancelledError);
  shared->release_plain = true;
  const auto until = std::chrono::steady_clock::now() + kDeadline;
  while (!shared->body_saw_stop && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(shared->body_saw_stop.load());
}

// #48-style: a stop reaches the fiber of an async_to_sync nested in the awaited body; the inner
// fiber may absorb it and finish normally; the outer fiber still gets CancelledError.
TEST_P(ContextScenario, StopPropagatesIntoANestedAsyncToSyncFiber) {
  struct Shared {
    std::latch inner_waiting{1};
    std::atomic<bool> inner_saw_stop{false};
    std::atomic<bool> inner_finished_normally{false};
  };
  auto sh = std::make_shared<Shared>();  // the inner fiber outlives the cancelled outer one
  auto t = rt.spawn([sh] {
    fb::sync_to_async([sh] {
      fb::async_to_sync([sh] {
        sh->inner_waiting.count_down();
        const auto until = std::chrono::steady_clock::now() + kDeadline;
        while (!fb::this_task::stop_requested() && std::chrono::steady_clock::now() < until)
          boost::this_fiber::sleep_for(1ms);
        sh->inner_saw_stop = fb::this_task::stop_requested();
        sh->inner_finished_normally = true;  // absorbed
      })();
    })();
  });
  sh->inner_waiting.wait();
  t.request_stop();
  EXPECT_THROW(get_within(t, "#48"), fb::CancelledError);
  const auto until = std::chrono::steady_clock::now() + kDeadline;
  while (!sh->inner_finished_normally && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(sh->inner_saw_stop.load());
  EXPECT_TRUE(sh->inner_finished_normally.load());
}

// Fiber code may catch CancelledError and finish normally; that result is what get() returns.
TEST_P(ContextScenario, AbsorbedCancellationYieldsTheFibersResult) {
  auto started_ptr = std::make_shared<std::latch>(1);
  std::latch& started = *started_ptr;
  auto t = rt.spawn([started_ptr] {
    try {
      fb::sync_to_async([started_ptr](std::stop_token st) {
        started_ptr->count_down();
        while (!st.stop_requested()) std::this_thread::sleep_for(1ms);
      })();
    } catch (const fb::CancelledError&) {
      return fb::this_task::stop_requested() ? 17 : -1;
    }
    return 0;
  });
  started.wait();
  t.request_stop();
  EXPECT_EQ(get_within(t, "absorb"), 17);
}

// wait_for times out on a plain thread and on a fiber.
TEST_P(ContextScenario, WaitForTimesOutOnThreadsAndFibers) {
  auto release_ptr = std::make_shared<std::atomic<bool>>(false);
  std::atomic<bool>& release = *release_ptr;
  auto slow = rt.spawn([release_ptr] {
    fb::sync_to_async([release_ptr] {
      while (!*release_ptr) std::this_thread::sleep_for(1ms);
    }, {.thread_sensitive = false})();
  });
  EXPECT_FALSE(slow.wait_for(10ms));
  auto waiter = rt.spawn([&] { return slow.wait_for(10ms); });
  EXPECT_FALSE(get_within(waiter, "wait_for on a fiber"));
  release = true;
  EXPECT_TRUE(slow.wait_for(kDeadline));
}

}  // namespace
