// tests/observability_test.cpp — seeing inside a runtime (src/observe/): the blocking-call
// detector (RuntimeOptions::slow_fiber_threshold), Runtime::metrics and Runtime::dump.
#include "fixtures.hpp"

#include <fiberbridge/asio.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/fiber/operations.hpp>

#include <atomic>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace fbtest;
namespace asio = boost::asio;
using asio::ip::tcp;

// Collects slow-fiber reports; `first` is set by the first one.
struct Reports {
  std::mutex m;
  std::vector<fb::SlowFiberReport> all;
  ThreadEvent first;
  std::function<void(const fb::SlowFiberReport&)> sink() {
    return [this](const fb::SlowFiberReport& r) {
      {
        std::lock_guard g(m);
        all.push_back(r);
      }
      first.set();
    };
  }
  std::size_t count() {
    std::lock_guard g(m);
    return all.size();
  }
};

fb::RuntimeOptions watched(unsigned threads, Reports& reports) {
  fb::RuntimeOptions o;
  o.threads = threads;
  o.name = "fb-watched";
  o.slow_fiber_threshold = 100ms;
  o.on_slow_fiber = reports.sink();
  return o;
}

TEST(SlowFiber, ABlockingSleepOnAFiberIsReportedOnceWithItsNameSiteAndThread) {
  Reports reports;
  fb::Runtime rt{watched(2, reports)};
  const int line = __LINE__ + 1;
  auto t = rt.spawn({.name = "blocking-sleeper"}, [] { std::this_thread::sleep_for(300ms); });
  get_within(t, "the blocking fiber");
  reports.first.wait("the slow-fiber report");
  ASSERT_EQ(reports.count(), 1u) << "one stall, one report";
  const fb::SlowFiberReport& r = reports.all.front();
  EXPECT_NE(r.fiber_id, 0u);
  EXPECT_NE(r.where.find("blocking-sleeper"), std::string::npos) << r.where;
  EXPECT_NE(r.where.find("observability_test.cpp:" + std::to_string(line)), std::string::npos) << r.where;
  EXPECT_EQ(r.thread_name.rfind("fb-watched-", 0), 0u) << r.thread_name;
  EXPECT_GE(r.running_for, 90ms);
  const std::string text = r.to_string();
  EXPECT_NE(text.find("sync_to_async"), std::string::npos) << "the report says what to do: " << text;
#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
  // The stack of the blocked thread, taken while it sleeps (glibc's sleep is clock_nanosleep).
  EXPECT_NE(r.stacktrace.find("nanosleep"), std::string::npos) << r.stacktrace;
#endif
  EXPECT_EQ(rt.metrics().slow_fiber_reports, 1u);
}

TEST(SlowFiber, AnUnnamedFiberIsIdentifiedByItsCallable) {
  Reports reports;
  fb::Runtime rt{watched(1, reports)};
  get_within(rt.spawn([] { std::this_thread::sleep_for(250ms); }), "the blocking fiber");
  reports.first.wait("the slow-fiber report");
  std::lock_guard g(reports.m);
  // A lambda's type names the function it was written in.
  EXPECT_NE(reports.all.front().where.find("AnUnnamedFiberIsIdentifiedByItsCallable"), std::string::npos)
      << reports.all.front().where;
}

TEST(SlowFiber, FiberSleepsAndBridgeWaitsAreNotReported) {
  Reports reports;
  fb::Runtime rt{watched(2, reports)};
  auto sleeper = rt.spawn([] { boost::this_fiber::sleep_for(300ms); });
  auto bridged = rt.spawn([] { fb::sync_to_async([] { std::this_thread::sleep_for(300ms); })(); });
  get_within(sleeper, "a fiber sleeping with boost::this_fiber::sleep_for");
  get_within(bridged, "a fiber waiting for a blocking body in sync_to_async");
  // A report would have been made during the 300 ms (the threshold is 100 ms).
  EXPECT_EQ(reports.count(), 0u);
  EXPECT_EQ(rt.metrics().slow_fiber_reports, 0u);
}

TEST(SlowFiber, AZeroThresholdTurnsTheDetectorOff) {
  Reports reports;
  fb::RuntimeOptions o = watched(1, reports);
  o.slow_fiber_threshold = 0ms;
  fb::Runtime rt{o};
  get_within(rt.spawn([] { std::this_thread::sleep_for(250ms); }), "the blocking fiber");
  EXPECT_EQ(reports.count(), 0u);
}

TEST(Metrics, SpawnsAndLiveFibersAreExact) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 2}};
  EXPECT_EQ(rt.metrics().spawned, 0u);
  constexpr int kOuter = 50;
  std::vector<fb::Task<void>> tasks;
  for (int i = 0; i < kOuter; ++i)
    tasks.push_back(rt.spawn([] { fb::spawn([] {}).get(); }));  // one child each, from a fiber
  for (auto& t : tasks) get_within(t);
  const fb::RuntimeMetrics m = rt.metrics();
  EXPECT_EQ(m.threads, 2u);
  EXPECT_EQ(m.spawned, 2u * kOuter);
  EXPECT_EQ(m.ready_per_thread.size(), 2u);
  EXPECT_LE(m.live_fibers, 2u * kOuter);
}

