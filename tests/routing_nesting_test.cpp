// tests/routing_nesting_test.cpp — where thread-sensitive bodies and async_to_sync fibers run when
// the bridges nest: asgiref's nested scenarios (#11, #25, #26, #37, #38, #39, #54, #55, #56, #57),
// routing rule 1 following spawned fibers and walking out to the nearest waiting frame, and the
// precise point "routing state travels like a context variable". (Rules 3 and 4, holds and load:
// routing_rules_test.cpp.)
#include "fixtures.hpp"

#include <boost/fiber/barrier.hpp>

#include <memory>
#include <thread>
#include <vector>

namespace {

using namespace fbtest;

class Routing : public SyncThreadShapedTest {};
FB_INSTANTIATE_SHAPES(Routing);

// #11 test_async_to_sync_to_async: async_to_sync inside a sync body runs on the outer fiber's
// runtime, not on a new scheduler, even when options.runtime names another one.
TEST_P(Routing, AsyncToSyncInsideASyncBodyRunsOnTheOuterRuntime) {
  fb::Runtime elsewhere{fb::RuntimeOptions{.threads = 1}};
  auto t = rt.spawn([&] {
    return fb::sync_to_async([&] {
      auto plain = fb::async_to_sync([] { return fb::current_runtime(); })();
      auto named = fb::async_to_sync([] { return fb::current_runtime(); }, {.runtime = &elsewhere})();
      return std::pair{plain, named};
    })();
  });
  const auto [plain, named] = get_within(t);
  EXPECT_EQ(plain, &rt);
  EXPECT_EQ(named, &rt) << "the outer runtime must win over options.runtime";
}

// #25 test_thread_sensitive_outside_sync: sync outermost -> a2s -> s2a runs on the calling
// thread, directly and inside a spawned fiber.
TEST_P(Routing, SensitiveBodyRunsOnTheParkedCaller) {
  run_with_deadline([&] {
    const auto caller = here();
    std::thread::id direct, in_child;
    fb::async_to_sync([&] {
      direct = fb::sync_to_async(here)();
      auto child = fb::spawn([] { return fb::sync_to_async(here)(); });
      in_child = child.get();
    }, {.runtime = &rt})();
    EXPECT_EQ(direct, caller);
    EXPECT_EQ(in_child, caller);
  });
}

// #26 test_thread_sensitive_outside_async: async outermost. s2a -> a2s -> s2a and a concurrent
// s2a all run on one single non-main thread (the sync thread).
TEST_P(Routing, AsyncOutermostSensitiveCallsAllRunOnTheSyncThread) {
  std::thread::id outer, inner;
  auto a = rt.spawn([&] {
    fb::sync_to_async([&] {
      outer = here();
      fb::async_to_sync([&] { inner = fb::sync_to_async(here)(); })();
    })();
  });
  auto b = rt.spawn([] { return fb::sync_to_async(here)(); });
  get_within(a);
  const auto concurrent = get_within(b);
  EXPECT_NE(outer, here());
  EXPECT_EQ(outer, sync_thread_id());
  EXPECT_EQ(inner, outer);
  EXPECT_EQ(concurrent, outer);
}

// #37 test_thread_sensitive_double_nested_sync: a2s -> s2a -> a2s -> s2a from a plain thread:
// every sync body runs on that thread.
TEST_P(Routing, DoubleNestedFromSyncRunsEverySyncBodyOnTheCaller) {
  run_with_deadline([&] {
    const auto caller = here();
    std::thread::id middle, innermost;
    fb::async_to_sync([&] {
      fb::sync_to_async([&] {
        middle = here();
        fb::async_to_sync([&] { innermost = fb::sync_to_async(here)(); })();
      })();
    }, {.runtime = &rt})();
    EXPECT_EQ(middle, caller);
    EXPECT_EQ(innermost, caller);
  });
}

// #38 test_thread_sensitive_double_nested_async: s2a -> a2s -> s2a -> a2s from a fiber: the
// innermost fiber runs on the outer runtime, and both sync bodies on the sync thread.
TEST_P(Routing, DoubleNestedFromAsyncRunsTheInnermostFiberOnTheOuterRuntime) {
  auto t = rt.spawn([&] {
    std::thread::id first_body, second_body;
    fb::Runtime* innermost = fb::sync_to_async([&] {
      first_body = here();
      return fb::async_to_sync([&] {
        return fb::sync_to_async([&] {
          second_body = here();
          return fb::async_to_sync([] { return fb::current_runtime(); })();
        })();
      })();
    })();
    return std::tuple{innermost, first_body, second_body};
  });
  const auto [innermost, first_body, second_body] = get_within(t);
  EXPECT_EQ(innermost, &rt);
  EXPECT_EQ(first_body, sync_thread_id());
  EXPECT_EQ(second_body, first_body);
}

// #39 test_thread_sensitive_disabled: thread_sensitive=false under a2s runs elsewhere.
TEST_P(Routing, NonSensitiveBodyUnderAsyncToSyncRunsOnThePool) {
  run_with_deadline([&] {
    const auto where = fb::async_to_sync([] { return fb::sync_to_async(here, {.thread_sensitive = false})(); },
                                         {.runtime = &rt})();
    EXPECT_NE(where, here());
    EXPECT_NE(where, sync_thread_id());
  });
}

// #54 test_nested_task: a2s -> s2a -> a2s, whose fiber returns a task doing s2a; the task is
// awaited after the inner frame has returned. No deadlock, no "already quit": it runs on the
// caller (whichever of the two frames on that thread is still waiting).
TEST_P(Routing, TaskOutlivingItsFrameStillRunsOnTheCaller) {
  run_with_deadline([&] {
    const auto caller = here();
    const auto ran_on = fb::async_to_sync([&] {
      auto task = fb::sync_to_async([] {
        return fb::async_to_sync([] { return fb::spawn([] { return fb::sync_to_async(here)(); }); })();
      })();
      return task.get();
    }, {.runtime = &rt})();
    EXPECT_EQ(ran_on, caller);
  });
}

// #55 test_nested_task_later: the task starts its sensitive call only after the inner frame has
// returned (gated, not timed): rule 1 walks out to the nearest frame still waiting (#491/#494).
TEST_P(Routing, LateCallOfAFinishedFrameWalksOutToTheNearestWaitingFrame) {
  run_with_deadline([&] {
    const auto caller = here();
    auto inner_frame_returned = std::make_shared<FiberEvent>();
    const auto ran_on = fb::async_to_sync([&, inner_frame_returned] {
      auto task = fb::sync_to_async([inner_frame_returned] {
        return fb::async_to_sync([inner_frame_returned] {
          return fb::spawn([inner_frame_returned] {
            inner_frame_returned->wait("inner frame return");
            return fb::sync_to_async(here)();
          });
        })();
      })();
      inner_frame_returned->set();  // the body (and the inner frame) have returned by now
      return task.get();
    }, {.runtime = &rt})();
    EXPECT_EQ(ran_on, caller);
  });
}

// The same with no outer frame left: the call falls back to the sync thread instead of a dead
// frame's thread.
TEST_P(Routing, CallOfAFinishedOutermostFrameFallsBackToTheSyncThread) {
  auto gate = std::make_shared<FiberEvent>();
  fb::Task<std::thread::id> task;
  run_with_deadline([&] {
    task = fb::async_to_sync([gate] {
      return fb::spawn([gate] {
        gate->wait("frame return");
        return fb::sync_to_async(here)();
      });
    }, {.runtime = &rt})();
  });
  gate->set();
  EXPECT_EQ(get_within(task), sync_thread_id());
}

// #56 test_double_nested_task: tasks created two nesting levels deep, awaited from outside.
TEST_P(Routing, TasksCreatedTwoLevelsDeepAreAwaitedFromOutside) {
  run_with_deadline([&] {
    const auto caller = here();
    const auto [sum, all_on_caller] = fb::async_to_sync([&] {
      auto tasks = fb::sync_to_async([] {
        return fb::async_to_sync([] {
          return fb::sync_to_async([] {
            return fb::async_to_sync([] {
              std::vector<fb::Task<std::pair<int, std::thread::id>>> v;
              for (int i = 1; i <= 4; ++i)
                v.push_back(fb::spawn([i] { return fb::sync_to_async([i] { return std::pair{i, here()}; })(); }));
              return v;
            })();
          })();
        })();
      })();
      int s = 0;
      bool on_caller = true;
      for (auto& t : tasks) {
        auto [v, where] = t.get();
        s += v;
        on_caller = on_caller && where == caller;
      }
      return std::pair{s, on_caller};
    }, {.runtime = &rt})();
    EXPECT_EQ(sum, 10);
    EXPECT_TRUE(all_on_caller);
  });
}

// #57 test_two_nested_tasks_with_asyncio_run: two fibers created inside s2a(a2s(...)) meet at a
// barrier, then both make sensitive calls: they route to the inner frame, no false deadlock.
TEST_P(Routing, TwoNestedTasksMakeSensitiveCallsWithoutAFalseDeadlock) {
  auto t = rt.spawn([] {
    return fb::sync_to_async([] {
      const auto body_thread = here();
      return fb::async_to_sync([body_thread] {
        boost::fibers::barrier barrier(3);
        auto worker = [&barrier, body_thread](int v) {
          barrier.wait();
          return fb::sync_to_async([v] { return std::pair{v, here()}; })();
        };
        auto a = fb::spawn(worker, 1);
        auto b = fb::spawn(worker, 2);
        barrier.wait();
        const auto [va, wa] = a.get();
        const auto [vb, wb] = b.get();
        return std::pair{va + vb, wa == body_thread && wb == body_thread};
      })();
    })();
  });
  const auto [sum, routed_to_the_inner_frame] = get_within(t);
  EXPECT_EQ(sum, 3);
  EXPECT_TRUE(routed_to_the_inner_frame);
}

// Precise point: spawn from a plain thread outside any async_to_sync creates no frame, so the
// fiber routes by rules 2-5 even while its spawner waits for it in Task::get().
TEST_P(Routing, FiberSpawnedFromAPlainThreadDoesNotRouteBackToItsSpawner) {
  run_with_deadline([&] {
    auto t = rt.spawn([] { return fb::sync_to_async(here)(); });
    const auto where = get_within(t);
    EXPECT_NE(where, here());
    EXPECT_EQ(where, sync_thread_id());
  });
}

// Precise point: a std::thread started anywhere starts with no routing state, even inside a body
// running on a parked caller.
TEST_P(Routing, PlainThreadStartedInsideABodyStartsWithoutRoutingState) {
  run_with_deadline([&] {
    const auto caller = here();
    std::thread::id from_thread;
    fb::async_to_sync([&] {
      fb::sync_to_async([&] {
        std::thread([&] { from_thread = get_within(fb::spawn([] { return fb::sync_to_async(here)(); })); }).join();
      })();
    }, {.runtime = &rt})();
    EXPECT_NE(from_thread, caller);
    EXPECT_EQ(from_thread, sync_thread_id());
  });
}

// Precise point: a fiber spawned by a sync body (on the sync thread, on behalf of a fiber) routes
// as that fiber would: here, into the ThreadSensitiveContext of the fiber.
TEST_P(Routing, FiberSpawnedByASyncBodyRoutesAsItsFiberWould) {
  auto t = rt.spawn([] {
    fb::ThreadSensitiveContext scope;
    const auto context_thread = fb::sync_to_async(here)();
    auto gate = std::make_shared<FiberEvent>();
    auto child = fb::sync_to_async([gate] {
      return fb::spawn([gate] {
        gate->wait("body return");  // calls only once the spawning body has returned (no hold)
        return fb::sync_to_async(here)();
      });
    })();
    gate->set();
    const auto child_thread = child.get();
    return std::pair{context_thread, child_thread};
  });
  const auto [context_thread, child_thread] = get_within(t);
  EXPECT_NE(context_thread, sync_thread_id());
  EXPECT_EQ(child_thread, context_thread);
}

}  // namespace
