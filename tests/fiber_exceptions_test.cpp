// tests/fiber_exceptions_test.cpp — the C++ exception-handling state is kept per fiber
// (src/scheduler/eh_state.hpp): a fiber that suspends inside a catch block, or in a destructor
// that runs during unwinding, sees its own std::current_exception(), `throw;` and
// std::uncaught_exceptions() afterwards, whatever ran on the thread meanwhile and whichever
// thread it resumes on; fibers running in between see none of it.
#include "fixtures.hpp"

#include <fiberbridge/asio.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/fiber/mutex.hpp>
#include <boost/fiber/operations.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace {

using namespace fbtest;

// 400 fibers, each suspending once inside its catch block (fewer under TSan).
constexpr int kFibers = 400 / (kScaleDown > 1 ? 4 : 1);

struct Tagged : std::exception {
  explicit Tagged(int i) : id(i) {}
  int id;
};

// What each fiber found wrong (empty = all fine), collected for one report.
class Findings {
 public:
  void add(std::string what) {
    std::lock_guard g(m_);
    if (list_.size() < 10) list_.push_back(std::move(what));
    ++count_;
  }
  std::string report() const {
    std::lock_guard g(m_);
    std::string r = std::to_string(count_) + " wrong observation(s)";
    for (const auto& s : list_) r += "\n  " + s;
    return r;
  }
  int count() const {
    std::lock_guard g(m_);
    return count_;
  }

 private:
  mutable std::mutex m_;
  std::vector<std::string> list_;
  int count_ = 0;
};

// Fiber `id`: checks it starts with no exception in flight, throws, and inside the catch block
// suspends with `suspend`, then checks that current_exception(), rethrow_exception and `throw;`
// give its own exception object, and that nothing is left in flight after the handler.
void throw_suspend_check(int id, const std::function<void()>& suspend, Findings& found) {
  const std::string me = "fiber " + std::to_string(id) + ": ";
  if (std::current_exception() != nullptr) found.add(me + "an exception in flight before throwing (another fiber's)");
  if (std::uncaught_exceptions() != 0) found.add(me + "uncaught_exceptions() != 0 before throwing");
  try {
    throw Tagged(id);
  } catch (const Tagged& caught) {
    suspend();
    const std::exception_ptr current = std::current_exception();
    if (current == nullptr) {
      found.add(me + "current_exception() is empty after resuming in the handler");
    } else {
      try {
        std::rethrow_exception(current);
      } catch (const Tagged& again) {
        if (&again != &caught) found.add(me + "rethrow_exception gave object " + std::to_string(again.id));
      } catch (...) {
        found.add(me + "rethrow_exception gave an object of another type");
      }
    }
    try {
      throw;
    } catch (const Tagged& again) {
      if (&again != &caught) found.add(me + "`throw;` rethrew object " + std::to_string(again.id));
    } catch (...) {
      found.add(me + "`throw;` rethrew an object of another type");
    }
  }
  if (std::current_exception() != nullptr) found.add(me + "current_exception() not empty after the handler");
}

// Runs kFibers fibers of throw_suspend_check on `rt` and expects no finding.
void expect_own_exceptions(fb::Runtime& rt, const std::function<void()>& suspend) {
  Findings found;
  std::vector<fb::Task<void>> tasks;
  tasks.reserve(kFibers);
  for (int i = 0; i < kFibers; ++i)
    tasks.push_back(rt.spawn([i, &suspend, &found] { throw_suspend_check(i, suspend, found); }));
  for (auto& t : tasks) get_within(t, "fiber suspending in a catch block");
  EXPECT_EQ(found.count(), 0) << found.report();
}

class ExceptionsPerFiber : public ShapedTest {};
FB_INSTANTIATE_SHAPES(ExceptionsPerFiber);

TEST_P(ExceptionsPerFiber, SurviveASyncToAsyncCallInTheHandler) {
  expect_own_exceptions(rt, [] { fb::sync_to_async([] {})(); });
}

TEST_P(ExceptionsPerFiber, SurviveANonSensitiveSyncToAsyncCallInTheHandler) {
  expect_own_exceptions(rt, [] { fb::sync_to_async([] {}, {.thread_sensitive = false})(); });
}

TEST_P(ExceptionsPerFiber, SurviveTaskGetInTheHandler) {
  expect_own_exceptions(rt, [] {
    auto child = fb::spawn([] {
      boost::this_fiber::yield();
      return 1;
    });
    (void)child.get();
  });
}

TEST_P(ExceptionsPerFiber, SurviveYieldInTheHandler) {
  expect_own_exceptions(rt, [] {
    for (int i = 0; i < 3; ++i) boost::this_fiber::yield();
  });
}

TEST_P(ExceptionsPerFiber, SurviveSleepInTheHandler) {
  expect_own_exceptions(rt, [] { boost::this_fiber::sleep_for(1ms); });
}

