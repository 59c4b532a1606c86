// asio_test — Asio on fibers: the use_fiber completion token (fiberbridge/asio.hpp).
//
// Every wait has a deadline (fixtures.hpp); nothing sleeps to synchronise.
#include "fixtures.hpp"

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/fiber/operations.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "fiberbridge/asio.hpp"
#include "fiberbridge/fiberbridge.hpp"

namespace fb = fiberbridge;
namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

using namespace fbtest;

// A test-only asynchronous operation without per-operation cancellation: it parks its handler
// until release() completes it (from the io thread) with `value`.
struct Parked {
  std::mutex m;
  std::function<void(boost::system::error_code, int)> handler;
  std::promise<void> parked;
};

template <class Token>
auto async_parked(asio::any_io_executor ex, std::shared_ptr<Parked> p, Token&& token) {
  return asio::async_initiate<Token, void(boost::system::error_code, int)>(
      [ex, p](auto handler) {
        auto shared = std::make_shared<decltype(handler)>(std::move(handler));
        {
          std::lock_guard g(p->m);
          p->handler = [ex, shared](boost::system::error_code ec, int v) {
            asio::post(ex, [shared, ec, v] { (*shared)(ec, v); });
          };
        }
        p->parked.set_value();
      },
      token);
}

class AsioTest : public ::testing::Test {
 protected:
  fb::Runtime rt{fb::RuntimeOptions{.threads = 2}};
};

}  // namespace

TEST_F(AsioTest, TimerSuspendsOnlyTheWaitingFiber) {
  // One scheduler thread: if the timer wait blocked the thread, the other fiber could not run.
  fb::Runtime one{fb::RuntimeOptions{.threads = 1}};
  std::atomic<bool> other_ran{false};
  auto waiter = one.spawn([&] {
    asio::steady_timer timer(fb::io_executor(), 30ms);
    timer.async_wait(fb::use_fiber);
    return other_ran.load();
  });
  auto other = one.spawn([&] { other_ran = true; });
  get_within(other);
  EXPECT_TRUE(get_within(waiter));
}

