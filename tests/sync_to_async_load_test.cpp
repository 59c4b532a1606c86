// tests/sync_to_async_load_test.cpp — SyncToAsync under load: thousands of concurrent fibers each
// bridging, blocked bodies not stalling other fibers, the blocking pool growing past its core when
// every body blocks, and short bodies in a burst running on a few threads.
#include "fixtures.hpp"

#include <boost/fiber/operations.hpp>

#include <algorithm>
#include <latch>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>
#include <vector>

namespace {

using namespace fbtest;

class SyncToAsyncShape : public ShapedTest {};
FB_INSTANTIATE_SHAPES(SyncToAsyncShape);

// ---- thousands of concurrent fibers, each bridging -------------------------------------------

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kManyFibers = 500;
#else
constexpr int kManyFibers = 3000;
#endif

TEST_P(SyncToAsyncShape, ThousandsOfFibersEachBridgeAndGetTheirOwnResult) {
  std::vector<fb::Task<long>> tasks;
  tasks.reserve(kManyFibers);
  for (int i = 0; i < kManyFibers; ++i) {
    tasks.push_back(rt.spawn([i] {
      const long a = fb::sync_to_async([](int x) { return 2L * x; }, {.thread_sensitive = false})(i);
      boost::this_fiber::yield();
      const long b = fb::sync_to_async([](int x) { return 3L * x; })(i);  // the sync thread
      return a + b;
    }));
  }
  long mismatches = 0;
  for (int i = 0; i < kManyFibers; ++i)
    if (get_within(tasks[i], "bridging fiber") != 5L * i) ++mismatches;
  EXPECT_EQ(mismatches, 0);
}

// Many fibers, few scheduler threads, blocking bodies: the scheduler threads keep running other
// fibers while bodies block, so 64 bodies that each wait for ALL the others still finish.
TEST_P(SyncToAsyncShape, BlockedBodiesDoNotStallOtherFibers) {
  constexpr int kBodies = 64;
  auto everyone = std::make_shared<std::latch>(kBodies);
  std::vector<fb::Task<void>> tasks;
  for (int i = 0; i < kBodies; ++i)
    tasks.push_back(rt.spawn([everyone] {
      fb::sync_to_async([everyone] { everyone->arrive_and_wait(); }, {.thread_sensitive = false})();
    }));
  for (auto& t : tasks) get_within(t, "64 bodies waiting for each other");
}

// The pool grows beyond its core when its bodies block: 64 bodies that can only finish once all
// 64 have started. No submit comes after the 64th, so the pool's own stall check (its monitor)
// must add the threads (or wake idle ones, when earlier tests left some).
TEST_P(SyncToAsyncShape, PoolGrowsPastItsCoreWhenEveryBodyBlocks) {
  constexpr int kBodies = 64;
  struct Gate {
    std::mutex m;
    std::set<std::thread::id> threads;
    ThreadEvent all_started;
  };
  auto gate = std::make_shared<Gate>();
  std::vector<fb::Task<void>> tasks;
  for (int i = 0; i < kBodies; ++i) {
    tasks.push_back(rt.spawn([gate] {
      fb::sync_to_async([gate] {
        {
          std::lock_guard g(gate->m);
          gate->threads.insert(std::this_thread::get_id());
          if (gate->threads.size() == static_cast<std::size_t>(kBodies)) gate->all_started.set();
        }
        gate->all_started.wait("all 64 pool bodies started (stall growth)");
      }, {.thread_sensitive = false})();
    }));
  }
  for (auto& t : tasks) get_within(t, "64 blocked pool bodies");
  EXPECT_EQ(gate->threads.size(), static_cast<std::size_t>(kBodies));
}

// Short bodies do not grow the pool: 64 fibers x 16 trivial calls arrive much faster than a
// sleeping thread wakes, yet run on a handful of threads, because beyond its core the pool adds
// threads only when its queue stalls. (The old pool started a thread whenever no worker was idle:
// such a burst ran on 64 threads, the 8 busiest of them running about a quarter of the calls.)
//
// Not simply "at most 8 distinct threads": the pool is process-wide, earlier tests grew it to 64+
// idle threads, and a burst wakes some of them (up to `core` claimed at once, each woken worker
// waking the next while jobs wait: usually 3-8 threads here, sometimes 12). And on a loaded
// machine a scheduling pause of the busy workers is indistinguishable from blocked bodies: the
// pool then rightly hands every queued job (up to 62) to idle or new threads once. So the robust
// claim is about where the bodies ran: the 8 busiest threads ran at least 3/4 of the calls (a
// spurious stall moves at most 62 of the 1024).
TEST_P(SyncToAsyncShape, ShortBodiesInABurstRunOnAFewThreads) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The pool tells blocked bodies from short ones by time (a 500 µs stall); sanitizers slow
  // every job and switch by 3-15x, so there the pool rightly grows and the bound means nothing.
  GTEST_SKIP() << "a timing policy: checked in the normal build";
#endif
  constexpr int kFibers = 64, kCalls = 16, kTotal = kFibers * kCalls;
  std::mutex m;
  std::map<std::thread::id, int> calls_by_thread;
  std::vector<fb::Task<void>> tasks;
  for (int i = 0; i < kFibers; ++i) {
    tasks.push_back(rt.spawn([&] {
      for (int c = 0; c < kCalls; ++c) {
        fb::sync_to_async([&] {
          std::lock_guard g(m);
          ++calls_by_thread[std::this_thread::get_id()];
        }, {.thread_sensitive = false})();
      }
    }));
  }
  for (auto& t : tasks) get_within(t, "64 fibers x 16 short pool calls");
  std::vector<int> counts;
  for (const auto& [id, n] : calls_by_thread) counts.push_back(n);
  std::sort(counts.begin(), counts.end(), std::greater<>());
  const int busiest8 = std::accumulate(counts.begin(), counts.begin() + std::min<std::size_t>(8, counts.size()), 0);
  EXPECT_GE(busiest8, kTotal * 3 / 4) << counts.size() << " distinct threads ran the " << kTotal << " calls";
}

}  // namespace
