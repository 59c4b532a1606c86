// tests/misuse_test.cpp — the misuse and bad-input matrix: each case gets the documented error
// with a message that says what to do, never a terminate, UB or a hang.
#include <gtest/gtest.h>

#include <fiberbridge/fiberbridge.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

namespace fb = fiberbridge;
using namespace std::chrono_literals;

namespace {

constexpr auto kDeadline = 20s;

template <class R>
R get_within(fb::Task<R>& task, const char* what) {
  if (!task.wait_for(kDeadline)) {
    std::fprintf(stderr, "%s hung; aborting the test binary\n", what);
    std::_Exit(3);
  }
  return task.get();
}

// Runs `f` on a fiber of `rt` and returns the message of the exception of type E it throws.
template <class E, class F>
std::string message_on_fiber(fb::Runtime& rt, F f) {
  auto t = rt.spawn([f]() -> std::string {
    try {
      f();
    } catch (const E& e) {
      return e.what();
    }
    return "(no exception)";
  });
  return get_within(t, "misuse case");
}

class Misuse : public ::testing::Test {
 protected:
  fb::Runtime rt{fb::RuntimeOptions{.threads = 2}};
};

TEST_F(Misuse, AsyncToSyncOnAFiberSaysCallItDirectly) {
  EXPECT_EQ(message_on_fiber<fb::AsyncToSyncInFiberError>(rt, [] { fb::async_to_sync([] {})(); }),
            "You cannot use async_to_sync on a fiber - call the function directly.");
}

TEST_F(Misuse, SyncToAsyncOffAFiberSaysWhatToDo) {
  try {
    fb::sync_to_async([] { return 1; })();
    FAIL() << "no NotInFiberError";
  } catch (const fb::NotInFiberError& e) {
    EXPECT_NE(std::string(e.what()).find("call the function directly"), std::string::npos) << e.what();
  }
}

TEST_F(Misuse, ExecutorWithThreadSensitiveIsRejectedAtConstruction) {
  struct Never : fb::Executor {
    void execute(std::function<void()>) override {}
  } executor;
  try {
    (void)fb::sync_to_async([] {}, {.thread_sensitive = true, .executor = &executor});
    FAIL() << "no std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("thread_sensitive = false"), std::string::npos) << e.what();
  }
}

TEST_F(Misuse, ThreadSensitiveContextOffAFiberThrowsNotInFiber) {
  EXPECT_THROW(fb::ThreadSensitiveContext{}, fb::NotInFiberError);
}

TEST_F(Misuse, AsyncSingleThreadContextOnAFiberThrowsAsyncToSyncInFiber) {
  const auto msg = message_on_fiber<fb::AsyncToSyncInFiberError>(rt, [] { fb::AsyncSingleThreadContext scope; });
  EXPECT_NE(msg.find("plain thread"), std::string::npos) << msg;
}

TEST_F(Misuse, ExecutorWhoseExecuteThrowsFailsTheCallingFiber) {
  struct Throwing : fb::Executor {
    void execute(std::function<void()>) override { throw std::runtime_error("executor is full"); }
  } executor;
  const auto msg = message_on_fiber<std::runtime_error>(
      rt, [&] { fb::sync_to_async([] { return 1; }, {.thread_sensitive = false, .executor = &executor})(); });
  EXPECT_EQ(msg, "executor is full");
}

TEST_F(Misuse, ExecutorThatDropsTheWorkFailsTheCallingFiberInsteadOfHanging) {
  struct Dropping : fb::Executor {
    void execute(std::function<void()> work) override {
      std::thread([w = std::move(work)]() mutable { w = nullptr; }).join();  // destroyed, never run
    }
  } executor;
  const auto msg = message_on_fiber<std::runtime_error>(
      rt, [&] { fb::sync_to_async([] { return 1; }, {.thread_sensitive = false, .executor = &executor})(); });
  EXPECT_NE(msg.find("without running it"), std::string::npos) << msg;
}

TEST_F(Misuse, NonStandardExceptionsCrossBothBridgesUnchanged) {
  auto t = rt.spawn([] {
    try {
      fb::sync_to_async([] { throw 42; })();
    } catch (int v) {
      return v;
    }
    return -1;
  });
  EXPECT_EQ(get_within(t, "throw 42 via sync_to_async"), 42);
  try {
    fb::async_to_sync([] { throw std::string("raw string"); }, {.runtime = &rt})();
    FAIL() << "nothing thrown";
  } catch (const std::string& s) {
    EXPECT_EQ(s, "raw string");
  }
}

TEST_F(Misuse, TheSameExceptionObjectComesBack) {
  struct Marked : std::runtime_error {
    Marked() : std::runtime_error("marked") {}
  };
  const void* thrown = nullptr;
  try {
    fb::async_to_sync(
        [&] {
          fb::sync_to_async([&] {
            try {
              throw Marked();
            } catch (const Marked& m) {
              thrown = &m;
              throw;
            }
          })();
        },
        {.runtime = &rt})();
  } catch (const Marked& m) {
    EXPECT_EQ(static_cast<const void*>(&m), thrown);
  }
}

TEST_F(Misuse, EmptyTaskHandleThrowsLogicError) {
  fb::Task<int> empty;
  EXPECT_THROW(empty.get(), std::logic_error);
  auto t = rt.spawn([] { return 1; });
  EXPECT_EQ(t.get(), 1);
  EXPECT_FALSE(t.valid());
  EXPECT_THROW(t.get(), std::logic_error);
}

TEST_F(Misuse, ForeignTokenIsRejected) {
  static fb::ContextVar<int> var{"misuse.var"};
  auto token = var.set(1);
  std::thread([&] { EXPECT_THROW(var.reset(token), std::invalid_argument); }).join();
  static fb::ContextVar<int> other{"misuse.other"};
  EXPECT_THROW(other.reset(token), std::invalid_argument);
  var.reset(token);
}

TEST_F(Misuse, TinyStackSizeIsRaisedToTheUsableMinimum) {
  fb::Runtime tiny{fb::RuntimeOptions{.threads = 1, .stack_size = 1}};
  auto t = tiny.spawn([] { return fb::sync_to_async([] { return 3; })(); });  // blocks in Boost: needs ~6 KiB
  EXPECT_EQ(get_within(t, "tiny stack"), 3);
}

TEST_F(Misuse, SpawnOnAFiberOfAnotherRuntimeWorks) {
  fb::Runtime other{fb::RuntimeOptions{.threads = 1}};
  auto t = rt.spawn([&] {
    auto inner = other.spawn([&] { return fb::current_runtime() == &other; });
    return inner.get();
  });
  EXPECT_TRUE(get_within(t, "cross-runtime spawn"));
}

}  // namespace
