// tests/task_test.cpp — Task<R>: results of every kind, exceptions (the same object), the handle's
// life cycle (move-only, get() consumes, empty handles), wait/wait_for/ready on plain threads and
// on fibers, and Task::get on a plain thread serving thread-sensitive work routed to it.
#include "fixtures.hpp"

#include <boost/fiber/operations.hpp>

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>

namespace {

using namespace fbtest;

static_assert(!std::is_copy_constructible_v<fb::Task<int>>, "Task is move-only");
static_assert(std::is_nothrow_move_constructible_v<fb::Task<int>>);

class TaskShape : public ShapedTest {};
FB_INSTANTIATE_SHAPES(TaskShape);

struct Marked : std::runtime_error {
  explicit Marked(int id) : std::runtime_error("marked " + std::to_string(id)), id(id) {}
  int id;
};

TEST_P(TaskShape, VoidTaskCompletes) {
  std::atomic<bool> ran{false};
  auto t = rt.spawn([&] { ran = true; });
  get_within(t);
  EXPECT_TRUE(ran.load());
}

TEST_P(TaskShape, StringResultIsMovedOut) {
  auto t = rt.spawn([] { return std::string(1000, 'x'); });
  EXPECT_EQ(get_within(t), std::string(1000, 'x'));
}

TEST_P(TaskShape, MoveOnlyResultComesBackAsTheSameObject) {
  const int* inside = nullptr;
  auto t = rt.spawn([&inside] {
    auto p = std::make_unique<int>(9);
    inside = p.get();
    return p;
  });
  auto p = get_within(t);
  EXPECT_EQ(p.get(), inside);
}

TEST_P(TaskShape, GetRethrowsTheSameExceptionObject) {
  std::atomic<const void*> thrown{nullptr};
  auto t = rt.spawn([&thrown]() -> int { throw_noting_address(Marked(3), thrown); });
  ASSERT_TRUE(t.wait_for(kDeadline));
  try {
    t.get();
    FAIL() << "get() did not rethrow";
  } catch (const Marked& m) {
    EXPECT_EQ(m.id, 3);
    EXPECT_EQ(static_cast<const void*>(&m), thrown.load()) << "a copy came back, not the thrown object";
  }
}

TEST_P(TaskShape, GetOnAFiberRethrowsTheSameExceptionObject) {
  std::atomic<const void*> thrown{nullptr};
  auto t = rt.spawn([&thrown] {
    auto inner = fb::spawn([&thrown] { throw_noting_address(Marked(4), thrown); });
    try {
      inner.get();
    } catch (const Marked& m) {
      return static_cast<const void*>(&m);
    }
    return static_cast<const void*>(nullptr);
  });
  const void* caught = get_within(t);
  ASSERT_NE(caught, nullptr);
  EXPECT_EQ(caught, thrown.load());
}

TEST_P(TaskShape, WaitDoesNotConsumeAndDoesNotRethrow) {
  auto t = rt.spawn([]() -> int { throw Marked(5); });
  ASSERT_TRUE(t.wait_for(kDeadline));
  t.wait();  // no throw
  t.wait();
  EXPECT_TRUE(t.valid());
  EXPECT_TRUE(t.ready());
  EXPECT_THROW(t.get(), Marked);
}

TEST_P(TaskShape, GetConsumesTheHandle) {
  auto t = rt.spawn([] { return 1; });
  EXPECT_EQ(get_within(t), 1);
  EXPECT_FALSE(t.valid());
  EXPECT_FALSE(t.ready());
  EXPECT_THROW(t.get(), std::logic_error);
  EXPECT_THROW(t.wait(), std::logic_error);
  EXPECT_THROW((void)t.wait_for(1ms), std::logic_error);
  t.request_stop();  // harmless on an empty handle
}

TEST(Task, DefaultConstructedHandleIsEmpty) {
  fb::Task<int> t;
  EXPECT_FALSE(t.valid());
  EXPECT_FALSE(t.ready());
  EXPECT_THROW(t.get(), std::logic_error);
  t.request_stop();
}

TEST_P(TaskShape, MovedFromHandleIsEmptyAndTheTargetOwnsTheTask) {
  auto a = rt.spawn([] { return 2; });
  fb::Task<int> b = std::move(a);
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): the documented moved-from state
  EXPECT_TRUE(b.valid());
  EXPECT_EQ(get_within(b), 2);
}

TEST_P(TaskShape, ReadyTurnsTrueOnlyOnceTheFiberFinished) {
  auto gate = std::make_shared<FiberEvent>();
  auto t = rt.spawn([gate] {
    gate->wait("ready gate");
    return 3;
  });
  EXPECT_FALSE(t.ready());
  gate->set();
  ASSERT_TRUE(t.wait_for(kDeadline));
  EXPECT_TRUE(t.ready());
  EXPECT_EQ(t.get(), 3);
}

TEST_P(TaskShape, WaitForTimesOutOnAPlainThread) {
  auto gate = std::make_shared<FiberEvent>();
  auto t = rt.spawn([gate] { gate->wait("wait_for gate"); });
  const auto before = std::chrono::steady_clock::now();
  EXPECT_FALSE(t.wait_for(30ms));
  EXPECT_GE(std::chrono::steady_clock::now() - before, 30ms);
  EXPECT_FALSE(t.wait_for(0ms));
  gate->set();
  EXPECT_TRUE(t.wait_for(kDeadline));
  EXPECT_TRUE(t.wait_for(0ms));
}

