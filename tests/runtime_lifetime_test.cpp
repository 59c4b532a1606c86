// tests/runtime_lifetime_test.cpp — how a Runtime ends when the usual way is not available:
// destroyed by one of its own fibers (the last std::shared_ptr dropped there), and with stop
// callbacks that spawn while ~Runtime stops the fibers.
#include "fixtures.hpp"

#include <dirent.h>

#include <boost/fiber/operations.hpp>

#include <atomic>
#include <memory>
#include <stop_token>
#include <vector>

namespace {

using namespace fbtest;

// Threads of this process (entries of /proc/self/task).
int thread_count() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}

// Waits (polling /proc: thread exit has no event to wait on) until at most `n` threads remain.
bool threads_drop_to(int n, std::chrono::seconds deadline) {
  const auto give_up = std::chrono::steady_clock::now() + deadline;
  while (thread_count() > n) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

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

class RuntimeLifetime : public ::testing::TestWithParam<unsigned> {};
INSTANTIATE_TEST_SUITE_P(Shapes, RuntimeLifetime, ::testing::Values(1u, 2u, 4u), ::fbtest::shape_name);

TEST_P(RuntimeLifetime, ARuntimeDestroyedByItsOwnFiberStopsTheOthersAndGoesAwayAfterIt) {
  constexpr int kRounds = 100 / (kScaleDown > 1 ? 4 : 1);
  constexpr int kOthers = 3;
  Blocker blocker;
  (void)fb::Runtime::default_runtime().threads();  // its threads are not part of the count
  const int baseline = thread_count();
  std::atomic<int> others_cancelled{0};
  std::atomic<int> after_ok{0};
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
  EXPECT_TRUE(threads_drop_to(baseline, kDeadline))
      << thread_count() << " threads, " << baseline << " before: the runtimes' threads were not released";

  fb::Runtime fresh{fb::RuntimeOptions{.threads = GetParam()}};
  EXPECT_EQ(get_within(fresh.spawn([] { return 42; })), 42);
}

// Stop callbacks run inside request_stop(); ~Runtime used to run them under the lock of the
// live-fiber registry, so one that spawned on the same runtime deadlocked.
TEST_P(RuntimeLifetime, AStopCallbackThatSpawnsDoesNotDeadlockTheRuntimesDestruction) {
  Blocker blocker;
  std::atomic<int> refused{0};
  std::atomic<int> spawned{0};
  ThreadEvent registered;
  {
    fb::Runtime rt{fb::RuntimeOptions{.threads = GetParam()}};
    auto t = rt.spawn([&] {
      std::stop_callback on_stop(fb::this_task::stop_token(), [&] {
        try {
          (void)rt.spawn([] {});  // from ~Runtime's thread: refused, the runtime is shutting down
          spawned.fetch_add(1);
        } catch (const std::logic_error&) {
          refused.fetch_add(1);
        }
      });
      registered.set();
      try {
        blocker.task().wait();
      } catch (const fb::CancelledError&) {
      }
    });
    registered.wait("the fiber registering its stop callback");
    // ~Runtime: stops the fiber; its callback spawns on the runtime being destroyed.
  }
  EXPECT_EQ(refused.load() + spawned.load(), 1);
}

TEST_P(RuntimeLifetime, AStopCallbackThatSpawnsWorksWhenTheRuntimeIsDestroyedFromAFiber) {
  Blocker blocker;
  std::atomic<int> spawned{0};
  std::atomic<int> child_ran{0};
  auto rt = std::make_shared<fb::Runtime>(fb::RuntimeOptions{.threads = GetParam()});
  ThreadEvent registered;
  auto waiter = rt->spawn([&] {
    std::stop_callback on_stop(fb::this_task::stop_token(), [&] {
      // Runs on the destroying fiber: a spawn from a runtime fiber is accepted (and stopped).
      (void)fb::spawn([&child_ran] { child_ran.fetch_add(1); });
      spawned.fetch_add(1);
    });
    registered.set();
    try {
      blocker.task().wait();
    } catch (const fb::CancelledError&) {
    }
  });
  registered.wait("the fiber registering its stop callback");
  auto last = rt->spawn([owner = std::move(rt)]() mutable { owner.reset(); });
  get_within(last, "the destroying fiber");
  get_within(waiter, "the stopped fiber");
  EXPECT_EQ(spawned.load(), 1);
}

}  // namespace
