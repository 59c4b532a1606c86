// examples/headers/context.cpp — the example of <fiberbridge/context.hpp>: a context variable
// set on a fiber is seen by the blocking body it calls through sync_to_async. The code between
// the [example] marks is the header's example, word for word (ctest docs.header_examples
// checks it).
#include <fiberbridge/fiberbridge.hpp>

#include <string>

namespace fb = fiberbridge;

namespace {
std::string logged;
void log(const std::string& line) { logged = line; }
}  // namespace

int main() {
  fb::async_to_sync([] {
    // [example]
    static fb::ContextVar<std::string> request_id{"request_id"};
    request_id.set("r-1");
    fb::sync_to_async([] { log(*request_id.get()); })();  // the body sees "r-1"
    // [example]
  })();
  return logged == "r-1" ? 0 : 1;
}