TEST(Metrics, StealsAreCountedExactly) {
  // A fiber that never switches spawns M siblings: only the other thread can run them, and it
  // has to steal each one.
  constexpr int kSiblings = 20;
  fb::Runtime rt{fb::RuntimeOptions{.threads = 2}};
  auto t = rt.spawn([&rt] {
    const std::uint64_t before = rt.metrics().steals;
    std::atomic<int> ran{0};
    std::vector<fb::Task<void>> siblings;
    for (int i = 0; i < kSiblings; ++i) siblings.push_back(fb::spawn([&ran] { ran.fetch_add(1); }));
    const auto give_up = std::chrono::steady_clock::now() + kDeadline;
    while (ran.load() < kSiblings) {
      if (std::chrono::steady_clock::now() > give_up) die_hung("siblings behind a busy fiber", kDeadline);
    }
    const std::uint64_t after = rt.metrics().steals;
    for (auto& s : siblings) s.get();
    return after - before;
  });
  EXPECT_EQ(get_within(t, "the busy spawner"), static_cast<std::uint64_t>(kSiblings));
}

TEST(Metrics, PoolThreadsBusyWithBlockingBodiesAreCounted) {
  constexpr int kBodies = 4;
  fb::Runtime rt{fb::RuntimeOptions{.threads = 1}};
  ThreadEvent release;
  std::atomic<int> started{0};
  ThreadEvent all_started;
  std::vector<fb::Task<void>> tasks;
  for (int i = 0; i < kBodies; ++i)
    tasks.push_back(rt.spawn([&] {
      fb::sync_to_async(
          [&] {
            if (started.fetch_add(1) + 1 == kBodies) all_started.set();
            release.wait("the release of the pool bodies");
          },
          {.thread_sensitive = false})();
    }));
  all_started.wait("all pool bodies running");
  const fb::RuntimeMetrics m = rt.metrics();
  EXPECT_GE(m.pool_busy, static_cast<std::size_t>(kBodies));
  EXPECT_GE(m.pool_threads, m.pool_busy);
  release.set();
  for (auto& t : tasks) get_within(t);
}

TEST(Dump, ShowsAFiberInSyncToAsyncWithItsThreadAndOneInASocketRead) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 2, .name = "fb-dumped"}};
  ThreadEvent in_body;
  ThreadEvent release;
  auto db = rt.spawn({.name = "db-call"}, [&] {
    fb::sync_to_async([&] {
      in_body.set();
      release.wait("the release of the sync body");
    })();
  });
  // A connected loopback pair; the reader waits for bytes that come only at the end.
  tcp::acceptor acceptor(rt.io_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket client(rt.io_executor());
  client.connect(acceptor.local_endpoint());
  tcp::socket server = acceptor.accept();
  std::atomic<bool> reading{false};
  auto reader = rt.spawn({.name = "socket-reader"}, [&] {
    char byte = 0;
    reading = true;
    return server.async_read_some(asio::buffer(&byte, 1), fb::use_fiber);
  });
  in_body.wait("the sync body to start");
  // Each fiber marks itself waiting just before it suspends (the body may start before its
  // caller gets there): poll the dump until both show (with a deadline).
  std::string text;
  const auto give_up = std::chrono::steady_clock::now() + kDeadline;
  for (;;) {
    std::ostringstream out;
    rt.dump(out);
    text = out.str();
    if (reading && text.find("waiting in a use_fiber operation") != std::string::npos &&
        text.find("waiting in sync_to_async") != std::string::npos)
      break;
    if (std::chrono::steady_clock::now() > give_up) die_hung("both fibers to show waiting in the dump", kDeadline);
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_NE(text.find("runtime \"fb-dumped\""), std::string::npos) << text;
  const auto db_at = text.find("db-call");
  ASSERT_NE(db_at, std::string::npos) << text;
  EXPECT_NE(text.find("waiting in sync_to_async (body on fb-sync)", db_at), std::string::npos) << text;
  const auto reader_at = text.find("socket-reader");
  ASSERT_NE(reader_at, std::string::npos) << text;
  EXPECT_NE(text.find("waiting in a use_fiber operation", reader_at), std::string::npos) << text;
  EXPECT_NE(text.find("blocking pool"), std::string::npos) << "the process line: " << text;
  release.set();
  get_within(db, "the db fiber");
  const char byte = 'x';
  asio::write(client, asio::buffer(&byte, 1));
  EXPECT_EQ(get_within(reader, "the socket reader"), 1u);
  EXPECT_GE(rt.metrics().io_completions, 1u);
}

// Dump and metrics from another thread at any time, while fibers spawn, switch, bridge and end
// on every thread (run under TSan in CI).
TEST(Dump, DumpAndMetricsAreSafeFromAnyThreadUnderLoad) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 4}};
  std::atomic<bool> stop{false};
  std::thread inspector([&] {
    while (!stop.load()) {
      std::ostringstream out;
      rt.dump(out);
      (void)rt.metrics();
      if (out.str().empty()) ADD_FAILURE() << "empty dump";
    }
  });
  constexpr int kFibers = 2000 / kScaleDown;
  std::vector<fb::Task<int>> tasks;
  for (int i = 0; i < kFibers; ++i)
    tasks.push_back(rt.spawn({.name = "churn"}, [i] {
      boost::this_fiber::yield();
      if (i % 10 == 0) fb::sync_to_async([] {}, {.thread_sensitive = false})();
      return fb::spawn([i] { return i; }).get();
    }));
  long sum = 0;
  for (auto& t : tasks) sum += get_within(t);
  stop = true;
  inspector.join();
  EXPECT_EQ(sum, static_cast<long>(kFibers) * (kFibers - 1) / 2);
}

}  // namespace
