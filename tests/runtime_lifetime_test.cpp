// tests/runtime_lifetime_test.cpp — how a Runtime ends when the usual way is not available:
// destroyed by one of its own fibers (the last std::shared_ptr dropped there), and with stop
// callbacks that spawn while ~Runtime stops the fibers; and the ordinary ~Runtime: idle runtimes go
// promptly, fibers suspended in a bridge or on a task wake with CancelledError.
#include "fixtures.hpp"

#include <boost/fiber/operations.hpp>

#include <atomic>
#include <memory>
#include <stop_token>
#include <vector>

namespace {

using namespace fbtest;

// A task on a separate runtime that finishes only when released: fibers of the runtime under
// test wait on it in Task::get (an interruption point: a stop wakes them with CancelledError).
class Blocker {
 public:
  Blocker() : task_(aux_.spawn([this] { release_.wait("Blocker release", kScenarioDeadline); })) {}
  ~Blocker() {
    release_.set();
    get_within(task_, "Blocker");
  }
  fb::Task<void>& task() { return task_; }

 private:
  fb::Runtime aux_{fb::RuntimeOptions{.threads = 1, .name = "fb-aux"}};
  FiberEvent release_;
  fb::Task<void> task_;
};

// Spawns on `rt` a fiber that registers a stop callback running `on_stop`, then waits on the
// blocker until stopped; returns once the callback is registered.
template <class OnStop>
fb::Task<void> spawn_stoppable_waiter(fb::Runtime& rt, Blocker& blocker, OnStop on_stop) {
  auto registered = std::make_shared<ThreadEvent>();
  auto waiter = rt.spawn([&blocker, registered, on_stop] {
    std::stop_callback callback(fb::this_task::stop_token(), on_stop);
    registered->set();
    try {
      blocker.task().wait();
    } catch (const fb::CancelledError&) {
    }
  });
  registered->wait("the fiber registering its stop callback");
  return waiter;
}

class RuntimeLifetime : public ::testing::TestWithParam<unsigned> {};
INSTANTIATE_TEST_SUITE_P(Shapes, RuntimeLifetime, ::testing::Values(1u, 2u, 4u), ::fbtest::shape_name);

TEST_P(RuntimeLifetime, ARuntimeDestroyedByItsOwnFiberStopsTheOthersAndGoesAwayAfterIt) {
  constexpr int kRounds = 100 / (kScaleDown > 1 ? 4 : 1);
  constexpr int kOthers = 3;
  Blocker blocker;
  std::atomic<int> others_cancelled{0};
  std::atomic<int> after_ok{0};
  auto no_leak = std::make_unique<ThreadLeakCheck>(kDeadline);  // the runtimes' threads must all be released
  for (int round = 0; round < kRounds; ++round) {
    auto rt = std::make_shared<fb::Runtime>(fb::RuntimeOptions{.threads = GetParam(), .name = "fb-self"});
    std::vector<fb::Task<void>> others;
    std::atomic<int> waiting{0};
    for (int i = 0; i < kOthers; ++i) {
      others.push_back(rt->spawn([&blocker, &others_cancelled, &waiting] {
        waiting.fetch_add(1);
        try {
          blocker.task().wait();  // suspends until stopped
        } catch (const fb::CancelledError&) {
          others_cancelled.fetch_add(1);
        }
      }));
    }
    fb::Runtime* const address = rt.get();
    auto last = rt->spawn([owner = std::move(rt), &waiting, &after_ok, address]() mutable {
      while (waiting.load() < kOthers) boost::this_fiber::yield();
      owner.reset();  // ~Runtime on its own fiber
      // The fiber runs on with a runtime that still answers (a stand-in) and spawns stopped fibers.
      fb::Runtime* now = fb::current_runtime();
      bool ok = now != nullptr && now != address && fb::in_fiber();
      auto child = fb::spawn([] { return fb::this_task::stop_requested(); });
      ok = ok && child.get();
      if (ok) after_ok.fetch_add(1);
    });
    get_within(last, "the fiber that destroyed its runtime");
    for (auto& o : others) get_within(o, "a fiber stopped by its runtime's destruction from a fiber");
  }
  EXPECT_EQ(after_ok.load(), kRounds) << "the destroying fiber could not use its runtime afterwards";
  EXPECT_EQ(others_cancelled.load(), kRounds * kOthers) << "the other fibers were not stopped";
  no_leak.reset();  // waits (with a deadline) for the reapers to join them

  fb::Runtime fresh{fb::RuntimeOptions{.threads = GetParam()}};
  EXPECT_EQ(get_within(fresh.spawn([] { return 42; })), 42);
}

// Stop callbacks run inside request_stop(); ~Runtime used to run them under the lock of the
// live-fiber registry, so one that spawned on the same runtime deadlocked.
TEST_P(RuntimeLifetime, AStopCallbackThatSpawnsDoesNotDeadlockTheRuntimesDestruction) {
  Blocker blocker;
  std::atomic<int> refused{0};
  std::atomic<int> spawned{0};
  {
    fb::Runtime rt{fb::RuntimeOptions{.threads = GetParam()}};
    auto t = spawn_stoppable_waiter(rt, blocker, [&] {
      try {
        (void)rt.spawn([] {});  // from ~Runtime's thread: refused, the runtime is shutting down
        spawned.fetch_add(1);
      } catch (const std::logic_error&) {
        refused.fetch_add(1);
      }
    });
    // ~Runtime: stops the fiber; its callback spawns on the runtime being destroyed.
  }
  EXPECT_EQ(refused.load() + spawned.load(), 1);
}

TEST_P(RuntimeLifetime, AStopCallbackThatSpawnsWorksWhenTheRuntimeIsDestroyedFromAFiber) {
  Blocker blocker;
  std::atomic<int> spawned{0};
  std::atomic<int> child_ran{0};
  auto rt = std::make_shared<fb::Runtime>(fb::RuntimeOptions{.threads = GetParam()});
  auto waiter = spawn_stoppable_waiter(*rt, blocker, [&] {
    // Runs on the destroying fiber: a spawn from a runtime fiber is accepted (and stopped).
    (void)fb::spawn([&child_ran] { child_ran.fetch_add(1); });
    spawned.fetch_add(1);
  });
  auto last = rt->spawn([owner = std::move(rt)]() mutable { owner.reset(); });
  get_within(last, "the destroying fiber");
  get_within(waiter, "the stopped fiber");
  EXPECT_EQ(spawned.load(), 1);
}

// ---- ~Runtime of an ordinary runtime ---------------------------------------------------------

TEST(Runtime, IdleRuntimesAreDestroyedPromptly) {
  const auto before = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    fb::Runtime rt{fb::RuntimeOptions{.threads = 1 + static_cast<unsigned>(i % 4)}};
    if (i % 2) get_within(rt.spawn([] {}));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - before, 10s);
}

