// tests/runtime_test.cpp — Runtime: scheduler threads, spawn, in_fiber/current_runtime, the
// default runtime, Boost.Fiber primitives on runtime fibers, several runtimes at once, remote
// wake-ups under load. (Stacks: runtime_stacks_test.cpp; ~Runtime: runtime_lifetime_test.cpp.)
#include "fixtures.hpp"

#include <boost/fiber/buffered_channel.hpp>
#include <boost/fiber/future.hpp>
#include <boost/fiber/operations.hpp>

#include <array>
#include <latch>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace fbtest;

class RuntimeShape : public ShapedTest {};
FB_INSTANTIATE_SHAPES(RuntimeShape);

TEST_P(RuntimeShape, ReportsItsNumberOfSchedulerThreads) { EXPECT_EQ(rt.threads(), GetParam()); }

TEST(Runtime, ZeroThreadsMeansHardwareConcurrency) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 0}};
  const unsigned hw = std::thread::hardware_concurrency();
  if (hw != 0) {
    EXPECT_EQ(rt.threads(), hw);
  } else {
    EXPECT_GE(rt.threads(), 1u);
  }
}

TEST_P(RuntimeShape, SpawnedFiberReturnsItsResult) {
  auto t = rt.spawn([](int a, int b) { return a * b; }, 6, 7);
  EXPECT_EQ(get_within(t), 42);
}

TEST_P(RuntimeShape, FiberKnowsItIsOnAFiberOfThisRuntime) {
  EXPECT_FALSE(fb::in_fiber());
  EXPECT_EQ(fb::current_runtime(), nullptr);
  auto t = rt.spawn([] { return std::pair{fb::in_fiber(), fb::current_runtime()}; });
  const auto [on_fiber, runtime] = get_within(t);
  EXPECT_TRUE(on_fiber);
  EXPECT_EQ(runtime, &rt);
}

TEST_P(RuntimeShape, FibersRunOnSchedulerThreadsOnly) {
  const auto main_id = std::this_thread::get_id();
  std::mutex m;
  std::set<std::thread::id> seen;
  std::vector<fb::Task<void>> tasks;
  for (int i = 0; i < 200; ++i) {
    tasks.push_back(rt.spawn([&] {
      for (int k = 0; k < 3; ++k) {
        {
          std::lock_guard g(m);
          seen.insert(std::this_thread::get_id());
        }
        boost::this_fiber::yield();
      }
    }));
  }
  for (auto& t : tasks) get_within(t);
  EXPECT_EQ(seen.count(main_id), 0u);
  EXPECT_GE(seen.size(), 1u);
  EXPECT_LE(seen.size(), GetParam()) << "fibers ran on threads that are not this runtime's";
}

TEST_P(RuntimeShape, ArgumentsAreDecayCopiedUnlessPassedByRef) {
  std::string by_value = "caller";
  std::string by_ref = "caller";
  auto t = rt.spawn(
      [](std::string copy, std::string& ref) {
        copy += "+fiber";
        ref += "+fiber";
        return copy;
      },
      by_value, std::ref(by_ref));
  EXPECT_EQ(get_within(t), "caller+fiber");
  EXPECT_EQ(by_value, "caller");
  EXPECT_EQ(by_ref, "caller+fiber");
}

TEST_P(RuntimeShape, MoveOnlyArgumentsAndResultsAreMoved) {
  auto p = std::make_unique<int>(5);
  const int* raw = p.get();
  auto t = rt.spawn([](std::unique_ptr<int> q) { return q; }, std::move(p));
  auto back = get_within(t);
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back.get(), raw);
  EXPECT_EQ(*back, 5);
}

TEST_P(RuntimeShape, DroppedTaskDetachesAndTheFiberRunsOn) {
  auto ran = std::make_shared<ThreadEvent>();
  { (void)rt.spawn([ran] { ran->set(); }); }  // handle destroyed at once
  ran->wait("detached fiber");
}

