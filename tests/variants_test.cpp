// variants_test — ONE typed suite run against both variants of the bridges (fibers, and C++20
// coroutines on Asio), so that their semantics cannot drift apart: routing (rule 1: the parked
// caller thread; rule 5: the sync thread; thread_sensitive = false: the pool), rule 4
// (WouldDeadlockError), exception identity, cancellation (caller resumes with CancelledError,
// body detached with a stopped stop_token), context variables, misuse.
//
// Each variant implements the same few primitives; the tests and their expectations are shared.
// Every wait has a deadline; nothing sleeps to synchronise.
#include "fixtures.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <optional>
#include <mutex>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "fiberbridge/asio.hpp"
#include "fiberbridge/coro.hpp"
#include "fiberbridge/fiberbridge.hpp"

namespace fb = fiberbridge;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

using namespace fbtest;

// The outcome of a co_spawned coroutine, handed to a waiting thread so that the waiter drops the
// last reference to an exception. Neither Asio's completion handler (it keeps copies of an
// exception_ptr argument on the reactor thread until after the waiter was released) nor a
// std::promise (the coroutine frame owns it and may release the shared state, with the
// exception in it, after the waiter has used the exception) can guarantee that, and the
// exception's reference count lives in uninstrumented libstdc++: the object could be freed on
// fb-io after the test read it, a race TSan reports and cannot see through (seen under load).
template <class R>
struct Handoff {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::optional<R> value;
  std::exception_ptr error;
};

template <class R, class Ex, class MakeAwaitable>
std::shared_ptr<Handoff<R>> spawn_to_handoff(Ex ex, MakeAwaitable make) {
  static_assert(!std::is_void_v<R>, "spawn_to_handoff needs a result type");
  auto h = std::make_shared<Handoff<R>>();
  asio::co_spawn(
      ex,
      [h, make]() -> asio::awaitable<void> {
        std::optional<R> value;
        std::exception_ptr error;
        try {
          auto awaitable = make();
          value.emplace(co_await std::move(awaitable));
        } catch (...) {
          error = std::current_exception();
        }
        // Outside the catch block: this thread holds no other reference to the exception now.
        std::lock_guard g(h->m);
        h->value = std::move(value);
        h->error = std::move(error);
        h->done = true;
        h->cv.notify_all();
      },
      asio::detached);
  return h;
}

template <class R>
R handoff_within(Handoff<R>& h) {
  std::unique_lock lk(h.m);
  wait_or_die(lk, h.cv, [&] { return h.done; }, "co_spawned coroutine", kDeadline);
  if (std::exception_ptr e = std::move(h.error)) {
    lk.unlock();
    std::rethrow_exception(std::move(e));
  }
  return std::move(*h.value);
}

// Something the awaiting side was cancelled from, and how it ended.
struct Pending {
  std::function<void()> cancel;
  std::function<std::string()> outcome;  // "cancelled", "completed", or an error text; waits with a deadline
};

// ---- the fiber variant ----
struct FiberVariant {
  // From this plain thread: enter async code (async_to_sync), and there await sync_to_async(f).
  template <class F>
  static auto round_trip(fb::Runtime& rt, F f, fb::SyncToAsyncOptions o = {}) {
    return fb::async_to_sync([f, o] { return fb::sync_to_async(f, o)(); }, {.runtime = &rt})();
  }
  // Async code started without an async_to_sync frame (a spawned task) awaits sync_to_async(f).
  template <class F>
  static auto from_task(fb::Runtime& rt, F f) {
    auto t = rt.spawn([f] { return fb::sync_to_async(f)(); });
    return get_within(t);
  }
  // Inside a sync body: start async code inheriting the body's state that awaits
  // sync_to_async(f), and wait for it from the body (blocking the body's thread).
  template <class F>
  static auto start_child_and_wait(F f) {
    auto child = fb::spawn([f] { return fb::sync_to_async(f)(); });
    return child.get();
  }
  // Async code that awaits `body` (on the blocking pool); cancel() stops the awaiting side.
  static Pending start_cancellable(fb::Runtime& rt, std::function<void(std::stop_token)> body) {
    auto task = std::make_shared<fb::Task<std::string>>(rt.spawn([body] {
      try {
        fb::sync_to_async(body, {.thread_sensitive = false})();
        return std::string("completed");
      } catch (const fb::CancelledError&) {
        return std::string("cancelled");
      }
    }));
    return {[task] { task->request_stop(); }, [task] { return get_within(*task); }};
  }
  // async_to_sync of a trivial async function, called on a fiber.
  static void async_to_sync_on_fiber() {
    fb::async_to_sync([] { return 1; })();
  }
};

