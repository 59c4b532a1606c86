// examples/headers/runtime.cpp — the example of <fiberbridge/runtime.hpp>: a runtime of two
// scheduler threads runs a named fiber. The code between the [example] marks is the header's
// example, word for word (ctest docs.header_examples checks it).
#include <fiberbridge/fiberbridge.hpp>

namespace fb = fiberbridge;

int main() {
  // [example]
  fb::Runtime rt{fb::RuntimeOptions{.threads = 2}};
  auto task = rt.spawn({.name = "add-one"}, [](int x) { return x + 1; }, 41);
  int answer = task.get();  // 42
  // [example]
  return answer == 42 && rt.threads() == 2 ? 0 : 1;
}
