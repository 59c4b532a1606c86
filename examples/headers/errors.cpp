// examples/headers/errors.cpp — the example of <fiberbridge/errors.hpp>: a misuse raises an
// error whose message says what to do instead. The code between the [example] marks is the
// header's example, word for word (ctest docs.header_examples checks it).
#include <fiberbridge/fiberbridge.hpp>

#include <cstdio>

namespace fb = fiberbridge;

namespace {
int load() { return 1; }
}  // namespace

int main() {
  // [example]
  try {
    fb::sync_to_async(load)();  // on a plain thread: misuse
  } catch (const fb::NotInFiberError& e) {
    std::puts(e.what());  // says what to do instead
    return 0;
  }
  // [example]
  return 1;  // not reached: the call throws
}