TEST_P(TaskShape, WaitForTimesOutOnAFiber) {
  auto gate = std::make_shared<FiberEvent>();
  auto slow = rt.spawn([gate] { gate->wait("wait_for gate"); });
  auto waiter = rt.spawn([&slow] {
    const auto before = std::chrono::steady_clock::now();
    const bool ready = slow.wait_for(30ms);
    return std::pair{ready, std::chrono::steady_clock::now() - before};
  });
  const auto [ready, waited] = get_within(waiter);
  EXPECT_FALSE(ready);
  EXPECT_GE(waited, 30ms);
  gate->set();
  get_within(slow);
}

// The timed wait on a fiber suspends only the fiber: on ONE scheduler thread, the fiber that
// completes the awaited task runs while the waiter is in wait_for.
TEST(Task, WaitForOnAFiberLetsOtherFibersOfItsThreadRun) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 1}};
  auto gate = std::make_shared<FiberEvent>();
  auto slow = rt.spawn([gate] { gate->wait("gate"); return 8; });
  auto waiter = rt.spawn([&slow] { return slow.wait_for(kDeadline) ? slow.get() : -1; });
  auto opener = rt.spawn([gate] { gate->set(); });
  EXPECT_EQ(get_within(waiter), 8);
  get_within(opener);
}

// A duration too large for steady_clock must mean "wait as long as it takes", not overflow into
// an already-passed deadline. (The task finishes soon after; with an overflow wait_for would
// return false at once.)
TEST_P(TaskShape, WaitForWithAHugeDurationWaitsUntilReady) {
  auto t = rt.spawn([] {
    for (int i = 0; i < 2000; ++i) boost::this_fiber::yield();
    return 1;
  });
  EXPECT_TRUE(t.wait_for(std::chrono::hours::max()));
  auto u = rt.spawn([] {
    for (int i = 0; i < 2000; ++i) boost::this_fiber::yield();
    return 2;
  });
  EXPECT_TRUE(u.wait_for(std::chrono::seconds::max()));
  EXPECT_EQ(t.get() + u.get(), 3);
}

TEST_P(TaskShape, ManyThreadsAndFibersWaitOnOneTask) {
  auto gate = std::make_shared<FiberEvent>();
  auto shared_task = rt.spawn([gate] {
    gate->wait("shared gate");
    return 5;
  });
  std::vector<fb::Task<bool>> fiber_waiters;
  for (int i = 0; i < 20; ++i) fiber_waiters.push_back(rt.spawn([&] { shared_task.wait(); return shared_task.ready(); }));
  std::vector<std::thread> thread_waiters;
  std::atomic<int> threads_done{0};
  for (int i = 0; i < 4; ++i)
    thread_waiters.emplace_back([&] {
      if (shared_task.wait_for(kDeadline)) threads_done.fetch_add(1);
    });
  gate->set();
  for (auto& w : fiber_waiters) EXPECT_TRUE(get_within(w));
  for (auto& th : thread_waiters) th.join();
  EXPECT_EQ(threads_done.load(), 4);
  EXPECT_EQ(shared_task.get(), 5);
}

// Precise point: Task::get on a plain thread that runs a thread-sensitive body for a parked
// async_to_sync caller serves the work routed to that thread meanwhile, so it does not deadlock
// where asgiref would. The awaited fiber was spawned by the async_to_sync fiber (not by the body),
// so it holds nothing and its sensitive call is routed (rule 1) to the very thread that waits.
TEST_P(TaskShape, GetInsideARoutedBodyServesWorkRoutedToItsThread) {
  run_with_deadline([&] {
    const auto caller = std::this_thread::get_id();
    std::thread::id body_thread, routed_thread;
    fb::async_to_sync(
        [&] {
          auto gate = std::make_shared<ThreadEvent>();
          auto child = fb::spawn([&, gate] {
            // Starts its sensitive call only once the body runs (waits on a pool thread).
            fb::sync_to_async([gate] { gate->wait("child gate"); }, {.thread_sensitive = false})();
            return fb::sync_to_async([&] {
              routed_thread = std::this_thread::get_id();
              return 21;
            })();
          });
          const int doubled = fb::sync_to_async([&] {
            body_thread = std::this_thread::get_id();
            gate->set();
            return child.get() * 2;  // a plain thread parks here and serves the routed call
          })();
          EXPECT_EQ(doubled, 42);
        },
        {.runtime = &rt})();
    EXPECT_EQ(body_thread, caller);
    EXPECT_EQ(routed_thread, caller);
  });
}

// Task::get on a plain thread parked in no frame just waits (nothing is routed to it).
TEST_P(TaskShape, GetOnAPlainThreadWaitsForASensitiveFiber) {
  auto t = rt.spawn([] { return fb::sync_to_async([] { return std::this_thread::get_id(); })(); });
  EXPECT_NE(get_within(t), std::this_thread::get_id());
}

}  // namespace
