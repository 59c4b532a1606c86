// io_bench — issue 12: Asio I/O on a fiber costs what it costs in a coroutine, on the same runtime.
// Rows (name = <operation>/<variant>/threads:<scheduler threads of the runtime>):
//   IO_post/<v>/threads:N          one `post` completion on the runtime's I/O executor
//   IO_tcp_pingpong/<v>/threads:N  one 64-byte round trip over loopback TCP (client write + read;
//                                  the server, also on the runtime, reads 64 bytes and writes them back)
// Variants, measured in the same binary and the same sweep (1- and 2-thread runtimes):
//   fiber — straight-line code on a runtime fiber, `fb::use_fiber`, sockets on fb::io_executor()
//   coro  — C++20 coroutines co_spawned on rt.io_executor(), `asio::use_awaitable`
//   asio  — the same coroutines on a plain io_context run by N threads (Asio alone, no fiberbridge)
// Each benchmark run sets up its sockets once, outside the timed loop; a row is per operation.
// Targets (bench/render.py): post fiber ≤ 3× coro, TCP ping-pong fiber ≤ 1.2× coro, 1 and 2
// threads, pinned and unpinned.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <thread>
#include <vector>

#include "fiberbridge/asio.hpp"
#include "ours.hpp"

namespace fbbench {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
constexpr std::size_t kMessage = 64;

unsigned threads_of(const benchmark::State& state) { return static_cast<unsigned>(state.range(0)); }

// ---- one post completion ----

void post_fiber(benchmark::State& state) {
  on_fiber(state, runtime(threads_of(state)), [&] {
    auto io = fb::io_executor();
    for (auto _ : state) asio::post(io, fb::use_fiber);
  });
}

asio::awaitable<void> post_loop(benchmark::State& state) {
  auto ex = co_await asio::this_coro::executor;
  for (auto _ : state) co_await asio::post(ex, asio::use_awaitable);
}

void post_coro(benchmark::State& state) {
  guarded(state, [&] {
    asio::co_spawn(runtime(threads_of(state)).io_executor(), post_loop(state), asio::use_future).get();
  });
}

// Runs `io` on `n` threads (this one and n - 1 more) until it runs out of work.
void run_on(asio::io_context& io, unsigned n) {
  std::vector<std::thread> more;
  for (unsigned i = 1; i < n; ++i) more.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : more) t.join();
}

void post_asio(benchmark::State& state) {
  guarded(state, [&] {
    asio::io_context io;
    auto done = asio::co_spawn(io, post_loop(state), asio::use_future);
    run_on(io, threads_of(state));
    done.get();
  });
}

// ---- 64-byte TCP ping-pong over loopback ----

tcp::endpoint loopback_any() { return {asio::ip::address_v4::loopback(), 0}; }

void fiber_echo_server(tcp::acceptor& acceptor) {
  tcp::socket s = acceptor.async_accept(fb::use_fiber);
  s.set_option(tcp::no_delay(true));
  std::array<char, kMessage> buf{};
  boost::system::error_code ec;
  for (;;) {
    asio::async_read(s, asio::buffer(buf), fb::use_fiber[ec]);
    if (ec) return;  // the client closed: the run is over
    asio::async_write(s, asio::buffer(buf), fb::use_fiber[ec]);
    if (ec) return;
  }
}

void tcp_fiber(benchmark::State& state) {
  auto& rt = runtime(threads_of(state));
  on_fiber(state, rt, [&] {
    tcp::acceptor acceptor(fb::io_executor(), loopback_any());
    tcp::socket client(fb::io_executor());
    auto server = rt.spawn([&] { fiber_echo_server(acceptor); });
    std::array<char, kMessage> buf{};
    boost::system::error_code ec;
    client.async_connect(acceptor.local_endpoint(), fb::use_fiber[ec]);
    if (!ec) client.set_option(tcp::no_delay(true), ec);
    for (auto _ : state) {
      if (ec) break;
      asio::async_write(client, asio::buffer(buf), fb::use_fiber[ec]);
      asio::async_read(client, asio::buffer(buf), fb::use_fiber[ec]);
    }
    boost::system::error_code ignored;
    client.close(ignored);    // the server's read ends
    acceptor.close(ignored);  // or its accept, if the connect failed
    server.get();
    if (ec) state.SkipWithError(("ping-pong: " + ec.message()).c_str());
  });
}

asio::awaitable<void> coro_echo_server(tcp::acceptor& acceptor) {
  auto [aec, s] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
  if (aec) co_return;
  s.set_option(tcp::no_delay(true));
  std::array<char, kMessage> buf{};
  for (;;) {
    auto [rec, rn] = co_await asio::async_read(s, asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (rec) co_return;
    auto [wec, wn] = co_await asio::async_write(s, asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    if (wec) co_return;
  }
}

asio::awaitable<void> coro_client(benchmark::State& state, tcp::acceptor& acceptor) {
  tcp::socket client(co_await asio::this_coro::executor);
  co_await client.async_connect(acceptor.local_endpoint(), asio::use_awaitable);
  client.set_option(tcp::no_delay(true));
  std::array<char, kMessage> buf{};
  for (auto _ : state) {
    co_await asio::async_write(client, asio::buffer(buf), asio::use_awaitable);
    co_await asio::async_read(client, asio::buffer(buf), asio::use_awaitable);
  }
}

// Client and echo server as two coroutines on `ex`; `run` drives ex's context until both are
// done (nothing for the runtime's reactor, which runs by itself).
template <class Executor, class Run>
void tcp_coroutines(benchmark::State& state, Executor ex, Run run) {
  guarded(state, [&] {
    tcp::acceptor acceptor(ex, loopback_any());
    auto server = asio::co_spawn(ex, coro_echo_server(acceptor), asio::use_future);
    auto client = asio::co_spawn(ex, coro_client(state, acceptor), asio::use_future);
    run();
    std::exception_ptr failed;
    try {
      client.get();  // the client's socket is closed when its coroutine ends: the server ends too
    } catch (...) {
      failed = std::current_exception();
      asio::post(ex, [&acceptor] { acceptor.close(); });  // a server still in accept
    }
    server.get();
    if (failed) std::rethrow_exception(failed);
  });
}

void tcp_coro(benchmark::State& state) {
  tcp_coroutines(state, runtime(threads_of(state)).io_executor(), [] {});
}

void tcp_asio(benchmark::State& state) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);  // kept until both coroutines are done
  std::thread driver;
  tcp_coroutines(state, io.get_executor(), [&] {
    driver = std::thread([&io, n = threads_of(state)] { run_on(io, n); });
  });
  work.reset();
  if (driver.joinable()) driver.join();
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime();
}

BENCHMARK(post_fiber)->Name("IO_post/fiber")->Apply(shapes);
BENCHMARK(post_coro)->Name("IO_post/coro")->Apply(shapes);
BENCHMARK(post_asio)->Name("IO_post/asio")->Apply(shapes);
BENCHMARK(tcp_fiber)->Name("IO_tcp_pingpong/fiber")->Apply(shapes);
BENCHMARK(tcp_coro)->Name("IO_tcp_pingpong/coro")->Apply(shapes);
BENCHMARK(tcp_asio)->Name("IO_tcp_pingpong/asio")->Apply(shapes);

}  // namespace
}  // namespace fbbench

FBBENCH_MAIN();
