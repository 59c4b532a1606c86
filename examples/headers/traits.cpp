// examples/headers/traits.cpp — the example of <fiberbridge/traits.hpp>: marking fiber code as
// async, so that sync_to_async refuses it at compile time. The code between the [example] marks
// is the header's example, word for word (ctest docs.header_examples checks it).
#include <fiberbridge/fiberbridge.hpp>

namespace fb = fiberbridge;

namespace {
int fetch() { return 3; }
int f() { return 4; }
}  // namespace

int main() {
  // [example]
  auto a = fb::mark_async([] { return fetch(); });  // "this already runs as fiber code"
  static_assert(fb::is_async_callable_v<decltype(a)>);
  static_assert(fb::is_async_callable_v<decltype(fb::sync_to_async(f))>);
  // [example]
  static_assert(!fb::is_async_callable_v<decltype(f)>);
  return a() == 3 ? 0 : 1;
}
