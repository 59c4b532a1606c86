// coro_test — the coroutine variant (fiberbridge/coro.hpp): both bridges on boost::asio::awaitable.
//
// Every blocking call runs under a deadline (run_within); nothing sleeps to synchronise.
#include "fixtures.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "fiberbridge/asio.hpp"
#include "fiberbridge/coro.hpp"
#include "fiberbridge/fiberbridge.hpp"

namespace fb = fiberbridge;
namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using namespace std::chrono_literals;

namespace {

using namespace fbtest;

// A coroutine waiting on a one-hour timer with `token`, after saying so through `waiting`.
template <class Token>
awaitable<void> wait_an_hour(std::promise<void>& waiting, Token token) {
  asio::steady_timer timer(co_await asio::this_coro::executor, 1h);
  waiting.set_value();
  co_await timer.async_wait(token);
}

static fb::ContextVar<std::string> request_id{"request_id"};

class CoroTest : public ::testing::Test {
 protected:
  fb::Runtime rt{fb::RuntimeOptions{.threads = 2}};
  fb::AsyncToSyncOptions on_rt() { return {.runtime = &rt}; }
};

}  // namespace

TEST_F(CoroTest, AsyncToSyncReturnsTheCoroutinesResultFromTheReactorThread) {
  const auto caller = std::this_thread::get_id();
  auto [value, ran_on] = fb::coro::async_to_sync(
      [](int x) -> awaitable<std::pair<int, std::thread::id>> {
        asio::steady_timer t(co_await asio::this_coro::executor, 1ms);
        co_await t.async_wait(use_awaitable);
        co_return std::make_pair(x + 1, std::this_thread::get_id());
      },
      on_rt())(41);
  EXPECT_EQ(value, 42);
  EXPECT_NE(ran_on, caller);
  EXPECT_FALSE(fb::in_fiber());
}

TEST_F(CoroTest, SyncBodyRunsOnTheParkedCallerThread) {  // rule 1
  const auto caller = std::this_thread::get_id();
  auto body_thread = fb::coro::async_to_sync(
      []() -> awaitable<std::thread::id> {
        auto where = fb::coro::sync_to_async([] { return std::this_thread::get_id(); });
        co_return co_await where();
      },
      on_rt())();
  EXPECT_EQ(body_thread, caller);
}

TEST_F(CoroTest, BareCoroutineRoutesToTheSyncThreadLikeASpawnedFiber) {  // rule 5
  auto fut = asio::co_spawn(
      rt.io_executor(),
      []() -> awaitable<std::thread::id> {
        auto where = fb::coro::sync_to_async([] { return std::this_thread::get_id(); });
        co_return co_await where();
      },
      asio::use_future);
  EXPECT_EQ(future_within(fut), sync_thread_id());
}

TEST_F(CoroTest, NonThreadSensitiveRunsOnTheBlockingPool) {
  const auto caller = std::this_thread::get_id();
  auto body_thread = fb::coro::async_to_sync(
      []() -> awaitable<std::thread::id> {
        auto where = fb::coro::sync_to_async([] { return std::this_thread::get_id(); }, {.thread_sensitive = false});
        co_return co_await where();
      },
      on_rt())();
  EXPECT_NE(body_thread, caller);
  EXPECT_NE(body_thread, sync_thread_id());
}

TEST_F(CoroTest, ExceptionsCrossBothBridgesAsTheSameObject) {
  auto original = std::make_exception_ptr(std::runtime_error("boom"));
  const void* address = address_of(original);
  try {
    fb::coro::async_to_sync(
        [original]() -> awaitable<void> {
          auto fail = fb::coro::sync_to_async([original] { std::rethrow_exception(original); });
          co_await fail();
        },
        on_rt())();
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(static_cast<const void*>(&e), address);
  }
}

TEST_F(CoroTest, NestedFromAFiberSyncBodyRunsOnTheOuterRuntimeAndRoutesBack) {
  auto t = rt.spawn([] {
    return fb::sync_to_async([] {
      const auto body_thread = std::this_thread::get_id();
      return fb::coro::async_to_sync([body_thread]() -> awaitable<bool> {
        auto where = fb::coro::sync_to_async([] { return std::this_thread::get_id(); });
        const auto inner = co_await where();
        co_return inner == body_thread;
      })();
    })();
  });
  ASSERT_TRUE(t.wait_for(kDeadline));
  EXPECT_TRUE(t.get());
}