// ~Runtime stops a fiber suspended in sync_to_async: it wakes with CancelledError, the blocked
// body is detached, and the destructor returns while the body is still blocked.
TEST(Runtime, DestructorCancelsAFiberSuspendedInABridge) {
  auto sh = std::make_shared<BlockingBody>();
  fb::Task<int> task;
  {
    fb::Runtime rt{fb::RuntimeOptions{.threads = 2}};
    task = BlockingBody::spawn(rt, sh, {.thread_sensitive = false});
    sh->started.wait("body start");
  }  // ~Runtime must not wait for the body
  EXPECT_FALSE(sh->finished.is_set());
  ASSERT_TRUE(task.ready());
  EXPECT_THROW(task.get(), fb::CancelledError);
  sh->release.set();
  sh->finished.wait("detached body");
}

// ~Runtime also stops fibers suspended in Task::get on a task that never finishes by itself.
TEST(Runtime, DestructorCancelsAFiberWaitingOnATask) {
  auto gate = std::make_shared<ThreadEvent>();
  fb::Task<void> waiter;
  {
    fb::Runtime rt{fb::RuntimeOptions{.threads = 1}};
    auto started = std::make_shared<ThreadEvent>();
    waiter = rt.spawn([gate, started] {
      auto forever = fb::spawn([gate] {  // blocked in a bridge until the gate opens
        fb::sync_to_async([gate] { gate->wait("gate"); }, {.thread_sensitive = false})();
      });
      started->set();
      forever.get();
    });
    started->wait("waiter start");
  }
  ASSERT_TRUE(waiter.ready());
  EXPECT_THROW(waiter.get(), fb::CancelledError);
  gate->set();
}

}  // namespace