// ---- the coroutine variant ----
struct CoroVariant {
  template <class F>
  static auto round_trip(fb::Runtime& rt, F f, fb::SyncToAsyncOptions o = {}) {
    using R = std::invoke_result_t<F>;
    return fb::coro::async_to_sync(
        [f, o]() -> asio::awaitable<R> {
          auto bridge = fb::coro::sync_to_async(f, o);
          co_return co_await bridge();
        },
        {.runtime = &rt})();
  }
  template <class F>
  static auto from_task(fb::Runtime& rt, F f) {
    using R = std::invoke_result_t<F>;
    auto done = spawn_to_handoff<R>(rt.io_executor(), [f]() -> asio::awaitable<R> {
      auto bridge = fb::coro::sync_to_async(f);
      co_return co_await bridge();
    });
    return handoff_within(*done);
  }
  template <class F>
  static auto start_child_and_wait(F f) {
    using R = std::invoke_result_t<F>;
    // bind_context: a snapshot of the body's state, like spawn
    auto done = spawn_to_handoff<R>(fb::coro::bind_context(fb::io_executor()), [f]() -> asio::awaitable<R> {
      auto bridge = fb::coro::sync_to_async(f);
      co_return co_await bridge();
    });
    return handoff_within(*done);
  }
  static Pending start_cancellable(fb::Runtime& rt, std::function<void(std::stop_token)> body) {
    auto signal = std::make_shared<asio::cancellation_signal>();
    auto fut = std::make_shared<std::future<std::string>>(asio::co_spawn(
        rt.io_executor(),
        [body]() -> asio::awaitable<std::string> {
          auto bridge = fb::coro::sync_to_async(body, {.thread_sensitive = false});
          try {
            co_await bridge();
            co_return std::string("completed");
          } catch (const fb::CancelledError&) {
            co_return std::string("cancelled");
          }
        },
        asio::bind_cancellation_slot(signal->slot(), asio::use_future)));
    auto io = rt.io_executor();
    return {[signal, io] { asio::post(io, [signal] { signal->emit(asio::cancellation_type::terminal); }); },
            [fut] { return future_within(*fut); }};
  }
  static void async_to_sync_on_fiber() {
    fb::coro::async_to_sync([]() -> asio::awaitable<int> { co_return 1; })();
  }
};

template <class V>
class Variants : public ::testing::Test {
 protected:
  fb::Runtime rt{fb::RuntimeOptions{.threads = 2}};
};

struct Names {
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, FiberVariant> ? "fiber" : "coro";
  }
};

using Both = ::testing::Types<FiberVariant, CoroVariant>;
TYPED_TEST_SUITE(Variants, Both, Names);


static fb::ContextVar<std::string> user{"user"};

}  // namespace

TYPED_TEST(Variants, Rule1BodyRunsOnTheParkedCallerThread) {
  const auto here = std::this_thread::get_id();
  EXPECT_EQ(TypeParam::round_trip(this->rt, [] { return std::this_thread::get_id(); }), here);
}

TYPED_TEST(Variants, Rule5BodyOfATaskRunsOnTheProcessWideSyncThread) {
  const auto sync = sync_thread_id();
  EXPECT_EQ(TypeParam::from_task(this->rt, [] { return std::this_thread::get_id(); }), sync);
  EXPECT_NE(sync, std::this_thread::get_id());
}

TYPED_TEST(Variants, NotThreadSensitiveRunsOnThePool) {
  const auto sync = sync_thread_id();
  const auto where =
      TypeParam::round_trip(this->rt, [] { return std::this_thread::get_id(); }, {.thread_sensitive = false});
  EXPECT_NE(where, std::this_thread::get_id());
  EXPECT_NE(where, sync);
}

TYPED_TEST(Variants, Rule4WaitingOnAChildThatNeedsOurSyncThreadRaisesWouldDeadlock) {
  auto message = TypeParam::from_task(this->rt, [] {
    try {
      TypeParam::start_child_and_wait([] { return 1; });
      return std::string("no error");
    } catch (const fb::WouldDeadlockError& e) {
      return std::string(e.what());
    }
  });
  EXPECT_EQ(message, "Single thread executor already being used, would deadlock");
}

TYPED_TEST(Variants, ExceptionComesBackAsTheSameObject) {
  auto original = std::make_exception_ptr(std::logic_error("from the body"));
  const void* address = address_of(original);
  try {
    TypeParam::round_trip(this->rt, [original] { std::rethrow_exception(original); });
    FAIL() << "no exception";
  } catch (const std::logic_error& e) {
    EXPECT_EQ(static_cast<const void*>(&e), address);
    EXPECT_STREQ(e.what(), "from the body");
  }
}