TEST(Runtime, DefaultRuntimeIsOneLazilyCreatedProcessWideRuntime) {
  fb::Runtime& a = fb::Runtime::default_runtime();
  fb::Runtime& b = fb::Runtime::default_runtime();
  EXPECT_EQ(&a, &b);
  EXPECT_GE(a.threads(), 1u);
}

TEST(Runtime, FreeSpawnFromAPlainThreadUsesTheDefaultRuntime) {
  auto t = fb::spawn([] { return fb::current_runtime(); });
  EXPECT_EQ(get_within(t), &fb::Runtime::default_runtime());
}

TEST_P(RuntimeShape, FreeSpawnOnAFiberUsesThatFibersRuntime) {
  auto t = rt.spawn([] { return fb::spawn([] { return fb::current_runtime(); }).get(); });
  EXPECT_EQ(get_within(t), &rt);
}

// ---- Boost.Fiber primitives work on runtime fibers ------------------------------------------

TEST_P(RuntimeShape, FibersPingPongOverBoostChannels) {
  constexpr int kRounds = 2000;
  auto t = rt.spawn([] {
    boost::fibers::buffered_channel<int> ping{2}, pong{2};
    auto echo = fb::spawn([&] {
      int v;
      while (ping.pop(v) == boost::fibers::channel_op_status::success) pong.push(v + 1);
      pong.close();
    });
    long sum = 0;
    for (int i = 0; i < kRounds; ++i) {
      ping.push(i);
      int r = 0;
      pong.pop(r);
      sum += r;
    }
    ping.close();
    echo.get();
    return sum;
  });
  EXPECT_EQ(get_within(t), static_cast<long>(kRounds) * (kRounds - 1) / 2 + kRounds);
}

TEST_P(RuntimeShape, FibersShareABoostMutexAndConditionVariable) {
  auto t = rt.spawn([] {
    boost::fibers::mutex m;
    boost::fibers::condition_variable cv;
    int turn = 0;
    constexpr int kFibers = 8, kRounds = 50;
    std::vector<fb::Task<void>> workers;
    for (int id = 0; id < kFibers; ++id) {
      workers.push_back(fb::spawn([&, id] {
        for (int r = 0; r < kRounds; ++r) {
          std::unique_lock lk(m);
          cv.wait(lk, [&] { return turn % kFibers == id; });
          ++turn;
          cv.notify_all();
        }
      }));
    }
    for (auto& w : workers) w.get();
    return turn;
  });
  EXPECT_EQ(get_within(t), 8 * 50);
}

TEST_P(RuntimeShape, YieldAndSleepForWorkOnRuntimeFibers) {
  auto t = rt.spawn([] {
    for (int i = 0; i < 100; ++i) boost::this_fiber::yield();
    const auto before = std::chrono::steady_clock::now();
    boost::this_fiber::sleep_for(5ms);
    return std::chrono::steady_clock::now() - before;
  });
  EXPECT_GE(get_within(t), 5ms);
}

TEST_P(RuntimeShape, BoostPromiseSetByOneFiberWakesAnother) {
  auto t = rt.spawn([] {
    boost::fibers::promise<int> p;
    auto f = p.get_future();
    auto setter = fb::spawn([&p] { p.set_value(11); });
    const int v = f.get();
    setter.get();
    return v;
  });
  EXPECT_EQ(get_within(t), 11);
}

// Task::get on a fiber suspends only that fiber: on ONE scheduler thread, a waiter blocked on a
// task is not in the way of the fiber that completes it.
TEST(Runtime, TaskGetOnAFiberSuspendsOnlyThatFiber) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 1}};
  auto gate = std::make_shared<FiberEvent>();
  auto producer = rt.spawn([gate] {
    gate->wait("producer gate");
    return 7;
  });
  auto consumer = rt.spawn([&producer] { return producer.get() * 6; });
  auto opener = rt.spawn([gate] { gate->set(); });
  EXPECT_EQ(get_within(consumer), 42);
  get_within(opener);
}

// ---- several runtimes at once ----------------------------------------------------------------

