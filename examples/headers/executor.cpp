// examples/headers/executor.cpp — the example of <fiberbridge/executor.hpp>: an executor of
// one's own for non-thread-sensitive bodies. The code between the [example] marks is the
// header's example, word for word (ctest docs.header_examples checks it).
#include <fiberbridge/fiberbridge.hpp>

#include <functional>

namespace fb = fiberbridge;

namespace {
int blocking_fn() { return 7; }
}  // namespace

int main() {
  const int result = fb::async_to_sync([] {
    // [example]
    struct Inline : fb::Executor {
      void execute(std::function<void()> w) override { w(); }
    };
    Inline ex;
    auto r = fb::sync_to_async(blocking_fn, {.thread_sensitive = false, .executor = &ex})();
    // [example]
    return r;
  })();
  return result == 7 ? 0 : 1;
}
