// scheduler/stack_guard.hpp — a clear report when a fiber overflows its stack.
//
// Owns: the process's SIGSEGV handler (installed only if nobody else has one — sanitizers keep
// theirs) and an alternate signal stack per scheduler thread (the fiber stack is exhausted when
// the guard page is hit). The handler writes one line naming the cause and the fix, restores the
// default action and returns, so the fault repeats and the process dies with SIGSEGV as before.
#pragma once

#include <cstddef>

namespace fiberbridge::detail {

// Call on each scheduler thread before it runs fibers; `stack_size` goes into the message.
void install_stack_guard_reporting(std::size_t stack_size) noexcept;
// Call on the same thread before it exits (frees its alternate signal stack).
void remove_stack_guard_reporting() noexcept;

}  // namespace fiberbridge::detail
