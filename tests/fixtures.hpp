// tests/fixtures.hpp — shared helpers for the concept test files (<concept>_test.cpp).
//
// Rules the helpers enforce:
//  * Nothing waits without a deadline. A wait that misses its deadline prints which test hung and
//    what it was waiting for, then calls std::_Exit(3), so CTest fails fast instead of timing out.
//    A per-test watchdog (a GoogleTest listener, armed for every test of a binary that includes
//    this header) catches hangs that no helper guards, e.g. in ~Runtime.
//  * Synchronisation uses latches, condition variables and Boost.Fiber primitives, never sleeps.
//    std:: primitives for plain threads and sync bodies, boost::fibers ones for fibers.
//  * Behaviour that should not depend on the runtime's shape is tested with TEST_P over 1, 2 and
//    4 scheduler threads (ShapedTest + FB_INSTANTIATE_SHAPES). A shaped test must leave nothing
//    behind: no live fiber at tear-down, no thread once its runtime is gone (leak_check.hpp).
#pragma once

#include <gtest/gtest.h>

#include <fiberbridge/fiberbridge.hpp>

#include "leak_check.hpp"

#include <boost/fiber/condition_variable.hpp>
#include <boost/fiber/mutex.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace fb = fiberbridge;

namespace fbtest {

using namespace std::chrono_literals;

/// The deadline of a single wait (generous: a correct wait takes milliseconds).
#if defined(__SANITIZE_THREAD__)
inline constexpr std::chrono::seconds kDeadline{90};  // TSan: fiber switches and thread wakes are slow
#else
inline constexpr std::chrono::seconds kDeadline{20};
#endif
// Under ThreadSanitizer (heavy per-fiber state) the many-fiber tests run fewer fibers.
#if defined(__SANITIZE_THREAD__)
inline constexpr int kScaleDown = 8;
#else
inline constexpr int kScaleDown = 1;
#endif
/// The deadline of a whole plain-thread scenario (run_with_deadline): longer than any single wait
/// inside it, so the innermost wait that hangs is the one reported.
inline constexpr std::chrono::seconds kScenarioDeadline{40};
/// The deadline of a whole test (the watchdog); CTest's own timeout is 120 s.
inline constexpr std::chrono::seconds kTestDeadline{60};

/// "Suite.Name" of the running test, or "(no test)".
inline std::string current_test_name() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (info == nullptr) return "(no test)";
  return std::string(info->test_suite_name()) + "." + info->name();
}

/// Reports a hang and ends the process at once (exit code 3): a deadlock fails, it never stalls CI.
[[noreturn]] inline void die_hung(const std::string& what, std::chrono::seconds after) {
  std::fprintf(stderr, "\n[fiberbridge-test] HANG in %s: %s did not finish within %lld s (deadlock?)\n",
               current_test_name().c_str(), what.c_str(), static_cast<long long>(after.count()));
  std::fflush(stderr);
  std::_Exit(3);
}

// ---------------------------------------------------------------------------------------------
// Per-test watchdog.