TEST_F(CoroTest, ContextVariablesFlowInAndBackOut) {
  auto result = run_within([this] {
    request_id.set("caller");
    auto seen = fb::coro::async_to_sync(
        []() -> awaitable<std::string> {
          std::string s = request_id.value_or("-");
          request_id.set("coroutine");
          asio::steady_timer t(co_await asio::this_coro::executor, 1ms);
          co_await t.async_wait(use_awaitable);  // survives a suspension
          auto body = fb::coro::sync_to_async([] {
            std::string b = request_id.value_or("-");
            request_id.set("body");
            return b;
          });
          s += "," + co_await body();
          s += "," + request_id.value_or("-");  // copied back from the body
          co_return s;
        },
        on_rt())();
    return seen + "," + request_id.value_or("-");  // copied back from the coroutine
  });
  EXPECT_EQ(result, "caller,coroutine,body,body");
}

TEST_F(CoroTest, CoroutinesDoNotSeeEachOthersContext) {
  auto result = run_within([this] {
    std::atomic<int> mismatches{0};
    on_threads(4, [&](int i) {
      request_id.set("t" + std::to_string(i));
      fb::coro::async_to_sync(
          [&, i]() -> awaitable<void> {
            for (int k = 0; k < 20; ++k) {
              co_await asio::post(co_await asio::this_coro::executor, use_awaitable);
              if (request_id.value_or("-") != "t" + std::to_string(i)) ++mismatches;
            }
          },
          on_rt())();
    });
    return mismatches.load();
  });
  EXPECT_EQ(result, 0);
}

TEST_F(CoroTest, AsioCancellationOfTheAwaitingCoroutineGivesCancelledErrorAndDetachesTheBody) {
  std::promise<void> body_started;
  auto body_stopped = std::make_shared<std::promise<bool>>();
  auto release = std::make_shared<std::promise<void>>();
  auto release_f = release->get_future().share();
  asio::cancellation_signal signal;
  auto fut = asio::co_spawn(
      rt.io_executor(),
      [&, body_stopped, release_f]() -> awaitable<std::string> {
        auto slow = fb::coro::sync_to_async(
            [&, body_stopped, release_f](std::stop_token st) {
              body_started.set_value();
              release_f.wait();
              body_stopped->set_value(st.stop_requested());
            },
            {.thread_sensitive = false});
        try {
          co_await slow();
          co_return std::string("completed");
        } catch (const fb::CancelledError&) {
          co_return std::string("cancelled");
        }
      },
      asio::bind_cancellation_slot(signal.slot(), asio::use_future));
  future_within(body_started.get_future(), "body start");
  asio::post(rt.io_executor(), [&] { signal.emit(asio::cancellation_type::terminal); });
  EXPECT_EQ(future_within(fut), "cancelled");  // while the body still runs
  release->set_value();
  EXPECT_TRUE(future_within(body_stopped->get_future()));
}

TEST_F(CoroTest, StopOfTheOuterFiberCancelsANestedCoroutine) {
  auto coroutine_outcome = std::make_shared<std::promise<std::string>>();
  std::promise<void> waiting;
  auto t = rt.spawn([&, coroutine_outcome] {
    fb::sync_to_async([&, coroutine_outcome] {
      try {
        fb::coro::async_to_sync([&]() -> awaitable<void> { co_await wait_an_hour(waiting, use_awaitable); })();
        coroutine_outcome->set_value("finished");
      } catch (const boost::system::system_error& e) {
        coroutine_outcome->set_value(e.code() == asio::error::operation_aborted && fb::this_task::stop_requested()
                                         ? "aborted"
                                         : e.what());
      } catch (...) {
        coroutine_outcome->set_value("other");
      }
    })();
  });
  future_within(waiting.get_future(), "the coroutine waiting");
  t.request_stop();
  ASSERT_TRUE(t.wait_for(kDeadline));
  EXPECT_THROW(t.get(), fb::CancelledError);
  EXPECT_EQ(future_within(coroutine_outcome->get_future()), "aborted");
}

TEST_F(CoroTest, StopTokenInsideTheCoroutineFollowsTheOuterStop) {
  std::promise<void> waiting;
  auto seen = std::make_shared<std::promise<bool>>();
  auto t = rt.spawn([&, seen] {
    fb::sync_to_async([&, seen] {
      try {
        fb::coro::async_to_sync([&]() -> awaitable<void> {
          boost::system::error_code ec;
          co_await wait_an_hour(waiting, asio::redirect_error(use_awaitable, ec));
          seen->set_value(fb::this_task::stop_requested());
        })();
      } catch (...) {
        seen->set_value(false);
      }
    })();
  });
  future_within(waiting.get_future(), "the coroutine waiting");
  t.request_stop();
  EXPECT_TRUE(future_within(seen->get_future()));
  ASSERT_TRUE(t.wait_for(kDeadline));
}

