// examples/headers/fiberbridge.cpp — the example of <fiberbridge/fiberbridge.hpp>: a whole
// program. The code between the [example] marks is the header's example, word for word (ctest
// docs.header_examples checks it).
// [example]
#include <fiberbridge/fiberbridge.hpp>

namespace fb = fiberbridge;

int main() {
  int n = fb::async_to_sync([] { return fb::sync_to_async([] { return 41; })() + 1; })();
  return n == 42 ? 0 : 1;
}
// [example]
