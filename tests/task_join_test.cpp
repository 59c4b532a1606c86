// tests/task_join_test.cpp — the join and the stop state of a task: a join racing the task's
// finish across threads and runtimes (with deadlines), wait_for timeouts on fibers and threads, a
// stopped joiner waking with CancelledError (stops racing joins wake each joiner once), and the
// stop state made on demand: a stop requested before, while or after the first stop token is
// asked for is never lost.
#include "fixtures.hpp"

#include <boost/fiber/operations.hpp>

#include <array>
#include <atomic>
#include <memory>
#include <stop_token>
#include <thread>
#include <vector>

namespace {

using namespace fbtest;

class TaskJoinShape : public ShapedTest {};
FB_INSTANTIATE_SHAPES(TaskJoinShape);

// Yields `n` times: a finish that lands at a varying point of the joiner's wait.
void yield_n(unsigned n) {
  for (unsigned i = 0; i < n; ++i) boost::this_fiber::yield();
}

TEST_P(TaskJoinShape, FiberJoinsRacingFinishAcrossThreadsManyTimes) {
  constexpr int kPairs = 400 / kScaleDown;
  std::vector<fb::Task<bool>> joiners;
  for (int i = 0; i < kPairs; ++i) {
    joiners.push_back(rt.spawn([i] {
      auto child = fb::spawn([i] {
        yield_n(static_cast<unsigned>(i % 5));
        return i;
      });
      // Short deadlines first, so that timed waits and completions interleave.
      while (!child.wait_for(std::chrono::microseconds(50 * (i % 3)))) {
      }
      return child.get() == i;
    }));
  }
  for (auto& j : joiners) EXPECT_TRUE(get_within(j, "joiner"));
}

TEST_P(TaskJoinShape, PlainThreadsJoinRacingFinishManyTimes) {
  run_with_deadline([this] {
    on_threads(2, [this](int k) {
      for (int i = 0; i < 300 / kScaleDown; ++i) {
        auto t = rt.spawn([i] { return i; });
        if (i % 2 == k) (void)t.wait_for(std::chrono::microseconds(i % 7));
        EXPECT_EQ(get_within(t), i);
      }
    });
  });
}

TEST_P(TaskJoinShape, FiberOfAnotherRuntimeJoinsRacingFinish) {
  fb::Runtime other{fb::RuntimeOptions{.threads = 1, .name = "fb-other"}};
  auto joiner = other.spawn([this] {
    int sum = 0;
    for (int i = 0; i < 200 / kScaleDown; ++i) {
      auto t = rt.spawn([i] {
        yield_n(static_cast<unsigned>(i % 3));
        return i;
      });
      sum += t.get();
    }
    return sum;
  });
  const int n = 200 / kScaleDown;
  EXPECT_EQ(get_within(joiner), n * (n - 1) / 2);
}

TEST_P(TaskJoinShape, WaitForTimesOutOnAFiberThenSucceeds) {
  auto gate = std::make_shared<FiberEvent>();
  auto blocked = rt.spawn([gate] {
    gate->wait("gate");
    return 7;
  });
  auto joiner = rt.spawn([&blocked, gate] {
    const auto t0 = std::chrono::steady_clock::now();
    const bool early = blocked.wait_for(std::chrono::milliseconds(20));
    const auto waited = std::chrono::steady_clock::now() - t0;
    const bool zero = blocked.wait_for(std::chrono::seconds(0));
    const bool negative = blocked.wait_for(std::chrono::milliseconds(-5));
    gate->set();
    const bool late = blocked.wait_for(kDeadline);
    return !early && !zero && !negative && late && waited >= std::chrono::milliseconds(20);
  });
  EXPECT_TRUE(get_within(joiner));
  EXPECT_EQ(blocked.get(), 7);
}

TEST_P(TaskJoinShape, WaitForTimesOutOnAPlainThread) {
  auto gate = std::make_shared<FiberEvent>();
  auto blocked = rt.spawn([gate] { gate->wait("gate"); });
  EXPECT_FALSE(blocked.wait_for(std::chrono::milliseconds(10)));
  EXPECT_FALSE(blocked.ready());
  gate->set();
  EXPECT_TRUE(blocked.wait_for(kDeadline));
  EXPECT_TRUE(blocked.ready());
}

TEST_P(TaskJoinShape, StoppedJoinerWakesWithCancelledErrorDuringATimedWait) {
  auto gate = std::make_shared<FiberEvent>();
  auto waiting = std::make_shared<FiberEvent>();
  auto blocked = rt.spawn([gate] { gate->wait("gate"); });
  auto joiner = rt.spawn([&blocked, waiting] {
    waiting->set();
    try {
      (void)blocked.wait_for(std::chrono::hours(1));
    } catch (const fb::CancelledError&) {
      return fb::this_task::stop_requested();
    }
    return false;
  });
  waiting->wait("joiner started");
  joiner.request_stop();
  EXPECT_TRUE(get_within(joiner));
  gate->set();
  get_within(blocked);
}

TEST_P(TaskJoinShape, StopRequestedBeforeTheTokenIsAskedForReachesIt) {
  auto gate = std::make_shared<FiberEvent>();
  auto t = rt.spawn([gate] {
    gate->wait("gate");
    const bool flag = fb::this_task::stop_requested();
    std::stop_token token = fb::this_task::stop_token();
    bool called = false;
    std::stop_callback cb(token, [&called] { called = true; });
    return flag && token.stop_requested() && called;
  });
  t.request_stop();
  t.request_stop();  // idempotent
  gate->set();
  EXPECT_TRUE(get_within(t));
}

TEST_P(TaskJoinShape, StopRequestedAfterTheTokenWasAskedForRunsItsCallbacks) {
  auto asked = std::make_shared<FiberEvent>();
  auto t = rt.spawn([asked] {
    std::stop_token token = fb::this_task::stop_token();
    auto stopped = std::make_shared<FiberEvent>();
    std::stop_callback cb(token, [stopped] { stopped->set(); });
    asked->set();
    stopped->wait("stop callback");
    return token.stop_requested() && fb::this_task::stop_requested();
  });
  asked->wait("token asked for");
  t.request_stop();
  EXPECT_TRUE(get_within(t));
}

TEST_P(TaskJoinShape, StopRacingTheTokensCreationIsNeverLost) {
  constexpr int kRounds = 300 / kScaleDown;
  for (int i = 0; i < kRounds; ++i) {
    auto go = std::make_shared<std::atomic<bool>>(false);
    auto t = rt.spawn([go] {
      while (!go->load()) boost::this_fiber::yield();
      std::stop_token token = fb::this_task::stop_token();
      const auto give_up = std::chrono::steady_clock::now() + kDeadline;
      while (!token.stop_requested() && std::chrono::steady_clock::now() < give_up) boost::this_fiber::yield();
      return token.stop_requested() && fb::this_task::stop_requested();
    });
    std::thread stopper([&t, go] {
      go->store(true);
      t.request_stop();
    });
    stopper.join();
    ASSERT_TRUE(get_within(t)) << "round " << i;
  }
}

// A stop landing at any point of a join (before the waiter links itself, while it is suspended,
// as it leaves) wakes it at most once: the fiber then yields many times, which would crash or
// hang if a stray wake had queued it a second time.
TEST_P(TaskJoinShape, StopsRacingJoinsWakeEachJoinerOnce) {
  constexpr int kRounds = 150 / kScaleDown;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<fb::Task<int>> joiners;
    for (int k = 0; k < 4; ++k) {
      joiners.push_back(rt.spawn([round, k] {
        auto child = fb::spawn([round] { yield_n(static_cast<unsigned>(round % 4)); });
        int outcome = 0;
        try {
          if (k % 2 == 0) {
            child.wait();
          } else {
            while (!child.wait_for(std::chrono::microseconds(20 * k))) {
            }
          }
        } catch (const fb::CancelledError&) {
          outcome = 1;
        }
        yield_n(20);
        (void)child.wait_for(kDeadline);  // a stopped joiner throws again here, caught by the test
        return outcome;
      }));
    }
    std::thread stopper([&joiners, round] {
      for (std::size_t k = 0; k < joiners.size(); ++k)
        if ((round + static_cast<int>(k)) % 3 != 0) joiners[k].request_stop();
    });
    stopper.join();
    for (auto& j : joiners) {
      try {
        const int outcome = get_within(j, "joiner");
        EXPECT_TRUE(outcome == 0 || outcome == 1);
      } catch (const fb::CancelledError&) {  // the second wait of a stopped joiner
      }
    }
  }
}

