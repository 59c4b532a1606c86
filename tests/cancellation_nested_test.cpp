// tests/cancellation_nested_test.cpp — a stop reaching nested fibers: propagation into the fiber
// of an async_to_sync nested in the stopped fiber's body (asgiref #48, #50, #51), and a stop while
// a ThreadSensitiveContext's exit waits (#35). (The stop itself: cancellation_stop_test.cpp.)
#include "fixtures.hpp"

#include <boost/fiber/future.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <stop_token>

namespace {

using namespace fbtest;

class Cancellation : public ShapedTest {};
FB_INSTANTIATE_SHAPES(Cancellation);

// ---- propagation into nested async_to_sync fibers ---------------------------------------------

// The innermost fiber of a nesting: says it started, blocks in a bridge until stopped, notes
// whether the stop reached it, and absorbs the CancelledError (finishes normally).
struct InnerFiber {
  ThreadEvent started, finished;
  std::atomic<bool> saw_stop{false};

  void run() {
    started.set();
    try {
      fb::sync_to_async([](std::stop_token st) { wait_for_stop(st); }, {.thread_sensitive = false})();
    } catch (const fb::CancelledError&) {
      saw_stop = fb::this_task::stop_requested();
    }
    finished.set();
  }
  // Stops `outer` once this fiber runs (then calls `after_stop`); the outer fiber gets
  // CancelledError, and the stop reaches this fiber.
  void expect_stop_reaches_it(fb::Task<void>& outer, const std::function<void()>& after_stop = [] {}) {
    started.wait("inner fiber start");
    outer.request_stop();
    after_stop();
    EXPECT_THROW(get_within(outer), fb::CancelledError);
    finished.wait("inner fiber end");
    EXPECT_TRUE(saw_stop.load());
  }
};

// #48 test_inner_shield_sync_middleware: the stop reaches the fiber of an async_to_sync nested in
// the awaited body; that fiber may absorb it and finish normally; the outer fiber still gets
// CancelledError once released (API.md; asgiref would swallow it instead).
TEST_P(Cancellation, StopReachesTheFiberOfANestedAsyncToSync) {
  auto inner = std::make_shared<InnerFiber>();
  auto t = rt.spawn([inner] { fb::sync_to_async([inner] { fb::async_to_sync([inner] { inner->run(); })(); })(); });
  inner->expect_stop_reaches_it(t);
}

// #50 test_inner_shield_sync_and_async_middleware: through alternating layers
// (fiber -> s2a -> a2s -> s2a -> a2s): the stop reaches the innermost fiber.
TEST_P(Cancellation, StopReachesTheInnermostFiberThroughAlternatingLayers) {
  auto inner = std::make_shared<InnerFiber>();
  auto t = rt.spawn([inner] {
    fb::sync_to_async([inner] {
      fb::async_to_sync([inner] {
        fb::sync_to_async([inner] { fb::async_to_sync([inner] { inner->run(); })(); })();
      })();
    })();
  });
  inner->expect_stop_reaches_it(t);
}

// #51 test_inner_shield_sync_and_async_middleware_sync_task: the stopped inner fiber shields a
// subtask that itself bridges (s2a -> a2s): it waits for it with a raw Boost.Fiber future (not an
// interruption point) and finishes normally; the subtask completes with its value.
TEST_P(Cancellation, StoppedInnerFiberCanShieldABridgingSubtask) {
  struct Shared {
    ThreadEvent inner_waiting, inner_cancelled, subtask_release, inner_finished;
    std::atomic<int> shielded_value{0};
  };
  auto sh = std::make_shared<Shared>();
  auto t = rt.spawn([sh] {
    fb::sync_to_async([sh] {
      fb::async_to_sync([sh] {
        auto promise = std::make_shared<boost::fibers::promise<int>>();
        auto result = promise->get_future();
        auto subtask = fb::spawn([sh, promise] {  // its own task: not stopped with the inner fiber
          const int v = fb::sync_to_async([sh] {
            sh->subtask_release.wait("subtask release");
            return fb::async_to_sync([] { return 40; })() + 2;
          }, {.thread_sensitive = false})();
          promise->set_value(v);
        });
        sh->inner_waiting.set();
        bool cancelled = false;
        try {
          subtask.get();  // interruption point: the stop arrives here
          sh->shielded_value = -1;  // (not stopped)
        } catch (const fb::CancelledError&) {
          cancelled = true;
        }
        // Not inside the catch block: a fiber must not suspend while handling an exception (the
        // C++ runtime keeps the caught-exception stack per OS thread, and fibers migrate).
        if (cancelled) {
          sh->inner_cancelled.set();
          try {
            sh->shielded_value = result.get();  // the shield: wait anyway, without an interruption point
          } catch (...) {
            sh->shielded_value = -2;  // the subtask was stopped along with the inner fiber
          }
        }
        sh->inner_finished.set();
      })();
    })();
  });
  sh->inner_waiting.wait("inner fiber start");
  t.request_stop();
  EXPECT_THROW(get_within(t), fb::CancelledError);
  // The subtask can finish only after the stop has reached the inner fiber (the stop's arrival
  // there is not ordered with the outer fiber's release).
  sh->inner_cancelled.wait("the stop reaching the inner fiber");
  sh->subtask_release.set();
  sh->inner_finished.wait("inner fiber end");
  EXPECT_EQ(sh->shielded_value.load(), 42);
}

// ---- ThreadSensitiveContext exit under a stop --------------------------------------------------

// If the fiber is stopped while its context's exit waits for pending work, it stops waiting; the
// context thread finishes the work in the background.
TEST_P(Cancellation, StopEndsTheWaitOfAThreadSensitiveContextExit) {
  struct Shared {
    ThreadEvent body_started, exiting, release, body_done;
    std::atomic<bool> exit_returned{false};
  };
  auto sh = std::make_shared<Shared>();
  auto request = rt.spawn([sh] {
    {
      fb::ThreadSensitiveContext scope;
      (void)fb::spawn([sh] {  // pending work on the context's thread, never awaited here
        fb::sync_to_async([sh] {
          sh->body_started.set();
          sh->release.wait("orphan release");
          sh->body_done.set();
        })();
      });
      fb::sync_to_async([sh] { sh->body_started.wait("body start"); }, {.thread_sensitive = false})();
      sh->exiting.set();
    }  // waits for the pending body, until stopped
    sh->exit_returned = true;
    return fb::this_task::stop_requested();
  });
  sh->exiting.wait("scope exit");
  request.request_stop();
  EXPECT_TRUE(get_within(request)) << "the exit must return once the fiber is stopped";
  EXPECT_FALSE(sh->body_done.is_set());
  sh->release.set();
  sh->body_done.wait("background body");
}

// #35 test_thread_sensitive_context_exit_does_not_block_event_loop: a fiber whose context thread
// is parked in async_to_sync is stopped; leaving the context waits for that thread without
// blocking the scheduler (another fiber still runs), and the stop reaches the inner fiber.
TEST_P(Cancellation, ThreadSensitiveContextExitDoesNotBlockTheScheduler) {
  auto inner = std::make_shared<InnerFiber>();
  auto t = rt.spawn([inner] {
    fb::ThreadSensitiveContext scope;
    fb::sync_to_async([inner] { fb::async_to_sync([inner] { inner->run(); })(); })();
  });
  inner->expect_stop_reaches_it(t, [&] { EXPECT_EQ(get_within(rt.spawn([] { return 1; }), "another fiber"), 1); });
}

}  // namespace
