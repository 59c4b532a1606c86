// bridge/private_loop.hpp — the AsyncSingleThreadContext of the calling plain thread.
//
// Owns: per plain thread, the one-thread Runtime of the outermost AsyncSingleThreadContext
// and the nesting depth. Plain-thread state only, so thread_local is safe.
#pragma once

namespace fiberbridge {
class Runtime;
}

namespace fiberbridge::detail {

struct AsyncSingleThread {
  // The runtime of this thread's active AsyncSingleThreadContext, or nullptr.
  static Runtime* current_runtime() noexcept;
};

}  // namespace fiberbridge::detail
