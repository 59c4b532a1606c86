// examples/headers/asio.cpp — the example of <fiberbridge/asio.hpp>: a fiber reads from a TCP
// connection and waits on a timer; only that fiber waits, never its scheduler thread.
// The code between the [example] marks is the header's example, word for word (ctest
// docs.header_examples checks it).
#include <fiberbridge/asio.hpp>
#include <fiberbridge/fiberbridge.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string_view>

// [example]
namespace fb = fiberbridge;
// [example]

namespace {
constexpr std::string_view kGreeting = "hello";

// Accepts one connection and writes the greeting, as a fiber of its own.
void serve(boost::asio::ip::tcp::acceptor& acceptor) {
  boost::asio::ip::tcp::socket peer = acceptor.async_accept(fb::use_fiber);
  boost::asio::async_write(peer, boost::asio::buffer(kGreeting), fb::use_fiber);
}

std::size_t client(boost::asio::ip::tcp::endpoint endpoint) {
  char buf[64];
  boost::asio::steady_timer timer(fb::io_executor(), std::chrono::milliseconds(1));
  // [example]
  boost::asio::ip::tcp::socket sock(fb::io_executor());
  sock.async_connect(endpoint, fb::use_fiber);  // only this fiber waits
  std::size_t n = sock.async_read_some(boost::asio::buffer(buf), fb::use_fiber);
  boost::system::error_code ec;
  timer.async_wait(fb::use_fiber[ec]);  // errors in ec, never thrown
  // [example]
  return ec ? 0 : n;
}
}  // namespace

int main() {
  const std::size_t n = fb::async_to_sync([] {
    boost::asio::ip::tcp::acceptor acceptor(fb::io_executor(), {boost::asio::ip::make_address("127.0.0.1"), 0});
    fb::Task<void> server = fb::spawn(serve, std::ref(acceptor));
    const std::size_t read = client(acceptor.local_endpoint());
    server.get();
    return read;
  })();
  return n > 0 && n <= kGreeting.size() ? 0 : 1;  // a read may return part of the greeting
}