TEST(SeveralRuntimes, EachRunsItsFibersOnItsOwnThreads) {
  constexpr int kRuntimes = 3;
  std::array<std::unique_ptr<fb::Runtime>, kRuntimes> rts;
  for (auto& r : rts) r = std::make_unique<fb::Runtime>(fb::RuntimeOptions{.threads = 2});
  std::mutex m;
  std::array<std::set<std::thread::id>, kRuntimes> seen;
  std::vector<fb::Task<bool>> tasks;
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < kRuntimes; ++i) {
      tasks.push_back(rts[i]->spawn([&, i] {
        boost::this_fiber::yield();
        std::lock_guard g(m);
        seen[i].insert(std::this_thread::get_id());
        return fb::current_runtime() == rts[i].get();
      }));
    }
  }
  for (auto& t : tasks) EXPECT_TRUE(get_within(t)) << "a fiber ran on another runtime";
  for (int i = 0; i < kRuntimes; ++i) {
    EXPECT_LE(seen[i].size(), 2u);
    for (int j = i + 1; j < kRuntimes; ++j)
      for (auto id : seen[i]) EXPECT_EQ(seen[j].count(id), 0u) << "runtimes " << i << " and " << j << " share a thread";
  }
}

TEST(SeveralRuntimes, FiberOfOneRuntimeAwaitsATaskOfAnother) {
  fb::Runtime a{fb::RuntimeOptions{.threads = 1}};
  fb::Runtime b{fb::RuntimeOptions{.threads = 2}};
  auto t = a.spawn([&b] {
    int sum = 0;
    for (int i = 0; i < 200; ++i) {
      auto inner = b.spawn([i, &b] { return fb::current_runtime() == &b ? i : -100000; });
      sum += inner.get();
    }
    return std::pair{sum, fb::current_runtime()};
  });
  const auto [sum, where] = get_within(t);
  EXPECT_EQ(sum, 199 * 200 / 2);
  EXPECT_EQ(where, &a);
}

TEST(SeveralRuntimes, ManyCreatedAndDestroyedWhileOthersRun) {
  fb::Runtime keeper{fb::RuntimeOptions{.threads = 2}};
  auto background = keeper.spawn([] {
    long n = 0;
    for (int i = 0; i < 20000; ++i) {
      ++n;
      if (i % 64 == 0) boost::this_fiber::yield();
    }
    return n;
  });
  for (int i = 0; i < 20; ++i) {
    fb::Runtime short_lived{fb::RuntimeOptions{.threads = 1 + static_cast<unsigned>(i % 3)}};
    EXPECT_EQ(get_within(short_lived.spawn([i] { return i; })), i);
  }
  EXPECT_EQ(get_within(background), 20000);
}

// ---- remote wake-ups under load --------------------------------------------------------------

// Spawns from plain threads onto idle (parked) workers: a lost wake-up hangs one get() and the
// deadline reports it.
TEST_P(RuntimeShape, RemoteSpawnsFromManyThreadsAlwaysWakeAWorker) {
  static constexpr int kThreads = 4, kPerThread = 500;
  std::atomic<long> total{0};
  std::vector<std::thread> spawners;
  for (int s = 0; s < kThreads; ++s) {
    spawners.emplace_back([&, s] {
      for (int i = 0; i < kPerThread; ++i) total += get_within(rt.spawn([s, i] { return s * kPerThread + i; }), "remote spawn");
    });
  }
  for (auto& s : spawners) s.join();
  const long n = kThreads * kPerThread;
  EXPECT_EQ(total.load(), n * (n - 1) / 2);
}

// A fiber suspended on a Boost.Fiber condition is notified from a plain thread, many times in a
// row; every notification must reach a parked worker.
TEST_P(RuntimeShape, FiberNotifiedFromAPlainThreadWakesEveryTime) {
  constexpr int kRounds = 1000;
  boost::fibers::buffered_channel<int> to_fiber{2};
  std::atomic<int> received{0};
  auto consumer = rt.spawn([&] {
    int v;
    while (to_fiber.pop(v) == boost::fibers::channel_op_status::success) received.fetch_add(1);
  });
  std::thread producer([&] {
    for (int i = 0; i < kRounds; ++i) to_fiber.push(i);
    to_fiber.close();
  });
  producer.join();
  get_within(consumer, "channel consumer");
  EXPECT_EQ(received.load(), kRounds);
}