TEST_F(CoroTest, AsyncToSyncOnAFiberOrOnTheReactorThreadIsRefused) {
  auto t = rt.spawn([] {
    try {
      fb::coro::async_to_sync([]() -> awaitable<int> { co_return 1; })();
      return std::string("no error");
    } catch (const fb::AsyncToSyncInFiberError& e) {
      return std::string(e.what());
    }
  });
  ASSERT_TRUE(t.wait_for(kDeadline));
  EXPECT_EQ(t.get(), "You cannot use async_to_sync on a fiber - call the function directly.");

  auto fut = asio::co_spawn(
      rt.io_executor(),
      []() -> awaitable<bool> {
        try {
          fb::coro::async_to_sync([]() -> awaitable<int> { co_return 1; })();
          co_return false;
        } catch (const fb::AsyncToSyncInFiberError&) {
          co_return true;
        }
      },
      asio::use_future);
  EXPECT_TRUE(future_within(fut));
}

TEST_F(CoroTest, ForceNewLoopRunsOnAPrivateReactorAndRoutesBackToTheWaitingThread) {  // rule 3
  auto t = rt.spawn([this] {
    return fb::sync_to_async([this] {
      const auto body_thread = std::this_thread::get_id();
      return fb::coro::async_to_sync(
          [&]() -> awaitable<bool> {
            const bool private_reactor = !((co_await asio::this_coro::executor) == rt.io_executor());
            // A bare coroutine spawned on this private reactor routes by rule 3, not rule 1.
            auto child = asio::co_spawn(
                fb::io_executor(),  // off a fiber: the default runtime's reactor, not ours
                []() -> awaitable<int> { co_return 0; }, use_awaitable);
            (void)co_await std::move(child);
            auto where = fb::coro::sync_to_async([] { return std::this_thread::get_id(); });
            co_return private_reactor && co_await where() == body_thread;
          },
          {.force_new_loop = true})();
    })();
  });
  ASSERT_TRUE(t.wait_for(kDeadline));
  EXPECT_TRUE(t.get());
}

TEST_F(CoroTest, BindContextGivesAChildASnapshot) {
  auto result = run_within([this] {
    return fb::coro::async_to_sync(
        []() -> awaitable<std::string> {
          request_id.set("parent");
          auto ex = fb::coro::bind_context(co_await asio::this_coro::executor);
          auto child = asio::co_spawn(
              ex,
              []() -> awaitable<std::string> {
                std::string seen = request_id.value_or("-");
                request_id.set("child");
                co_return seen;
              },
              use_awaitable);
          std::string seen = co_await std::move(child);
          co_return seen + "," + request_id.value_or("-");
        },
        on_rt())();
  });
  EXPECT_EQ(result, "parent,parent");
}

TEST_F(CoroTest, NamedBridgeObjectWithSharedCaptureIsDestroyedOnce) {
  auto p = std::make_shared<int>(5);
  auto value = fb::coro::async_to_sync(
      [p]() -> awaitable<int> {
        auto op = fb::coro::sync_to_async([p] { return *p + 1; });
        int v = co_await op();
        co_return v;
      },
      on_rt())();
  EXPECT_EQ(value, 6);
  EXPECT_EQ(p.use_count(), 1);
}

TEST_F(CoroTest, RuntimeDestructionEndsAPendingCoroutine) {
  auto outcome = run_within([] {
    auto local = std::make_unique<fb::Runtime>(fb::RuntimeOptions{.threads = 1});
    std::promise<void> waiting;
    auto caller = std::async(std::launch::async, [&] {
      try {
        fb::coro::async_to_sync([&]() -> awaitable<void> { co_await wait_an_hour(waiting, use_awaitable); },
                                {.runtime = local.get()})();
        return std::string("finished");
      } catch (const std::exception&) {
        return std::string("ended with an error");
      }
    });
    future_within(waiting.get_future(), "the coroutine waiting");
    local.reset();
    return caller.get();
  });
  EXPECT_EQ(outcome, "ended with an error");
}

TEST_F(CoroTest, ManyConcurrentCallsThroughTheSyncThread) {
  auto sum = fb::coro::async_to_sync(
      []() -> awaitable<long> {
        auto ex = co_await asio::this_coro::executor;
        std::vector<std::future<int>> futures;
        for (int i = 0; i < 200; ++i) {
          futures.push_back(asio::co_spawn(
              fb::coro::bind_context(ex),
              [i]() -> awaitable<int> {
                auto twice = fb::coro::sync_to_async([](int x) { return 2 * x; });
                co_return co_await twice(i);
              },
              asio::use_future));
        }
        long total = 0;
        for (auto& f : futures) {
          auto wait = fb::coro::sync_to_async([&f] { return f.get(); }, {.thread_sensitive = false});
          total += co_await wait();
        }
        co_return total;
      },
      on_rt())();
  EXPECT_EQ(sum, 2L * 199 * 200 / 2);
}