TEST_P(TaskJoinShape, ManyJoinersOfOneTaskAllWake) {
  auto gate = std::make_shared<FiberEvent>();
  auto shared = std::make_shared<fb::Task<int>>(rt.spawn([gate] {
    gate->wait("gate");
    return 5;
  }));
  std::vector<fb::Task<bool>> joiners;
  for (int i = 0; i < 8; ++i)
    joiners.push_back(rt.spawn([shared, i] {
      return i % 2 == 0 ? shared->wait_for(kDeadline) : (shared->wait(), shared->ready());
    }));
  for (int i = 0; i < 4; ++i) boost::this_fiber::yield();
  gate->set();
  for (auto& j : joiners) EXPECT_TRUE(get_within(j, "joiner"));
  EXPECT_EQ(shared->get(), 5);
}

TEST_P(TaskJoinShape, ALargeBodyIsReleasedBeforeTheJoinReturns) {
  auto sentinel = std::make_shared<int>(1);
  std::weak_ptr<int> watch = sentinel;
  std::array<char, 512> big{};
  big[511] = 'z';
  auto t = rt.spawn([big, s = std::move(sentinel)](int k) { return big[511] == 'z' ? *s + k : -1; }, 2);
  EXPECT_EQ(get_within(t), 3);
  EXPECT_TRUE(watch.expired()) << "the body (callable and arguments) outlived the join";
}

}  // namespace
