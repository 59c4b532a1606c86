// tests/routing_rules_test.cpp — routing rule 3 (force_new_loop), rule 4 (WouldDeadlockError, and
// no false positives: holds end with their body, #44/#495), and rule 1 under load from many plain
// threads. (Nested scenarios: routing_nesting_test.cpp.)
#include "fixtures.hpp"

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace fbtest;

class Routing : public ShapedTest {};
FB_INSTANTIATE_SHAPES(Routing);

// ---- rule 3: force_new_loop ------------------------------------------------------------------

// force_new_loop runs on a private scheduler, never on the outer runtime; rule 3 routes its
// fiber's sensitive calls (direct, and from a child) back to the waiting thread.
TEST_P(Routing, ForceNewLoopFiberRoutesSensitiveWorkBackToTheWaitingThread) {
  auto t = rt.spawn([&] {
    return fb::sync_to_async([&] {
      const auto body_thread = here();
      const auto [runtime, direct, routed] = fb::async_to_sync([] {
        const auto direct_call = fb::sync_to_async(here)();
        auto child = fb::spawn([] { return fb::sync_to_async(here)(); });
        return std::tuple{fb::current_runtime(), direct_call, child.get()};
      }, {.force_new_loop = true})();
      return std::tuple{runtime != &rt && runtime != nullptr, direct == body_thread, routed == body_thread};
    })();
  });
  const auto [private_runtime, direct_routed_back, child_routed_back] = get_within(t);
  EXPECT_TRUE(private_runtime);
  EXPECT_TRUE(direct_routed_back);
  EXPECT_TRUE(child_routed_back);
}

// ---- rule 4 ----------------------------------------------------------------------------------

// Rule 4: a sync body waits for a fiber it spawned, which routes back to the body's own (held)
// thread: WouldDeadlockError instead of a hang.
TEST_P(Routing, WaitingOnAChildThatNeedsTheHeldThreadRaisesWouldDeadlock) {
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
  EXPECT_EQ(get_within(t), "Single thread executor already being used, would deadlock");
}

// A body running on the parked caller (rule 1) that waits for a child with Task::get serves the
// child's call routed back to it (API.md "Task::get() on a plain thread"): frames are served
// re-entrantly, so a frame is never "held" and there is no false WouldDeadlockError. Rule 4
// applies to single threads (the sync thread, a ThreadSensitiveContext's thread).
TEST_P(Routing, BodyOnTheParkedCallerServesItsChildrenWhileWaitingInTaskGet) {
  run_with_deadline([&] {
    const auto caller = here();
    const std::string outcome = fb::async_to_sync([caller] {
      return fb::sync_to_async([caller] {
        auto child = fb::spawn([] { return fb::sync_to_async(here)(); });
        try {
          return std::string(child.get() == caller ? "served on the parked caller" : "ran elsewhere");
        } catch (const fb::WouldDeadlockError&) {
          return std::string("WouldDeadlockError");
        }
      })();
    }, {.runtime = &rt})();
    EXPECT_EQ(outcome, "served on the parked caller");
  });
}

// A hold ends when its body returns: a task that outlives the body just queues there.
TEST_P(Routing, HoldEndsWhenTheBodyReturns) {
  auto t = rt.spawn([] {
    auto gate = std::make_shared<FiberEvent>();
    auto child = fb::sync_to_async([gate] {
      return fb::spawn([gate] {
        gate->wait("body return");
        return fb::sync_to_async([] { return 9; })();
      });
    })();
    gate->set();  // the spawning body has returned
    return child.get();
  });
  EXPECT_EQ(get_within(t), 9);
}

// #495: unrelated fibers never see another chain's hold: while one chain's body holds the sync
// thread, another fiber's sensitive call just queues behind it.
TEST_P(Routing, UnrelatedFiberNeverSeesAnotherChainsHold) {
  auto other_calling = std::make_shared<ThreadEvent>();
  auto holder = rt.spawn([other_calling] {
    fb::sync_to_async([other_calling] { other_calling->wait("other fiber's call"); })();
  });
  auto other = rt.spawn([other_calling] {
    other_calling->set();
    try {
      return fb::sync_to_async([] { return std::string("ran"); })();
    } catch (const fb::WouldDeadlockError&) {
      return std::string("false WouldDeadlockError");
    }
  });
  get_within(holder);
  EXPECT_EQ(get_within(other), "ran");
}

// #44: a failing body releases its hold as well as a returning one does.
TEST_P(Routing, FailingBodyReleasesItsHold) {
  auto t = rt.spawn([] {
    fb::Task<int> child;
    auto gate = std::make_shared<FiberEvent>();
    try {
      fb::sync_to_async([&child, gate] {
        child = fb::spawn([gate] {
          gate->wait("body failure");
          return fb::sync_to_async([] { return 4; })();
        });
        throw std::runtime_error("body failed");
      })();
    } catch (const std::runtime_error&) {
    }
    gate->set();  // the body has ended (by an exception)
    return child.get();
  });
  EXPECT_EQ(get_within(t), 4);
}

// ---- nesting under load ----------------------------------------------------------------------

TEST_P(Routing, ManyPlainThreadsEachGetTheirOwnSensitiveWorkBack) {
  constexpr int kThreads = 6, kCalls = 30;
  run_with_deadline([&] {
    std::atomic<int> wrong{0};
    on_threads(kThreads, [&](int) {
      const auto me = here();
      for (int c = 0; c < kCalls; ++c) {
        const auto where = fb::async_to_sync([] {
          auto a = fb::spawn([] { return fb::sync_to_async(here)(); });
          const auto b = fb::sync_to_async(here)();
          return a.get() == b ? b : std::thread::id{};
        }, {.runtime = &rt})();
        if (where != me) wrong.fetch_add(1);
      }
    });
    EXPECT_EQ(wrong.load(), 0);
  });
}

}  // namespace