// Fibers on two runtimes wake each other in a ping-pong: every wake-up crosses runtimes.
TEST(RemoteWakeups, CrossRuntimePingPongNeverLosesAWakeup) {
  fb::Runtime a{fb::RuntimeOptions{.threads = 1}};
  fb::Runtime b{fb::RuntimeOptions{.threads = 2}};
  constexpr int kRounds = 2000;
  boost::fibers::buffered_channel<int> ab{2}, ba{2};
  auto pinger = a.spawn([&] {
    int last = -1;
    for (int i = 0; i < kRounds; ++i) {
      ab.push(i);
      ba.pop(last);
    }
    ab.close();
    return last;
  });
  auto ponger = b.spawn([&] {
    int v;
    while (ab.pop(v) == boost::fibers::channel_op_status::success) ba.push(v);
  });
  EXPECT_EQ(get_within(pinger), kRounds - 1);
  get_within(ponger);
}

// Load from both sides at once: plain threads spawn fibers which spawn fibers, while the workers
// are busy with a steady stream of yields.
TEST_P(RuntimeShape, NestedSpawnsUnderLoadAllComplete) {
  constexpr int kOuter = 200 / kScaleDown, kInner = 10;
  std::atomic<int> done{0};
  std::vector<fb::Task<void>> outer;
  for (int i = 0; i < kOuter; ++i) {
    outer.push_back(rt.spawn([&] {
      std::vector<fb::Task<void>> inner;
      for (int k = 0; k < kInner; ++k)
        inner.push_back(fb::spawn([&] {
          boost::this_fiber::yield();
          done.fetch_add(1);
        }));
      for (auto& t : inner) t.get();
    }));
  }
  for (auto& t : outer) get_within(t);
  EXPECT_EQ(done.load(), kOuter * kInner);
}

// Spawns from outside wait in one inbox that the scheduler threads drain; beyond
// inbox_capacity a spawning plain thread waits for a drain (backpressure, not unbounded growth).
// The only scheduler thread is held by a fiber that does not yield, so nothing drains until it
// is released.
TEST(RuntimeInbox, SpawnsBeyondTheCapacityWaitForADrainThenAllRun) {
  constexpr int kCapacity = 4, kSpawns = 3 * kCapacity;
  fb::Runtime rt{fb::RuntimeOptions{.threads = 1, .inbox_capacity = kCapacity, .slow_fiber_threshold = {}}};
  std::atomic<bool> hog_running{false}, release_hog{false};
  auto hog = rt.spawn([&] {
    hog_running = true;
    while (!release_hog.load()) std::this_thread::yield();  // the OS thread, not the fiber
  });
  const auto until = std::chrono::steady_clock::now() + kDeadline;
  while (!hog_running.load()) {
    ASSERT_LT(std::chrono::steady_clock::now(), until) << "the hog fiber never started";
    std::this_thread::yield();
  }
  std::atomic<int> spawned{0}, ran{0};
  std::vector<fb::Task<void>> tasks;
  std::thread spawner([&] {
    for (int i = 0; i < kSpawns; ++i) {
      tasks.push_back(rt.spawn([&] { ran.fetch_add(1); }));
      spawned.fetch_add(1);
    }
  });
  while (spawned.load() < kCapacity) {
    ASSERT_LT(std::chrono::steady_clock::now(), until) << "spawns below the capacity must not wait";
    std::this_thread::yield();
  }
  // Nothing can drain while the hog holds the thread: the spawner stays at the capacity.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(spawned.load(), kCapacity) << "a spawn beyond inbox_capacity did not wait";
  EXPECT_EQ(ran.load(), 0);
  release_hog = true;
  spawner.join();
  get_within(hog, "hog");
  for (auto& t : tasks) get_within(t, "spawned task");
  EXPECT_EQ(ran.load(), kSpawns);
}

}  // namespace