TEST_P(ExceptionsPerFiber, SurviveAUseFiberOperationInTheHandler) {
  expect_own_exceptions(rt, [] {
    boost::asio::steady_timer timer(fb::io_executor(), 1ms);
    timer.async_wait(fb::use_fiber);
  });
}

TEST_P(ExceptionsPerFiber, SurviveAContendedFiberMutexInTheHandler) {
  boost::fibers::mutex shared;
  expect_own_exceptions(rt, [&shared] {
    std::lock_guard g(shared);  // the others suspend in lock() while this one yields holding it
    boost::this_fiber::yield();
  });
}

TEST_P(ExceptionsPerFiber, NestedHandlersKeepTheirOrderAcrossSuspensions) {
  Findings found;
  std::vector<fb::Task<void>> tasks;
  for (int i = 0; i < kFibers / 4; ++i) {
    tasks.push_back(rt.spawn([i, &found] {
      try {
        throw Tagged(2 * i);
      } catch (const Tagged& outer) {
        boost::this_fiber::yield();
        try {
          throw Tagged(2 * i + 1);
        } catch (const Tagged& inner) {
          boost::this_fiber::sleep_for(1ms);
          try {
            throw;
          } catch (const Tagged& t) {
            if (&t != &inner) found.add("inner `throw;` gave " + std::to_string(t.id));
          }
        }
        boost::this_fiber::yield();
        try {
          throw;
        } catch (const Tagged& t) {
          if (&t != &outer) found.add("outer `throw;` after the inner handler gave " + std::to_string(t.id));
        }
      }
    }));
  }
  for (auto& t : tasks) get_within(t, "fiber with nested handlers");
  EXPECT_EQ(found.count(), 0) << found.report();
}

// A destructor that suspends while the stack unwinds: it reads uncaught_exceptions() == 1
// before and after, while fibers that run during its suspension read 0.
TEST_P(ExceptionsPerFiber, UncaughtCountStaysWithTheUnwindingFiber) {
  constexpr int kUnwinders = 50;
  Findings found;
  std::atomic<int> bystanders_ran{0};
  std::vector<fb::Task<void>> tasks;
  for (int i = 0; i < kUnwinders; ++i) {
    tasks.push_back(rt.spawn([i, &found, &bystanders_ran] {
      struct SuspendsWhileUnwinding {
        int id;
        Findings& found;
        std::atomic<int>& bystanders_ran;
        ~SuspendsWhileUnwinding() {
          if (std::uncaught_exceptions() != 1) found.add("unwinder " + std::to_string(id) + ": count before != 1");
          // A bystander runs (on this thread on a 1-thread runtime) while this fiber waits.
          auto bystander = fb::spawn([this] {
            if (std::uncaught_exceptions() != 0) found.add("a bystander read uncaught_exceptions() != 0");
            if (std::current_exception() != nullptr) found.add("a bystander saw an exception in flight");
            bystanders_ran.fetch_add(1);
          });
          bystander.get();
          boost::this_fiber::yield();
          if (std::uncaught_exceptions() != 1) found.add("unwinder " + std::to_string(id) + ": count after != 1");
        }
      };
      try {
        SuspendsWhileUnwinding guard{i, found, bystanders_ran};
        throw Tagged(i);
      } catch (const Tagged& t) {
        if (t.id != i) found.add("unwinder caught another fiber's exception");
      }
      if (std::uncaught_exceptions() != 0) found.add("uncaught_exceptions() != 0 after the handler");
    }));
  }
  for (auto& t : tasks) get_within(t, "fiber whose destructor suspends while unwinding");
  EXPECT_EQ(bystanders_ran.load(), kUnwinders);
  EXPECT_EQ(found.count(), 0) << found.report();
}

// Boost's launch::dispatch switches to a new fiber without asking the scheduler: the new fiber
// still starts with no exception in flight, and its spawner keeps its own.
TEST_P(ExceptionsPerFiber, ADispatchLaunchedRawFiberStartsCleanAndTheSpawnerKeepsItsOwn) {
  Findings found;
  auto t = rt.spawn([&found] {
    try {
      throw Tagged(7);
    } catch (const Tagged& caught) {
      boost::fibers::fiber raw(boost::fibers::launch::dispatch, [&found] {
        if (std::current_exception() != nullptr) found.add("a dispatch-launched fiber started with an exception");
        boost::this_fiber::yield();
        if (std::current_exception() != nullptr) found.add("a dispatch-launched fiber resumed with an exception");
      });
      try {
        throw;
      } catch (const Tagged& again) {
        if (&again != &caught) found.add("the spawner lost its exception to the dispatch launch");
      }
      raw.join();
      if (std::current_exception() == nullptr) found.add("the spawner's exception is gone after join");
    }
  });
  get_within(t, "dispatch launch in a handler");
  EXPECT_EQ(found.count(), 0) << found.report();
}

}  // namespace