TEST_F(AsioTest, SocketEchoOverLoopback) {
  tcp::acceptor acceptor(rt.io_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto endpoint = acceptor.local_endpoint();
  auto server = rt.spawn([&] {
    tcp::socket s = acceptor.async_accept(fb::use_fiber);
    char buf[64];
    const std::size_t n = s.async_read_some(asio::buffer(buf), fb::use_fiber);
    asio::async_write(s, asio::buffer(buf, n), fb::use_fiber);
    return n;
  });
  auto client = rt.spawn([&] {
    tcp::socket s(fb::io_executor());
    s.async_connect(endpoint, fb::use_fiber);
    const std::string msg = "hello fibers";
    asio::async_write(s, asio::buffer(msg), fb::use_fiber);
    std::string back(msg.size(), '\0');
    asio::async_read(s, asio::buffer(back), fb::use_fiber);
    return back;
  });
  EXPECT_EQ(get_within(client), "hello fibers");
  EXPECT_EQ(get_within(server), std::string("hello fibers").size());
}

TEST_F(AsioTest, ErrorsThrowSystemErrorOrGoToEc) {
  tcp::endpoint closed;
  {
    tcp::acceptor a(rt.io_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed = a.local_endpoint();
  }  // nobody listens there now
  auto thrown = rt.spawn([&] {
    tcp::socket s(fb::io_executor());
    try {
      s.async_connect(closed, fb::use_fiber);
      return boost::system::error_code{};
    } catch (const boost::system::system_error& e) {
      return e.code();
    }
  });
  EXPECT_EQ(get_within(thrown), asio::error::connection_refused);
  auto with_ec = rt.spawn([&] {
    tcp::socket s(fb::io_executor());
    boost::system::error_code ec;
    s.async_connect(closed, fb::use_fiber[ec]);
    return ec;
  });
  EXPECT_EQ(get_within(with_ec), asio::error::connection_refused);
}

TEST_F(AsioTest, ResultShapes) {
  auto t = rt.spawn([] {
    // void(error_code, results_type) -> results_type
    asio::ip::tcp::resolver resolver(fb::io_executor());
    auto results = resolver.async_resolve("127.0.0.1", "80", fb::use_fiber);
    // void() -> void (post has no error)
    asio::post(fb::io_executor(), fb::use_fiber);
    // void(error_code, int, std::string) -> std::tuple<int, std::string>
    auto [n, s] = asio::async_initiate<const fb::use_fiber_t, void(boost::system::error_code, int, std::string)>(
        [](auto handler) {
          asio::post(fb::io_executor(), [h = std::move(handler)]() mutable { h({}, 7, std::string("seven")); });
        },
        fb::use_fiber);
    return std::to_string(results.size()) + ":" + std::to_string(n) + s;
  });
  EXPECT_EQ(get_within(t), "1:7seven");
}

// Handlers run on the runtime's scheduler threads (they drive its reactor), never on a fiber;
// the fiber resumes as fiber code.
TEST_F(AsioTest, HandlerRunsOffFiberOnASchedulerThreadAndFiberCodeResumesOnAFiber) {
  auto t = rt.spawn([this] {
    std::optional<bool> handler_in_fiber;
    fb::Runtime* handler_runtime = &rt;
    auto ex = fb::io_executor();
    asio::post(ex, fb::use_fiber);
    asio::async_initiate<const fb::use_fiber_t, void()>(
        [&](auto handler) {
          asio::post(ex, [&, h = std::move(handler)]() mutable {
            handler_in_fiber = fb::in_fiber();
            handler_runtime = fb::current_runtime();
            h();
          });
        },
        fb::use_fiber);
    return handler_in_fiber == false && handler_runtime == nullptr && fb::in_fiber() &&
           fb::current_runtime() == &rt;
  });
  EXPECT_TRUE(get_within(t));
  EXPECT_GE(rt.metrics().io_completions, 2u);  // counted on the thread that ran them
}

TEST_F(AsioTest, StopCancelsAPendingTimerWithCancelledError) {
  auto t = rt.spawn([] {
    asio::steady_timer timer(fb::io_executor(), 1h);
    timer.async_wait(fb::use_fiber);
    return std::string("timer fired");
  });
  t.request_stop();
  EXPECT_THROW(get_within(t), fb::CancelledError);
}

TEST_F(AsioTest, StopWithEcReportsOperationAborted) {
  std::promise<void> waiting;
  auto t = rt.spawn([&] {
    asio::steady_timer timer(fb::io_executor(), 1h);
    boost::system::error_code ec;
    waiting.set_value();
    timer.async_wait(fb::use_fiber[ec]);
    return ec;
  });
  future_within(waiting.get_future(), "the fiber waiting");
  t.request_stop();
  EXPECT_EQ(get_within(t), asio::error::operation_aborted);
}

TEST_F(AsioTest, StopCancelsAPendingRead) {
  tcp::acceptor acceptor(rt.io_executor(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket peer(rt.io_executor());
  std::promise<void> connected;
  auto reader = rt.spawn([&] {
    tcp::socket s(fb::io_executor());
    s.async_connect(acceptor.local_endpoint(), fb::use_fiber);
    connected.set_value();
    char buf[16];
    return s.async_read_some(asio::buffer(buf), fb::use_fiber);  // nobody writes
  });
  auto accepted = rt.spawn([&] { acceptor.async_accept(peer, fb::use_fiber); });
  get_within(accepted);
  future_within(connected.get_future(), "connect");
  reader.request_stop();
  EXPECT_THROW(get_within(reader), fb::CancelledError);
}

TEST_F(AsioTest, StopBeforeTheCallThrowsWithoutStartingTheOperation) {
  std::promise<void> go;
  auto gate = go.get_future().share();
  std::atomic<bool> started{false};
  auto t = rt.spawn([&, gate] {
    while (gate.wait_for(0s) != std::future_status::ready) boost::this_fiber::yield();
    asio::async_initiate<const fb::use_fiber_t, void()>([&](auto) { started = true; }, fb::use_fiber);
  });
  t.request_stop();
  go.set_value();
  EXPECT_THROW(get_within(t), fb::CancelledError);
  EXPECT_FALSE(started.load());
}

// use_fiber[ec] does not throw at the start: an operation started after the stop is cancelled
// at once (the stop found no waiter to wake, so the wait itself must look).
TEST_F(AsioTest, StopBeforeAnEcOperationCancelsItAtOnce) {
  std::promise<void> go;
  auto gate = go.get_future().share();
  auto t = rt.spawn([&, gate] {
    while (gate.wait_for(0s) != std::future_status::ready) boost::this_fiber::yield();
    asio::steady_timer timer(fb::io_executor(), 1h);
    boost::system::error_code ec;
    timer.async_wait(fb::use_fiber[ec]);
    return ec;
  });
  t.request_stop();
  go.set_value();
  EXPECT_EQ(get_within(t), asio::error::operation_aborted);
}

TEST_F(AsioTest, AnUncancellableOperationIsAbandonedAndItsLateHandlerIsHarmless) {
  auto parked = std::make_shared<Parked>();
  auto t = rt.spawn([&, parked] {
    boost::system::error_code ec;
    const int v = async_parked(fb::io_executor(), parked, fb::use_fiber[ec]);
    return std::make_pair(ec, v);
  });
  future_within(parked->parked.get_future(), "the operation parked");
  t.request_stop();
  auto [ec, v] = get_within(t);
  EXPECT_EQ(ec, asio::error::operation_aborted);
  EXPECT_EQ(v, 0);
  // The fiber is gone; the operation completes now and must only touch shared state.
  std::promise<void> ran;
  {
    std::lock_guard g(parked->m);
    parked->handler({}, 42);
  }
  asio::post(rt.io_executor(), [&] { ran.set_value(); });
  future_within(ran.get_future(), "a post after the late handler");
}

TEST_F(AsioTest, OffAFiberThrowsNotInFiberError) {
  asio::steady_timer timer(rt.io_executor(), 1ms);
  EXPECT_THROW(timer.async_wait(fb::use_fiber), fb::NotInFiberError);
}

TEST_F(AsioTest, IoExecutorIsTheFibersRuntimes) {
  auto t = rt.spawn([&] { return fb::io_executor() == rt.io_executor(); });
  EXPECT_TRUE(get_within(t));
  EXPECT_TRUE(fb::io_executor() == fb::Runtime::default_runtime().io_executor());
  EXPECT_FALSE(rt.io_executor() == fb::Runtime::default_runtime().io_executor());
}

TEST_F(AsioTest, RuntimeDestructionWakesFibersInPendingOperations) {
  auto done = std::async(std::launch::async, [] {
    auto local = std::make_unique<fb::Runtime>(fb::RuntimeOptions{.threads = 1});
    std::promise<void> waiting;
    auto t = local->spawn([&] {
      asio::steady_timer timer(fb::io_executor(), 1h);
      waiting.set_value();
      timer.async_wait(fb::use_fiber);
    });
    waiting.get_future().wait();
    local.reset();  // stops the fiber: its timer wait is cancelled
    try {
      t.get();
      return std::string("no error");
    } catch (const fb::CancelledError&) {
      return std::string("cancelled");
    }
  });
  EXPECT_EQ(future_within(done), "cancelled");
}

TEST_F(AsioTest, ManyConcurrentTimersOnFewThreads) {
  std::vector<fb::Task<int>> tasks;
  for (int i = 0; i < 500; ++i) {
    tasks.push_back(rt.spawn([i] {
      asio::steady_timer timer(fb::io_executor(), std::chrono::milliseconds(i % 7));
      timer.async_wait(fb::use_fiber);
      return i;
    }));
  }
  long sum = 0;
  for (auto& t : tasks) sum += get_within(t);
  EXPECT_EQ(sum, 499L * 500 / 2);
}