class Watchdog final : public ::testing::EmptyTestEventListener {
 public:
  Watchdog() : thread_([this] { loop(); }) {}
  ~Watchdog() override {
    {
      std::lock_guard g(m_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void OnTestStart(const ::testing::TestInfo& info) override {
    std::lock_guard g(m_);
    name_ = std::string(info.test_suite_name()) + "." + info.name();
    deadline_ = std::chrono::steady_clock::now() + kTestDeadline;
    armed_ = true;
    cv_.notify_all();
  }
  void OnTestEnd(const ::testing::TestInfo&) override {
    std::lock_guard g(m_);
    armed_ = false;
    cv_.notify_all();
  }

 private:
  void loop() {
    std::unique_lock lk(m_);
    while (!quit_) {
      if (!armed_) {
        cv_.wait(lk);
        continue;
      }
      if (cv_.wait_until(lk, deadline_) == std::cv_status::timeout && armed_ && !quit_ &&
          std::chrono::steady_clock::now() >= deadline_) {
        std::fprintf(stderr, "\n[fiberbridge-test] WATCHDOG: %s still running after %lld s (deadlock?)\n",
                     name_.c_str(), static_cast<long long>(kTestDeadline.count()));
        std::fflush(stderr);
        std::_Exit(3);
      }
    }
  }

  std::mutex m_;
  std::condition_variable cv_;
  bool armed_ = false;
  bool quit_ = false;
  std::string name_;
  std::chrono::steady_clock::time_point deadline_{};
  std::thread thread_;
};

// Registers the watchdog once per binary, before main (gtest owns and deletes the listener).
inline const bool kWatchdogInstalled = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new Watchdog);
  return true;
}();

// ---------------------------------------------------------------------------------------------
// Deadlined waits.

/// Runs `f` on a new plain std::thread (empty context, no runtime, no async_to_sync frame) and
/// waits for it with a deadline. An exception escaping `f` is rethrown here (the same object).
template <class F>
void run_with_deadline(std::chrono::seconds deadline, F&& f, const char* what = "plain-thread scenario") {
  struct Shared {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    std::exception_ptr error;
  };
  auto shared = std::make_shared<Shared>();
  std::thread t([shared, fn = std::forward<F>(f)]() mutable {
    try {
      fn();
    } catch (...) {
      shared->error = std::current_exception();
    }
    std::lock_guard g(shared->m);
    shared->done = true;
    shared->cv.notify_all();
  });
  {
    std::unique_lock lk(shared->m);
    if (!shared->cv.wait_for(lk, deadline, [&] { return shared->done; })) die_hung(what, deadline);
  }
  t.join();
  if (shared->error) std::rethrow_exception(shared->error);
}

template <class F>
void run_with_deadline(F&& f, const char* what = "plain-thread scenario") {
  run_with_deadline(kScenarioDeadline, std::forward<F>(f), what);
}

/// Runs `f(i)` for each i in [0, n) on its own plain thread, all at once, and joins them (call it
/// inside run_with_deadline).
template <class F>
void on_threads(int n, F f) {
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) threads.emplace_back(f, i);
  for (auto& t : threads) t.join();
}

/// Waits for `task` (on a plain thread or a fiber) and returns its result, or rethrows its
/// exception. Dies with a message if it does not finish within the deadline.
template <class R>
R get_within(fb::Task<R>& task, const char* what = "task", std::chrono::seconds deadline = kDeadline) {
  if (!task.wait_for(deadline)) die_hung(what, deadline);
  return task.get();
}
template <class R>
R get_within(fb::Task<R>&& task, const char* what = "task", std::chrono::seconds deadline = kDeadline) {
  return get_within(task, what, deadline);
}

/// Throws `e`, first noting the thrown object's address in `thrown`: a catcher across the bridges
/// compares it with the address of what it caught (the very same object must arrive).
template <class E, class Address>
[[noreturn]] void throw_noting_address(E e, Address& thrown) {
  try {
    throw std::move(e);
  } catch (const E& x) {
    thrown = static_cast<const void*>(&x);
    throw;
  }
}

/// The address of the (std::exception-derived) object `e` holds.
inline const void* address_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return &x;
  }
}

/// Waits on `cv` until `pred` holds; dies with a message at the deadline (either kind of lock).
template <class Lock, class CV, class Pred>
void wait_or_die(Lock& lk, CV& cv, Pred pred, const char* what, std::chrono::seconds deadline) {
  if (!cv.wait_for(lk, deadline, pred)) {
    lk.unlock();
    die_hung(what, deadline);
  }
}

/// Waits for a std::future (of a plain thread, or a coroutine spawned on Asio) and returns its
/// result, or rethrows; dies with a message at the deadline.
template <class T>
T future_within(std::future<T>& f, const char* what = "future", std::chrono::seconds deadline = kDeadline) {
  if (f.wait_for(deadline) != std::future_status::ready) die_hung(what, deadline);
  return f.get();
}
template <class T>
T future_within(std::future<T>&& f, const char* what = "future", std::chrono::seconds deadline = kDeadline) {
  return future_within(f, what, deadline);
}

/// Runs `f` on a new plain thread and returns its result (or rethrows), within the scenario
/// deadline: run_with_deadline for bodies that return a value.
template <class F>
auto run_within(F f, const char* what = "plain-thread scenario") {
  return future_within(std::async(std::launch::async, std::move(f)), what, kScenarioDeadline);
}

/// A one-shot event: set() once, wait() with a deadline (dies with a message when it passes).
template <class Mutex, class CondVar>
class BasicEvent {
 public:
  void set() {
    std::unique_lock lk(m_);
    set_ = true;
    cv_.notify_all();
  }
  bool is_set() const {
    std::unique_lock lk(m_);
    return set_;
  }
  void wait(const char* what = "event", std::chrono::seconds deadline = kDeadline) const {
    std::unique_lock lk(m_);
    wait_or_die(lk, cv_, [&] { return set_; }, what, deadline);
  }
  /// Waits at most `d`; true when set (for bodies that must end even if nobody sets it).
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const {
    std::unique_lock lk(m_);
    return cv_.wait_for(lk, d, [&] { return set_; });
  }