TYPED_TEST(Variants, CancellationResumesTheCallerAndDetachesTheBody) {
  auto started = std::make_shared<std::promise<void>>();
  auto release = std::make_shared<std::promise<void>>();
  auto saw_stop = std::make_shared<std::promise<bool>>();
  auto gate = release->get_future().share();
  Pending p = TypeParam::start_cancellable(this->rt, [started, gate, saw_stop](std::stop_token st) {
    started->set_value();
    gate.wait();  // still running when the caller is cancelled
    saw_stop->set_value(st.stop_requested());
  });
  future_within(started->get_future(), "body start");
  p.cancel();
  EXPECT_EQ(p.outcome(), "cancelled");
  release->set_value();
  EXPECT_TRUE(future_within(saw_stop->get_future()));
}

TYPED_TEST(Variants, ContextVariablesAreCopiedInAndBack) {
  auto result = std::async(std::launch::async, [this] {
    user.set("alice");
    std::string seen = TypeParam::round_trip(this->rt, [] {
      std::string s = user.value_or("-");
      user.set("bob");
      return s;
    });
    return seen + "," + user.value_or("-");
  });
  EXPECT_EQ(future_within(result), "alice,bob");
}

TYPED_TEST(Variants, AsyncToSyncOnAFiberIsRefused) {
  auto t = this->rt.spawn([] {
    try {
      TypeParam::async_to_sync_on_fiber();
      return false;
    } catch (const fb::AsyncToSyncInFiberError&) {
      return true;
    }
  });
  EXPECT_TRUE(get_within(t));
}

TYPED_TEST(Variants, SyncToAsyncOfAnExecutorTogetherWithThreadSensitiveIsRejected) {
  struct Inline : fb::Executor {
    void execute(std::function<void()> w) override { w(); }
  } inline_executor;
  EXPECT_THROW(
      TypeParam::round_trip(this->rt, [] { return 0; }, {.thread_sensitive = true, .executor = &inline_executor}),
      std::invalid_argument);
  EXPECT_EQ(TypeParam::round_trip(this->rt, [] { return 5; }, {.thread_sensitive = false, .executor = &inline_executor}),
            5);
}

// Both variants' bodies wait for the one sync thread in one queue, served in the order they
// were submitted: a fiber's call is queued as its own block (a linked node), a coroutine's as
// a queued function, and neither kind overtakes the other (bridge/work_queue.hpp).
TEST(SyncThreadQueue, FiberAndCoroutineBodiesRunInSubmissionOrder) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 2}};
  auto gate = std::make_shared<BlockingBody>();
  auto blocker = BlockingBody::spawn(rt, gate);  // holds the sync thread while the others queue
  gate->started.wait("the blocking body start");

  struct Order {
    std::mutex m;
    std::vector<int> seen;
    void add(int i) {
      std::lock_guard g(m);
      seen.push_back(i);
    }
  };
  auto order = std::make_shared<Order>();
  const std::size_t base = rt.metrics().sync_thread_queue;
  constexpr int kCalls = 12;
  std::vector<fb::Task<int>> fibers;
  std::vector<std::shared_ptr<Handoff<int>>> coroutines;
  for (int i = 0; i < kCalls; ++i) {
    auto body = [order, i] {
      order->add(i);
      return i;
    };
    // Kinds mixed in runs of one and two, so that each kind both follows and precedes the other.
    if (i % 3 == 0) {
      coroutines.push_back(spawn_to_handoff<int>(rt.io_executor(), [body]() -> asio::awaitable<int> {
        auto bridge = fb::coro::sync_to_async(body);
        co_return co_await bridge();
      }));
    } else {
      fibers.push_back(rt.spawn([body] { return fb::sync_to_async(body)(); }));
    }
    // The next call is submitted only once this one is queued.
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (rt.metrics().sync_thread_queue < base + static_cast<std::size_t>(i) + 1) {
      if (std::chrono::steady_clock::now() > deadline) FAIL() << "call " << i << " was never queued on the sync thread";
      std::this_thread::sleep_for(1ms);
    }
  }
  gate->release.set();
  EXPECT_EQ(get_within(blocker, "the blocking body"), 1);
  for (auto& f : fibers) (void)get_within(f, "a fiber's call");
  for (auto& c : coroutines) (void)handoff_within(*c);
  std::vector<int> expected(kCalls);
  for (int i = 0; i < kCalls; ++i) expected[i] = i;
  std::lock_guard g(order->m);
  EXPECT_EQ(order->seen, expected);
}
