// examples/headers/async_to_sync.cpp — the example of <fiberbridge/async_to_sync.hpp>: a plain
// thread runs fiber code, and that fiber's thread-sensitive blocking call runs back on the
// parked thread. The code between the [example] marks is the header's example, word for word
// (ctest docs.header_examples checks it).
#include <fiberbridge/fiberbridge.hpp>

#include <thread>

namespace fb = fiberbridge;

namespace {
std::thread::id load_thread;
int load(int x) {
  load_thread = std::this_thread::get_id();
  return x;
}
}  // namespace

int main() {
  // [example]
  int n = fb::async_to_sync([](int x) {  // runs as a fiber
    return fb::sync_to_async(load)(x) + 1;  // `load` runs back on this thread
  })(41);
  // [example]
  return n == 42 && load_thread == std::this_thread::get_id() ? 0 : 1;
}
