// examples/headers/thread_sensitive.cpp — the example of <fiberbridge/thread_sensitive.hpp>.
// The code between the [example] marks is the header's example, word for word (ctest
// docs.header_examples checks it).
#include <fiberbridge/fiberbridge.hpp>

#include <thread>

namespace fb = fiberbridge;

namespace {
std::thread::id handler_thread;
void handler() { handler_thread = std::this_thread::get_id(); }

std::thread::id a_thread, b_thread;
void a() { a_thread = std::this_thread::get_id(); }
void b() { b_thread = std::this_thread::get_id(); }

void per_request() {
  // [example]
  // on a fiber, per request (Django wraps each request in one):
  {
    fb::ThreadSensitiveContext scope;
    fb::sync_to_async(handler)();  // runs on this scope's own thread
  }                                // waits for that thread's work; only this fiber suspends
  // [example]
}
}  // namespace

int main() {
  fb::spawn(per_request).get();
  const bool own_thread = handler_thread != std::thread::id{} && handler_thread != std::this_thread::get_id();

  // [example]
  // on a plain thread:
  {
    fb::AsyncSingleThreadContext scope;
    fb::async_to_sync(a)();  // a and b both run on one private scheduler thread
    fb::async_to_sync(b)();
  }
  // [example]
  return own_thread && a_thread == b_thread ? 0 : 1;
}
