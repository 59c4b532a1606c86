// tests/asgiref_scenarios_test.cpp — asgiref's own test suite, ported scenario by scenario.
//
// Each test names the asgiref test it ports (numbers from asgiref-semantics.md §4). They check
// where bodies run (thread identity), what comes back, and that nothing deadlocks: every wait has
// a deadline, and a hang fails the test instead of stalling CI.
#include <gtest/gtest.h>

#include <fiberbridge/fiberbridge.hpp>

#include <boost/fiber/barrier.hpp>
#include <boost/fiber/operations.hpp>

#include <atomic>
#include <chrono>
#include <latch>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace fb = fiberbridge;
using namespace std::chrono_literals;

namespace {

constexpr auto kDeadline = 20s;

// Waits for `task` with a deadline; a hang fails the test with a message instead of stalling.
template <class R>
R get_within(fb::Task<R>& task, const char* what) {
  if (!task.wait_for(kDeadline)) {
    ADD_FAILURE() << what << ": not finished within " << kDeadline.count() << " s (deadlock?)";
    std::fprintf(stderr, "%s hung; aborting the test binary\n", what);
    std::_Exit(3);
  }
  return task.get();
}

// Runs `f` on a plain thread that must finish within the deadline.
template <class F>
void on_plain_thread(F f) {
  std::atomic<bool> done{false};
  std::thread t([&] {
    f();
    done = true;
  });
  const auto until = std::chrono::steady_clock::now() + kDeadline;
  while (!done && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(1ms);  // deadline poll
  if (!done) {
    std::fprintf(stderr, "plain-thread scenario hung; aborting the test binary\n");
    std::_Exit(3);
  }
  t.join();
}

class AsgirefScenario : public ::testing::TestWithParam<unsigned> {
 protected:
  fb::Runtime rt{fb::RuntimeOptions{.threads = GetParam()}};
};

INSTANTIATE_TEST_SUITE_P(Threads, AsgirefScenario, ::testing::Values(1u, 2u, 4u),
                         [](const auto& info) { return std::to_string(info.param) + "_threads"; });

// #1 test_sync_to_async: the body's result comes back, and while it blocks only the calling fiber
// waits: another fiber on the same scheduler thread runs and releases it.
TEST(AsgirefSingleThread, SyncToAsyncSuspendsOnlyTheCallingFiber) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 1}};
  std::latch other_fiber_ran(1);
  auto blocked = rt.spawn([&] {
    return fb::sync_to_async([&] {
      other_fiber_ran.wait();  // released by a fiber on the (single) scheduler thread
      return 42;
    })();
  });
  auto other = rt.spawn([&] { other_fiber_ran.count_down(); });
  EXPECT_EQ(get_within(blocked, "#1"), 42);
  get_within(other, "#1 other");
}

// #11 test_async_to_sync_to_async: a2s inside a s2a body runs on the outer fiber's runtime.
TEST_P(AsgirefScenario, AsyncToSyncInsideSyncBodyRunsOnTheOuterRuntime) {
  auto t = rt.spawn([&] {
    return fb::sync_to_async([&] {
      return fb::async_to_sync([&] {
        EXPECT_EQ(fb::current_runtime(), &rt);
        return 65;
      })();
    })();
  });
  EXPECT_EQ(get_within(t, "#11"), 65);
}

// #16 test_async_to_sync: a basic call from a plain thread.
TEST(AsgirefPlain, AsyncToSyncFromAPlainThreadReturnsTheResult) {
  EXPECT_EQ(fb::async_to_sync([](int a, int b) { return a * b; })(42, 2), 84);
}

