// observe/stack_capture.hpp — the call stack of another thread of this process, as text.
//
// How: the watchdog sends the thread SIGURG (ignored by default, rarely used: Go preempts
// goroutines with it for the same reason); the handler records the return addresses with
// backtrace() into one static slot; the watchdog symbolizes them (dladdr, demangled) on its own
// thread. Used only if SIGURG still has its default disposition when first needed (a program
// that handles SIGURG itself keeps it, and reports have no stack). One capture at a time
// (the caller serialises).
#pragma once

#include <pthread.h>

#include <chrono>
#include <string>

namespace fiberbridge::detail {

// Empty if unavailable (SIGURG taken, the thread did not answer within `wait`).
std::string capture_stack(pthread_t thread, std::chrono::milliseconds wait);

}  // namespace fiberbridge::detail
