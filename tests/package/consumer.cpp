// tests/package/consumer.cpp — the smallest program against the installed package.
#include <fiberbridge/fiberbridge.hpp>

#include <cstdio>

namespace fb = fiberbridge;

int main() {
  const int v = fb::async_to_sync([] { return fb::sync_to_async([] { return 41; })() + 1; })();
  std::printf("consumer: %d\n", v);
  return v == 42 ? 0 : 1;
}