// #19 test_async_to_sync_in_async: a2s on a fiber raises instead of deadlocking.
TEST_P(AsgirefScenario, AsyncToSyncOnAFiberThrows) {
  auto t = rt.spawn([] {
    try {
      fb::async_to_sync([] { return 1; })();
    } catch (const fb::AsyncToSyncInFiberError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  });
  EXPECT_EQ(get_within(t, "#19"), "You cannot use async_to_sync on a fiber - call the function directly.");
}

// #25 test_thread_sensitive_outside_sync: sync outermost -> a2s -> s2a runs on the calling thread,
// directly and inside a spawned task.
TEST_P(AsgirefScenario, SensitiveBodyRunsOnTheParkedCaller) {
  on_plain_thread([&] {
    const auto caller = std::this_thread::get_id();
    std::thread::id direct, in_task;
    fb::async_to_sync(
        [&] {
          fb::sync_to_async([&] { direct = std::this_thread::get_id(); })();
          auto child = fb::spawn([&] { fb::sync_to_async([&] { in_task = std::this_thread::get_id(); })(); });
          child.get();
        },
        {.runtime = &rt})();
    EXPECT_EQ(direct, caller);
    EXPECT_EQ(in_task, caller);
  });
}

// #26 test_thread_sensitive_outside_async: async outermost. s2a -> a2s -> s2a and a concurrent
// s2a all run on one single non-main thread (the sync thread).
TEST_P(AsgirefScenario, AsyncOutermostSensitiveCallsShareTheSyncThread) {
  const auto main_id = std::this_thread::get_id();
  std::thread::id outer, inner, concurrent;
  auto a = rt.spawn([&] {
    fb::sync_to_async([&] {
      outer = std::this_thread::get_id();
      fb::async_to_sync([&] { fb::sync_to_async([&] { inner = std::this_thread::get_id(); })(); })();
    })();
  });
  auto b = rt.spawn([&] { fb::sync_to_async([&] { concurrent = std::this_thread::get_id(); })(); });
  get_within(a, "#26 a");
  get_within(b, "#26 b");
  EXPECT_NE(outer, main_id);
  EXPECT_EQ(inner, outer);
  EXPECT_EQ(concurrent, outer);
}

// #32 test_thread_sensitive_with_context_matches: two tasks inside one ThreadSensitiveContext run
// on the same non-main thread, which is not the process-wide sync thread.
TEST_P(AsgirefScenario, TasksInOneThreadSensitiveContextShareItsThread) {
  auto t = rt.spawn([&] {
    std::thread::id sync_thread = fb::sync_to_async([] { return std::this_thread::get_id(); })();
    fb::ThreadSensitiveContext scope;
    auto a = fb::spawn([] { return fb::sync_to_async([] { return std::this_thread::get_id(); })(); });
    auto b = fb::spawn([] { return fb::sync_to_async([] { return std::this_thread::get_id(); })(); });
    auto ida = a.get();
    auto idb = b.get();
    EXPECT_EQ(ida, idb);
    EXPECT_NE(ida, sync_thread);
  });
  get_within(t, "#32");
}

// #33 test_thread_sensitive_nested_context: a nested context reuses the outer one's thread.
TEST_P(AsgirefScenario, NestedThreadSensitiveContextSharesTheOuterThread) {
  auto t = rt.spawn([] {
    fb::ThreadSensitiveContext outer;
    auto a = fb::sync_to_async([] { return std::this_thread::get_id(); })();
    std::thread::id b;
    {
      fb::ThreadSensitiveContext inner;
      b = fb::sync_to_async([] { return std::this_thread::get_id(); })();
    }
    EXPECT_EQ(a, b);
  });
  get_within(t, "#33");
}

// #59 test_thread_sensitive_with_context_different: separate contexts, separate threads, in parallel.
TEST_P(AsgirefScenario, SeparateThreadSensitiveContextsRunInParallel) {
  std::latch both_inside(2);
  auto request = [&] {
    fb::ThreadSensitiveContext scope;
    return fb::sync_to_async([&] {
      both_inside.arrive_and_wait();  // only possible if the two bodies run at the same time
      return std::this_thread::get_id();
    })();
  };
  auto a = rt.spawn(request);
  auto b = rt.spawn(request);
  EXPECT_NE(get_within(a, "#59 a"), get_within(b, "#59 b"));
}

// #35 test_thread_sensitive_context_exit_does_not_block_event_loop: a fiber whose context thread
// is parked in async_to_sync is cancelled; leaving the context waits for that thread without
// blocking the scheduler (another fiber still runs), and the stop reaches the inner fiber.
TEST_P(AsgirefScenario, ThreadSensitiveContextExitDoesNotBlockTheScheduler) {
  auto inner_started = std::make_shared<std::latch>(1);
  auto t = rt.spawn([inner_started] {
    fb::ThreadSensitiveContext scope;
    fb::sync_to_async([inner_started] {
      fb::async_to_sync([inner_started] {
        inner_started->count_down();
        const auto until = std::chrono::steady_clock::now() + kDeadline;
        while (!fb::this_task::stop_requested() && std::chrono::steady_clock::now() < until)
          boost::this_fiber::sleep_for(1ms);
      })();
    })();
  });
  inner_started->wait();
  t.request_stop();
  auto other = rt.spawn([] { return 1; });
  EXPECT_EQ(get_within(other, "#35 other fiber"), 1);
  EXPECT_THROW(get_within(t, "#35"), fb::CancelledError);
}

// #37 test_thread_sensitive_double_nested_sync: a2s -> s2a -> a2s -> s2a from a plain thread; the
// innermost body runs on that thread.
TEST_P(AsgirefScenario, DoubleNestedFromSyncRunsInnermostBodyOnTheCaller) {
  on_plain_thread([&] {
    const auto caller = std::this_thread::get_id();
    std::thread::id middle, innermost;
    fb::async_to_sync(
        [&] {
          fb::sync_to_async([&] {
            middle = std::this_thread::get_id();
            fb::async_to_sync([&] { fb::sync_to_async([&] { innermost = std::this_thread::get_id(); })(); })();
          })();
        },
        {.runtime = &rt})();
    EXPECT_EQ(middle, caller);
    EXPECT_EQ(innermost, caller);
  });
}

// #38 test_thread_sensitive_double_nested_async: s2a -> a2s -> s2a -> a2s from a fiber; the
// innermost fiber runs on the outer runtime.
TEST_P(AsgirefScenario, DoubleNestedFromAsyncRunsInnermostFiberOnTheOuterRuntime) {
  auto t = rt.spawn([&] {
    return fb::sync_to_async([&] {
      return fb::async_to_sync([&] {
        return fb::sync_to_async([&] {
          return fb::async_to_sync([&] { return fb::current_runtime() == &rt; })();
        })();
      })();
    })();
  });
  EXPECT_TRUE(get_within(t, "#38"));
}

// #39 test_thread_sensitive_disabled: thread_sensitive=false under a2s runs on another thread.
TEST_P(AsgirefScenario, NonSensitiveBodyDoesNotRunOnTheCaller) {
  on_plain_thread([&] {
    const auto caller = std::this_thread::get_id();
    auto where = fb::async_to_sync(
        [] { return fb::sync_to_async([] { return std::this_thread::get_id(); }, {.thread_sensitive = false})(); },
        {.runtime = &rt})();
    EXPECT_NE(where, caller);
  });
}

// #43 test_sync_to_async_uses_executor: the executor runs the work once; executor together with
// thread_sensitive is rejected.
TEST_P(AsgirefScenario, CustomExecutorRunsTheBodyOnce) {
  struct Counting : fb::Executor {
    std::atomic<int> calls{0};
    void execute(std::function<void()> work) override {
      ++calls;
      std::thread(std::move(work)).detach();
    }
  } executor;
  auto t = rt.spawn([&] { return fb::sync_to_async([] { return 7; }, {.thread_sensitive = false, .executor = &executor})(); });
  EXPECT_EQ(get_within(t, "#43"), 7);
  EXPECT_EQ(executor.calls.load(), 1);
  EXPECT_THROW(fb::sync_to_async([] {}, {.thread_sensitive = true, .executor = &executor}), std::invalid_argument);
  EXPECT_THROW(fb::sync_to_async(fb::SyncToAsyncOptions{.thread_sensitive = true, .executor = &executor}),
               std::invalid_argument);
}

// #44 test_sync_to_async_deadlock_ignored_with_exception: two failing calls in a row in one task
// do not trip the deadlock detector.
TEST_P(AsgirefScenario, FailingCallsDoNotLeaveADeadlockHold) {
  auto t = rt.spawn([] {
    for (int i = 0; i < 2; ++i) {
      try {
        fb::sync_to_async([] { throw std::runtime_error("boom"); })();
      } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "boom");
      }
    }
    return fb::sync_to_async([] { return 3; })();
  });
  EXPECT_EQ(get_within(t, "#44"), 3);
}

