// tests/errors_test.cpp — misuse gets the documented error with a message that says what to do,
// never a terminate or a hang: NotInFiberError, AsyncToSyncInFiberError (asgiref #19),
// executor + thread_sensitive (asgiref #43), misplaced ThreadSensitiveContext /
// AsyncSingleThreadContext, executors that throw or drop the work, empty Task handles; and
// exceptions crossing both bridges unchanged, whatever their type (`throw 42`).
#include "fixtures.hpp"

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>

namespace {

using namespace fbtest;

static_assert(std::is_base_of_v<std::logic_error, fb::AsyncToSyncInFiberError>);
static_assert(std::is_base_of_v<std::logic_error, fb::NotInFiberError>);
static_assert(std::is_base_of_v<std::runtime_error, fb::WouldDeadlockError>);
static_assert(std::is_base_of_v<std::runtime_error, fb::CancelledError>);

class Errors : public ShapedTest {};
FB_INSTANTIATE_SHAPES(Errors);

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// Runs `f` on a fiber of `rt`; returns the what() of the exception of type E it throws.
template <class E, class F>
std::string what_on_fiber(fb::Runtime& rt, F f) {
  auto t = rt.spawn([f]() mutable -> std::string {
    try {
      f();
    } catch (const E& e) {
      return e.what();
    }
    return "(no exception)";
  });
  return get_within(t, "misuse case");
}

// Runs `f` and returns the exception of type E it throws, or nullopt; another type fails the test.
template <class E, class F>
std::optional<E> caught(F f) {
  try {
    f();
  } catch (const E& e) {
    return e;
  } catch (...) {
    ADD_FAILURE() << "the exception changed its type";
  }
  return std::nullopt;
}

// ---- bridges used on the wrong side -----------------------------------------------------------

TEST(Errors, SyncToAsyncOffAFiberThrowsNotInFiberErrorSayingWhatToDo) {
  run_with_deadline([] {
    bool body_ran = false;
    try {
      fb::sync_to_async([&] { body_ran = true; })();
      ADD_FAILURE() << "no NotInFiberError";
    } catch (const fb::NotInFiberError& e) {
      EXPECT_TRUE(contains(e.what(), "fiber")) << e.what();
      EXPECT_TRUE(contains(e.what(), "call the function directly")) << e.what();
    }
    EXPECT_FALSE(body_ran);
  });
}

// A sync body runs on a plain thread: sync_to_async there is misuse too (in_fiber() is false).
TEST_P(Errors, SyncToAsyncInsideASyncBodyThrowsNotInFiberError) {
  auto t = rt.spawn([] {
    return fb::sync_to_async([] {
      try {
        fb::sync_to_async([] {})();
      } catch (const fb::NotInFiberError&) {
        return true;
      }
      return false;
    })();
  });
  EXPECT_TRUE(get_within(t));
}

// #19 test_async_to_sync_in_async: async_to_sync on a fiber raises instead of deadlocking.
TEST_P(Errors, AsyncToSyncOnAFiberThrowsAsyncToSyncInFiberError) {
  bool body_ran = false;
  EXPECT_EQ(what_on_fiber<fb::AsyncToSyncInFiberError>(rt, [&body_ran] { fb::async_to_sync([&body_ran] { body_ran = true; })(); }),
            "You cannot use async_to_sync on a fiber - call the function directly.");
  EXPECT_FALSE(body_ran);
}

TEST_P(Errors, AsyncToSyncWithForceNewLoopOnAFiberStillThrows) {
  EXPECT_NE(what_on_fiber<fb::AsyncToSyncInFiberError>(
                rt, [] { fb::async_to_sync([] {}, {.force_new_loop = true})(); }),
            "(no exception)");
}

// ---- options ---------------------------------------------------------------------------------

struct NeverRuns : fb::Executor {
  void execute(std::function<void()>) override { ADD_FAILURE() << "execute must not be called"; }
};

// #43: executor together with thread_sensitive is rejected at construction, and in the decorator
// form at decoration time.
TEST(Errors, ExecutorWithThreadSensitiveIsRejectedAtConstruction) {
  NeverRuns ex;
  EXPECT_THROW(fb::sync_to_async([] {}, {.thread_sensitive = true, .executor = &ex}), std::invalid_argument);
  EXPECT_THROW(fb::SyncToAsync([] {}, fb::SyncToAsyncOptions{.thread_sensitive = true, .executor = &ex}),
               std::invalid_argument);
  EXPECT_THROW((void)fb::sync_to_async(fb::SyncToAsyncOptions{.thread_sensitive = true, .executor = &ex}),
               std::invalid_argument);
  try {
    (void)fb::sync_to_async([] {}, {.thread_sensitive = true, .executor = &ex});
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(contains(e.what(), "thread_sensitive = false")) << e.what();
  }
  EXPECT_NO_THROW((void)fb::sync_to_async([] {}, {.thread_sensitive = false, .executor = &ex}));
}

// ---- misplaced contexts ----------------------------------------------------------------------

TEST(Errors, ThreadSensitiveContextOffAFiberThrowsNotInFiberError) {
  run_with_deadline([] { EXPECT_THROW(fb::ThreadSensitiveContext{}, fb::NotInFiberError); });
}

TEST_P(Errors, AsyncSingleThreadContextOnAFiberThrowsAsyncToSyncInFiberError) {
  const auto msg = what_on_fiber<fb::AsyncToSyncInFiberError>(rt, [] { fb::AsyncSingleThreadContext scope; });
  EXPECT_TRUE(contains(msg, "plain thread")) << msg;
}

// A failed construction leaves nothing behind: the fiber's sensitive calls still route normally.
TEST_P(Errors, FailedAsyncSingleThreadContextLeavesRoutingIntact) {
  auto t = rt.spawn([] {
    try {
      fb::AsyncSingleThreadContext scope;
    } catch (const fb::AsyncToSyncInFiberError&) {
    }
    return fb::sync_to_async([] { return 5; })();
  });
  EXPECT_EQ(get_within(t), 5);
}

// ---- failing executors -----------------------------------------------------------------------

// If execute throws, the calling fiber gets that exception (the same object).
TEST_P(Errors, ExecutorWhoseExecuteThrowsFailsTheCallingFiberWithThatException) {
  struct Full : std::runtime_error {
    Full() : std::runtime_error("executor is full") {}
  };
  struct Throwing : fb::Executor {
    std::atomic<const void*> thrown{nullptr};
    void execute(std::function<void()>) override { throw_noting_address(Full(), thrown); }
  };
  auto ex = std::make_shared<Throwing>();
  auto t = rt.spawn([ex] {
    try {
      fb::sync_to_async([] { return 1; }, {.thread_sensitive = false, .executor = ex.get()})();
    } catch (const Full& f) {
      return static_cast<const void*>(&f);
    }
    return static_cast<const void*>(nullptr);
  });
  const void* caught = get_within(t);
  ASSERT_NE(caught, nullptr);
  EXPECT_EQ(caught, ex->thrown.load());
}

// If the executor destroys the work without running it, the fiber gets a std::runtime_error
// instead of waiting forever: synchronously inside execute, or later on another thread.
TEST_P(Errors, ExecutorThatDropsTheWorkFailsTheCallingFiber) {
  struct DropsAtOnce : fb::Executor {
    void execute(std::function<void()> work) override { work = nullptr; }
  } at_once;
  struct DropsLater : fb::Executor {
    std::vector<std::thread> threads;
    void execute(std::function<void()> work) override {
      threads.emplace_back([w = std::move(work)]() mutable { w = nullptr; });
    }
    ~DropsLater() override {
      for (auto& t : threads) t.join();
    }
  } later;
  bool body_ran = false;
  const auto m1 = what_on_fiber<std::runtime_error>(
      rt, [&] { fb::sync_to_async([&] { body_ran = true; }, {.thread_sensitive = false, .executor = &at_once})(); });
  const auto m2 = what_on_fiber<std::runtime_error>(
      rt, [&] { fb::sync_to_async([&] { body_ran = true; }, {.thread_sensitive = false, .executor = &later})(); });
  EXPECT_TRUE(contains(m1, "without running it")) << m1;
  EXPECT_TRUE(contains(m2, "without running it")) << m2;
  EXPECT_FALSE(body_ran);
}

// An executor that runs the work twice must not run the body twice or corrupt the call.
TEST_P(Errors, ExecutorRunningTheWorkTwiceRunsTheBodyOnce) {
  struct Twice : fb::Executor {
    void execute(std::function<void()> work) override {
      work();
      work();
    }
  } twice;
  std::atomic<int> runs{0};
  auto t = rt.spawn([&] { return fb::sync_to_async([&] { return ++runs; }, {.thread_sensitive = false, .executor = &twice})(); });
  EXPECT_EQ(get_within(t), 1);
  EXPECT_EQ(runs.load(), 1);
}

// ---- exceptions of any type cross both bridges unchanged -------------------------------------

TEST_P(Errors, ThrowIntCrossesSyncToAsyncUnchanged) {
  auto t = rt.spawn([] { return caught<int>([] { fb::sync_to_async([] { throw 42; })(); }); });
  EXPECT_EQ(get_within(t), 42);
}

TEST_P(Errors, ThrowIntCrossesAsyncToSyncUnchanged) {
  run_with_deadline([&] {
    EXPECT_EQ(caught<int>([&] { fb::async_to_sync([] { throw 42; }, {.runtime = &rt})(); }), 42);
    EXPECT_EQ(caught<std::string>([&] { fb::async_to_sync([] { throw std::string("raw string"); }, {.runtime = &rt})(); }),
              "raw string");
  });
}

// Both bridges at once, four layers deep: the same object reaches the outermost caller.
TEST_P(Errors, ExceptionCrossesFourLayersAsTheSameObject) {
  struct Deep {
    int depth;
  };
  run_with_deadline([&] {
    const void* thrown = nullptr;
    try {
      fb::async_to_sync([&thrown] {
        fb::sync_to_async([&thrown] {
          fb::async_to_sync([&thrown] {
            fb::sync_to_async([&thrown] { throw_noting_address(Deep{4}, thrown); })();
          })();
        })();
      }, {.runtime = &rt})();
      ADD_FAILURE() << "nothing thrown";
    } catch (const Deep& d) {
      EXPECT_EQ(d.depth, 4);
      EXPECT_EQ(static_cast<const void*>(&d), thrown);
    }
  });
}

TEST_P(Errors, ThrowIntCrossesFourLayersUnchanged) {
  auto t = rt.spawn([] {
    return caught<int>([] {
      fb::sync_to_async([] {
        fb::async_to_sync([] { fb::sync_to_async([] { fb::async_to_sync([] { throw 42; })(); })(); })();
      })();
    });
  });
  EXPECT_EQ(get_within(t), 42);
}

// ---- Task misuse and error messages ----------------------------------------------------------

TEST(Errors, EmptyTaskHandleThrowsLogicErrorNamingTheOperation) {
  fb::Task<int> empty;
  try {
    empty.get();
    ADD_FAILURE() << "no logic_error";
  } catch (const std::logic_error& e) {
    EXPECT_TRUE(contains(e.what(), "get")) << e.what();
  }
}

TEST(Errors, ErrorTypesCarryTheirDocumentedMessages) {
  EXPECT_STREQ(fb::WouldDeadlockError().what(), "Single thread executor already being used, would deadlock");
  EXPECT_STREQ(fb::AsyncToSyncInFiberError().what(), "You cannot use async_to_sync on a fiber - call the function directly.");
  EXPECT_GT(std::string(fb::NotInFiberError().what()).size(), 20u);
  EXPECT_GT(std::string(fb::CancelledError().what()).size(), 10u);
  EXPECT_STREQ(fb::CancelledError("custom").what(), "custom");
}

}  // namespace
