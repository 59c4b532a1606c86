// examples/headers/task.cpp — the example of <fiberbridge/task.hpp>: spawn a fiber, take its
// result. The code between the [example] marks is the header's example, word for word (ctest
// docs.header_examples checks it).
#include <fiberbridge/fiberbridge.hpp>

namespace fb = fiberbridge;

int main() {
  // [example]
  fb::Runtime rt;
  fb::Task<int> t = rt.spawn([] { return 6 * 7; });
  int v = t.get();  // a plain thread parks; a fiber suspends only itself
  // [example]
  return v == 42 && !t.valid() ? 0 : 1;  // get() consumed the result
}