// #54 test_nested_task: a2s -> s2a -> a2s, the inner fiber returns a task doing s2a, awaited after
// the inner frame has returned: it routes to the nearest frame still waiting (#492).
TEST_P(AsgirefScenario, TaskOutlivingItsFrameRoutesToTheNearestWaitingFrame) {
  on_plain_thread([&] {
    const auto caller = std::this_thread::get_id();
    std::thread::id ran_on;
    fb::async_to_sync(
        [&] {
          auto task = fb::sync_to_async([&] {
            return fb::async_to_sync([&] {
              return fb::spawn([&] { fb::sync_to_async([&] { ran_on = std::this_thread::get_id(); })(); });
            })();
          })();
          task.get();
        },
        {.runtime = &rt})();
    EXPECT_EQ(ran_on, caller);
  });
}

// #55 test_nested_task_later: the same, but the task starts its sync work later (#491).
TEST_P(AsgirefScenario, LateTaskOfAFinishedFrameStillRuns) {
  on_plain_thread([&] {
    int value = 0;
    fb::async_to_sync(
        [&] {
          auto task = fb::sync_to_async([&] {
            return fb::async_to_sync([&] {
              return fb::spawn([&] {
                boost::this_fiber::sleep_for(20ms);  // starts after the inner frame returned
                value = fb::sync_to_async([] { return 5; })();
              });
            })();
          })();
          task.get();
        },
        {.runtime = &rt})();
    EXPECT_EQ(value, 5);
  });
}

