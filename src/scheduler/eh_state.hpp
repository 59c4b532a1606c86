// scheduler/eh_state.hpp — the C++ runtime's exception-handling state, kept per fiber.
//
// Why: the Itanium C++ ABI (libstdc++'s libsupc++, libc++abi) keeps, per OS thread, the stack
// of exceptions being handled (what std::current_exception() and `throw;` read) and the count
// of exceptions thrown but not yet caught (std::uncaught_exceptions()), in the record that
// __cxa_get_globals() returns. Fibers interleave on one thread and migrate between threads, so
// a fiber that suspends inside a catch block, or in a destructor that runs during unwinding,
// would resume with whatever that thread's record says by then: another fiber's exception, or
// none (then `throw;` calls std::terminate). The scheduling algorithm therefore saves the
// thread's record into the outgoing context and loads the incoming context's at every switch it
// decides (folly's fibers do the same).
#pragma once

#include <cxxabi.h>

namespace fiberbridge::detail {

// Mirrors __cxa_eh_globals (unwind-cxx.h in libsupc++, cxa_exception.h in libc++abi).
struct EhState {
  void* caught = nullptr;  // __cxa_exception* caughtExceptions: the handled-exceptions stack
  unsigned int uncaught = 0;  // uncaughtExceptions
#if defined(__arm__) && !defined(__aarch64__) && defined(__ARM_EABI_UNWINDER__)
  void* propagating = nullptr;  // ARM EHABI only
#endif
};

// This thread's record. The address is fixed for the thread's lifetime, so a scheduler thread
// looks it up once.
inline EhState* thread_eh_state() noexcept { return reinterpret_cast<EhState*>(abi::__cxa_get_globals()); }

// The switch: `from` gets the thread's state, the thread gets `to`'s.
inline void swap_eh_state(EhState* thread, EhState* from, const EhState* to) noexcept {
  if (from != nullptr) *from = *thread;
  *thread = to != nullptr ? *to : EhState{};
}

}  // namespace fiberbridge::detail
