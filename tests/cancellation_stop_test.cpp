// tests/cancellation_stop_test.cpp — Task::request_stop and this_task: sticky and idempotent stops,
// the interruption points (sync_to_async on entry and while waiting; Task::get/wait/wait_for on a
// fiber), a fiber released at once while its body stays blocked (asgiref §2.9), bodies taking a
// std::stop_token, absorbed cancellations, context copy-back after cancellation, wait_for
// timeouts. (Stops reaching nested fibers: cancellation_nested_test.cpp.)
#include "fixtures.hpp"

#include <boost/fiber/operations.hpp>

#include <memory>
#include <stop_token>
#include <string>
#include <thread>

namespace {

using namespace fbtest;

class Cancellation : public ShapedTest {};
FB_INSTANTIATE_SHAPES(Cancellation);

fb::ContextVar<std::string> trace{"trace"};

TEST(ThisTask, OnAPlainThreadNothingIsStoppedAndTheTokenIsEmpty) {
  run_with_deadline([] {
    EXPECT_FALSE(fb::this_task::stop_requested());
    EXPECT_FALSE(fb::this_task::stop_token().stop_possible());
  });
}

TEST_P(Cancellation, RequestStopIsStickyAndIdempotent) {
  auto stopped = std::make_shared<FiberEvent>();
  auto t = rt.spawn([stopped] {
    const bool before = fb::this_task::stop_requested();
    const bool possible = fb::this_task::stop_token().stop_possible();
    stopped->wait("stop request");
    bool sticky = true;
    for (int i = 0; i < 10; ++i) {
      boost::this_fiber::yield();
      sticky = sticky && fb::this_task::stop_requested() && fb::this_task::stop_token().stop_requested();
    }
    return std::tuple{before, possible, sticky};
  });
  t.request_stop();
  t.request_stop();
  t.request_stop();
  stopped->set();
  const auto [before, possible, sticky] = get_within(t);
  EXPECT_TRUE(possible);
  EXPECT_TRUE(sticky);
  (void)before;  // may already be true: the stop can land before the fiber first runs
}

TEST_P(Cancellation, StopAfterTheTaskFinishedChangesNothing) {
  auto t = rt.spawn([] { return 5; });
  ASSERT_TRUE(t.wait_for(kDeadline));
  t.request_stop();
  EXPECT_EQ(t.get(), 5);
}

// A fiber stopped before it reaches sync_to_async gets CancelledError on entry; the body never runs.
TEST_P(Cancellation, StoppedFiberGetsCancelledErrorOnEntryToSyncToAsync) {
  auto body_ran = std::make_shared<std::atomic<bool>>(false);
  auto stopped = std::make_shared<FiberEvent>();
  auto t = rt.spawn([body_ran, stopped] {
    stopped->wait("stop request");
    fb::sync_to_async([body_ran] { *body_ran = true; })();
  });
  t.request_stop();
  stopped->set();
  ASSERT_TRUE(t.wait_for(kDeadline));
  EXPECT_THROW(t.get(), fb::CancelledError);
  EXPECT_FALSE(body_ran->load());
}

// asgiref §2.9: the waiting fiber wakes at once with CancelledError while the body, which ignores
// stops, stays blocked and runs on detached. Both thread-sensitive and not.
class CancellationWhileBlocked : public ::testing::TestWithParam<std::tuple<unsigned, bool>> {};
INSTANTIATE_TEST_SUITE_P(ShapesAndRouting, CancellationWhileBlocked,
                         ::testing::Combine(::testing::Values(1u, 2u, 4u), ::testing::Bool()),
                         [](const auto& info) {
                           return std::to_string(std::get<0>(info.param)) + "_threads_" +
                                  (std::get<1>(info.param) ? "sensitive" : "pool");
                         });

TEST_P(CancellationWhileBlocked, FiberIsReleasedAtOnceWhileTheBodyRunsOn) {
  const auto [threads, sensitive] = GetParam();
  fb::Runtime rt{fb::RuntimeOptions{.threads = threads}};
  auto sh = std::make_shared<BlockingBody>();
  auto t = BlockingBody::spawn(rt, sh, {.thread_sensitive = sensitive});
  sh->started.wait("body start");
  t.request_stop();
  ASSERT_TRUE(t.wait_for(kDeadline)) << "the fiber was not released while its body is blocked";
  EXPECT_FALSE(sh->finished.is_set());
  EXPECT_THROW(t.get(), fb::CancelledError);
  sh->release.set();
  sh->finished.wait("detached body");  // the orphan completes; its result is dropped safely
}

// A body whose first parameter is std::stop_token receives one that is stopped too, so blocking
// code can end early; this_task::stop_requested() inside the body agrees.
TEST_P(Cancellation, StopAwareBodyLearnsOfTheStop) {
  struct Shared {
    ThreadEvent started, observed;
    std::atomic<bool> saw_stop{false}, this_task_agreed{false}, stopped_at_start{true};
  };
  auto sh = std::make_shared<Shared>();
  auto t = rt.spawn([sh] {
    fb::sync_to_async([sh](std::stop_token st, int) {
      sh->stopped_at_start = st.stop_requested() || fb::this_task::stop_requested();
      sh->started.set();
      sh->saw_stop = wait_for_stop(st);
      sh->this_task_agreed = fb::this_task::stop_requested();
      sh->observed.set();
    })(0);
  });
  sh->started.wait("body start");
  t.request_stop();
  EXPECT_THROW(get_within(t), fb::CancelledError);
  sh->observed.wait("the body seeing the stop");
  EXPECT_FALSE(sh->stopped_at_start.load());
  EXPECT_TRUE(sh->saw_stop.load());
  EXPECT_TRUE(sh->this_task_agreed.load());
}

// A body without a stop_token still sees the stop through this_task::stop_requested().
TEST_P(Cancellation, PlainBodyOfAStoppedFiberSeesStopRequested) {
  struct Shared {
    ThreadEvent started, released;
    std::atomic<bool> before{true}, after{false};
    ThreadEvent done;
  };
  auto sh = std::make_shared<Shared>();
  auto t = rt.spawn([sh] {
    fb::sync_to_async([sh] {
      sh->before = fb::this_task::stop_requested();
      sh->started.set();
      sh->released.wait("release after the stop");
      sh->after = fb::this_task::stop_requested();
      sh->done.set();
    }, {.thread_sensitive = false})();
  });
  sh->started.wait("body start");
  t.request_stop();
  EXPECT_THROW(get_within(t), fb::CancelledError);
  sh->released.set();
  sh->done.wait("body end");
  EXPECT_FALSE(sh->before.load());
  EXPECT_TRUE(sh->after.load());
}

// The body holds its caller's stop: after the cancelled caller's task ended and its last handle
// went, the body still sees the stop, and a token it asks for only then (made lazily, from the
// task it holds) is stopped too.
TEST_P(Cancellation, BodyOutlivingItsCallersTaskStillSeesItsStop) {
  struct Shared {
    ThreadEvent started, released, done;
    std::atomic<bool> requested{false}, token_stopped{false};
  };
  auto sh = std::make_shared<Shared>();
  {
    auto t = rt.spawn([sh] {
      fb::sync_to_async([sh] {
        sh->started.set();
        sh->released.wait("release after the caller's task is gone");
        sh->requested = fb::this_task::stop_requested();
        sh->token_stopped = fb::this_task::stop_token().stop_requested();
        sh->done.set();
      }, {.thread_sensitive = false})();
    });
    sh->started.wait("body start");
    t.request_stop();
    EXPECT_THROW(get_within(t), fb::CancelledError);
  }  // the last handle goes: only the body holds the task now
  sh->released.set();
  sh->done.wait("body end");
  EXPECT_TRUE(sh->requested.load());
  EXPECT_TRUE(sh->token_stopped.load());
}

// Fiber code may catch CancelledError and finish normally; that result is what get() returns.
TEST_P(Cancellation, AbsorbedCancellationYieldsTheFibersOwnResult) {
  auto started = std::make_shared<ThreadEvent>();
  auto t = rt.spawn([started] {
    try {
      fb::sync_to_async([started](std::stop_token st) {
        started->set();
        wait_for_stop(st);
      })();
    } catch (const fb::CancelledError&) {
      return fb::this_task::stop_requested() ? 17 : -1;  // still stopped: sticky
    }
    return 0;
  });
  started->wait("body start");
  t.request_stop();
  EXPECT_EQ(get_within(t), 17);
}

// Task::get on a fiber is an interruption point for the *waiting* fiber; the awaited task is not
// stopped by it.
TEST_P(Cancellation, StoppedWaiterLeavesTaskGetButTheAwaitedTaskRunsOn) {
  auto gate = std::make_shared<FiberEvent>();
  auto awaited = rt.spawn([gate] {
    gate->wait("awaited gate");
    return fb::this_task::stop_requested() ? -1 : 3;
  });
  auto waiting = std::make_shared<ThreadEvent>();
  auto waiter = rt.spawn([&awaited, waiting] {
    waiting->set();
    return awaited.get();
  });
  waiting->wait("waiter start");
  waiter.request_stop();
  EXPECT_THROW(get_within(waiter), fb::CancelledError);
  EXPECT_FALSE(awaited.ready());
  gate->set();
  EXPECT_EQ(get_within(awaited), 3);
}

TEST_P(Cancellation, TaskWaitAndWaitForOnAFiberAreInterruptionPoints) {
  auto gate = std::make_shared<FiberEvent>();
  auto never = rt.spawn([gate] { gate->wait("gate"); });
  auto started = std::make_shared<ThreadEvent>();
  auto by_wait = rt.spawn([&never, started] {
    started->set();
    never.wait();
  });
  started->wait("wait start");
  by_wait.request_stop();
  EXPECT_THROW(get_within(by_wait), fb::CancelledError);

  auto started2 = std::make_shared<ThreadEvent>();
  auto by_wait_for = rt.spawn([&never, started2] {
    started2->set();
    return never.wait_for(kDeadline);
  });
  started2->wait("wait_for start");
  by_wait_for.request_stop();
  EXPECT_THROW(get_within(by_wait_for), fb::CancelledError);
  gate->set();
  get_within(never);
}

// Cancelled tasks chain: a waiter that lets the CancelledError of the awaited task escape ends
// with CancelledError too.
TEST_P(Cancellation, GetOfACancelledTaskRethrowsCancelledError) {
  auto started = std::make_shared<ThreadEvent>();
  auto inner = rt.spawn([started] {
    fb::sync_to_async([started](std::stop_token st) {
      started->set();
      wait_for_stop(st);
    })();
  });
  started->wait("inner body start");
  inner.request_stop();
  auto outer = rt.spawn([&inner] { inner.get(); });
  EXPECT_THROW(get_within(outer), fb::CancelledError);
}

// ---- context after cancellation --------------------------------------------------------------

// Changes the detached body made before the fiber was released come back; later ones do not.
// (The body makes its later change only after the fiber has been released and has looked.)
TEST_P(Cancellation, ContextChangesBeforeTheReleaseComeBackLaterOnesDoNot) {
  struct Shared {
    ThreadEvent started, fiber_released;
    FiberEvent later_write_done;
  };
  auto sh = std::make_shared<Shared>();
  auto t = rt.spawn([sh] {
    trace.set("caller");
    try {
      fb::sync_to_async([sh] {
        trace.set("before the stop");
        sh->started.set();
        sh->fiber_released.wait("the fiber's release");
        trace.set("after the release");
        sh->later_write_done.set();
      })();
    } catch (const fb::CancelledError&) {
    }
    const auto at_release = trace.value_or("");
    sh->fiber_released.set();
    sh->later_write_done.wait("the body's later write");  // not an interruption point
    return std::pair{at_release, trace.value_or("")};
  });
  sh->started.wait("body start");
  t.request_stop();
  const auto [at_release, later] = get_within(t);
  EXPECT_EQ(at_release, "before the stop");
  EXPECT_EQ(later, "before the stop");
}

// ---- timeouts --------------------------------------------------------------------------------

// asgiref's wait_for(sync_to_async(slow)(), t): waiting with a timeout on a task whose body
// blocks times out on time, on a plain thread and on a fiber; the task then finishes normally.
TEST_P(Cancellation, WaitForOnABlockedBodyTimesOutOnThreadsAndFibers) {
  auto release = std::make_shared<ThreadEvent>();
  auto slow = rt.spawn([release] {
    return fb::sync_to_async([release] {
      release->wait("slow body");
      return 6;
    }, {.thread_sensitive = false})();
  });
  EXPECT_FALSE(slow.wait_for(20ms));
  auto waiter = rt.spawn([&slow] { return slow.wait_for(20ms); });
  EXPECT_FALSE(get_within(waiter));
  release->set();
  EXPECT_EQ(get_within(slow), 6);
}

// A timed-out waiter can stop the slow task; the task ends with CancelledError at once.
TEST_P(Cancellation, TimeoutThenStopEndsTheTaskAtOnce) {
  auto release = std::make_shared<ThreadEvent>();
  auto slow = rt.spawn([release] {
    fb::sync_to_async([release] { release->wait("slow body"); }, {.thread_sensitive = false})();
  });
  EXPECT_FALSE(slow.wait_for(10ms));
  slow.request_stop();
  EXPECT_TRUE(slow.wait_for(kDeadline));
  EXPECT_THROW(slow.get(), fb::CancelledError);
  release->set();
}

}  // namespace