 private:
  mutable Mutex m_;
  mutable CondVar cv_;
  bool set_ = false;
};

/// For plain threads and sync bodies (std:: primitives; setting it from a fiber is fine, waiting
/// on a fiber is not: that would block its scheduler thread).
using ThreadEvent = BasicEvent<std::mutex, std::condition_variable>;
/// For fibers (Boost.Fiber primitives: waiting suspends only the fiber); set from anywhere.
using FiberEvent = BasicEvent<boost::fibers::mutex, boost::fibers::condition_variable>;

/// A sync body that blocks until released, and says when it started and finished. Shared (a
/// std::shared_ptr): a cancelled fiber's body runs on, detached, and may outlive the test's frame.
struct BlockingBody {
  ThreadEvent started, release, finished;

  /// Spawns on `rt` a fiber that runs this body through sync_to_async(options); it returns 1.
  static fb::Task<int> spawn(fb::Runtime& rt, std::shared_ptr<BlockingBody> b, fb::SyncToAsyncOptions options = {}) {
    return rt.spawn([b, options] {
      return fb::sync_to_async([b] {
        b->started.set();
        b->release.wait("body release");
        b->finished.set();
        return 1;
      }, options)();
    });
  }
};

/// Blocks a sync body until `st` is stopped (or the deadline passes); true when stopped. No polling.
inline bool wait_for_stop(std::stop_token st, std::chrono::seconds deadline = kDeadline) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lk(m);
  (void)cv.wait_for(lk, st, deadline, [] { return false; });
  return st.stop_requested();
}

// ---------------------------------------------------------------------------------------------
// Where code runs.

inline std::thread::id here() { return std::this_thread::get_id(); }

/// The process-wide sync thread (rule 5), asked from a fiber outside any scope. Suites that
/// compare with it ask once before their first test (SetUp): ids of exited threads are reused,
/// so it must not be asked for the first time after, say, a ThreadSensitiveContext's thread has
/// retired.
inline std::thread::id sync_thread_id() {
  static const std::thread::id id = [] {
    fb::Runtime probe{fb::RuntimeOptions{.threads = 1}};
    return get_within(probe.spawn([] { return fb::sync_to_async(here)(); }), "sync thread probe");
  }();
  return id;
}

// ---------------------------------------------------------------------------------------------
// Runtime shapes.

/// A test fixture owning a Runtime with GetParam() scheduler threads. At tear-down no fiber of
/// the runtime may still be live and the blocking pool may have no stray threads, and once the
/// runtime is destroyed no thread started during the test may be left (ThreadLeakCheck).
class ShapedTest : public ::testing::TestWithParam<unsigned> {
 protected:
  void TearDown() override {
    fb::RuntimeMetrics m;  // a fiber that has handed over its result may still be finishing
    poll_until([&] { return (m = rt.metrics()).live_fibers == 0; }, kDeadline);
    EXPECT_EQ(m.live_fibers, 0u) << "fibers outlived the test";
    leak_check_.check_pool([this] { return rt.metrics().pool_threads; });
  }

 private:
  ThreadLeakCheck leak_check_{kDeadline};  // declared before rt: constructed before it, checks after ~Runtime

 protected:
  fb::Runtime rt{fb::RuntimeOptions{.threads = GetParam()}};
};

/// A ShapedTest whose tests compare thread ids with sync_thread_id(): asks it before each test.
class SyncThreadShapedTest : public ShapedTest {
 protected:
  void SetUp() override { (void)sync_thread_id(); }
};

inline std::string shape_name(const ::testing::TestParamInfo<unsigned>& info) {
  return std::to_string(info.param) + (info.param == 1 ? "_thread" : "_threads");
}

}  // namespace fbtest

/// Instantiates a ShapedTest-derived suite over runtimes with 1, 2 and 4 scheduler threads.
#define FB_INSTANTIATE_SHAPES(Suite) \
  INSTANTIATE_TEST_SUITE_P(Shapes, Suite, ::testing::Values(1u, 2u, 4u), ::fbtest::shape_name)
