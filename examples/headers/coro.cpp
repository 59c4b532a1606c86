// examples/headers/coro.cpp — the example of <fiberbridge/coro.hpp>: a coroutine on Asio calls
// blocking code through the coroutine variant of the bridges. The code between the [example]
// marks is the header's example, word for word (ctest docs.header_examples checks it).
#include <fiberbridge/coro.hpp>
#include <fiberbridge/fiberbridge.hpp>

#include <boost/asio/awaitable.hpp>

#include <thread>

namespace {
std::thread::id load_thread;
int load_row(int id) {
  load_thread = std::this_thread::get_id();
  return id * 2;
}
}  // namespace

// [example]
namespace fb = fiberbridge;
boost::asio::awaitable<int> handler(int id) {
  auto load = fb::coro::sync_to_async(load_row);  // name the bridge object first (g++ 12, below)
  int row = co_await load(id);                    // load_row runs on the routed thread
  co_return row + 1;
}
// [example]

int main() {
  // [example]
  int v = fb::coro::async_to_sync(handler)(41);  // on a plain thread: parks, serves routed work
  // [example]
  return v == 83 && load_thread == std::this_thread::get_id() ? 0 : 1;  // rule 1: back on main
}