// #56 test_double_nested_task: tasks created two nesting levels deep, awaited from outside.
TEST_P(AsgirefScenario, TasksCreatedTwoLevelsDeepAreAwaitedFromOutside) {
  on_plain_thread([&] {
    int sum = 0;
    fb::async_to_sync(
        [&] {
          auto tasks = fb::sync_to_async([&] {
            return fb::async_to_sync([&] {
              return fb::sync_to_async([&] {
                return fb::async_to_sync([&] {
                  std::vector<fb::Task<int>> v;
                  for (int i = 1; i <= 3; ++i) v.push_back(fb::spawn([i] { return fb::sync_to_async([i] { return i; })(); }));
                  return v;
                })();
              })();
            })();
          })();
          for (auto& t : tasks) sum += t.get();
        },
        {.runtime = &rt})();
    EXPECT_EQ(sum, 6);
  });
}

// #57-like test_two_nested_tasks_with_asyncio_run: two tasks created inside s2a(a2s(outer)) meet at
// a barrier and then both make thread-sensitive calls; no false "would deadlock".
TEST_P(AsgirefScenario, TwoNestedTasksMakeSensitiveCallsWithoutAFalseDeadlock) {
  auto t = rt.spawn([] {
    return fb::sync_to_async([] {
      return fb::async_to_sync([] {
        boost::fibers::barrier barrier(3);
        auto worker = [&barrier](int v) {
          barrier.wait();
          return fb::sync_to_async([v] { return v; })();
        };
        auto a = fb::spawn(worker, 1);
        auto b = fb::spawn(worker, 2);
        barrier.wait();
        return a.get() + b.get();
      })();
    })();
  });
  EXPECT_EQ(get_within(t, "#57"), 3);
}

// Rule 4: a sync body that waits for a fiber it spawned, which routes back to the body's own
// single thread, gets WouldDeadlockError instead of hanging.
TEST_P(AsgirefScenario, WaitingOnAChildThatNeedsOurSyncThreadRaisesWouldDeadlock) {
  auto t = rt.spawn([] {
    return fb::sync_to_async([] {
      auto child = fb::spawn([] { return fb::sync_to_async([] { return 1; })(); });
      try {
        child.get();
        return std::string("no error");
      } catch (const fb::WouldDeadlockError& e) {
        return std::string(e.what());
      }
    })();
  });
  EXPECT_EQ(get_within(t, "rule 4"), "Single thread executor already being used, would deadlock");
}

// A hold ends when its body returns: a task that outlives the body just queues (no false positive).
TEST_P(AsgirefScenario, HoldEndsWhenTheBodyReturns) {
  auto t = rt.spawn([] {
    auto child = fb::sync_to_async([] {
      return fb::spawn([] {
        boost::this_fiber::sleep_for(20ms);  // the spawning body has returned by now
        return fb::sync_to_async([] { return 9; })();
      });
    })();
    return child.get();
  });
  EXPECT_EQ(get_within(t, "hold end"), 9);
}

// force_new_loop runs on a private scheduler, never on the outer runtime, and rule 3 routes a
// fiber there back to the waiting thread.
TEST_P(AsgirefScenario, ForceNewLoopUsesAPrivateScheduler) {
  auto t = rt.spawn([&] {
    return fb::sync_to_async([&] {
      const auto body_thread = std::this_thread::get_id();
      return fb::async_to_sync(
          [&] {
            const bool private_rt = fb::current_runtime() != &rt;
            const bool routed_back = fb::sync_to_async([] { return std::this_thread::get_id(); })() == body_thread;
            return private_rt && routed_back;
          },
          {.force_new_loop = true})();
    })();
  });
  EXPECT_TRUE(get_within(t, "force_new_loop"));
}

// #27/#28: a2s calls inside an AsyncSingleThreadContext share one private scheduler thread.
TEST(AsgirefPlain, AsyncSingleThreadContextRunsCallsOnOneThread) {
  on_plain_thread([] {
    fb::AsyncSingleThreadContext outer;
    auto where = [] { return fb::async_to_sync([] { return std::this_thread::get_id(); })(); };
    const auto a = where();
    std::thread::id b;
    {
      fb::AsyncSingleThreadContext nested;
      b = where();
    }
    EXPECT_EQ(a, b);
    EXPECT_NE(a, std::this_thread::get_id());
  });
}

}  // namespace
