// observe/stack_capture.cpp — see stack_capture.hpp.
#include "observe/stack_capture.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace fiberbridge::detail {

namespace {

enum : int { kIdle, kRequested, kCapturing, kDone };
constexpr int kMaxFrames = 48;

struct Slot {
  std::atomic<int> state{kIdle};
  void* frames[kMaxFrames];
  int count = 0;
};
Slot slot;

void on_sigurg(int) {
  const int saved_errno = errno;
  int expected = kRequested;
  if (slot.state.compare_exchange_strong(expected, kCapturing, std::memory_order_acquire)) {
    slot.count = ::backtrace(slot.frames, kMaxFrames);
    slot.state.store(kDone, std::memory_order_release);
  }
  errno = saved_errno;
}

bool install_once() {
  static const bool installed = [] {
    // backtrace() loads libgcc_s on first use (malloc): do it here, never in the handler.
    void* warm[2];
    (void)::backtrace(warm, 2);
    struct sigaction old {};
    if (::sigaction(SIGURG, nullptr, &old) != 0) return false;
    if (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO) != 0) return false;  // the program's own
    struct sigaction sa {};
    sa.sa_handler = &on_sigurg;
    sa.sa_flags = SA_RESTART;
    ::sigemptyset(&sa.sa_mask);
    return ::sigaction(SIGURG, &sa, nullptr) == 0;
  }();
  return installed;
}

std::string symbolize(void* const* frames, int count) {
  std::string out;
  // Frame 0 is the handler, 1 the kernel's signal trampoline: start at the interrupted code.
  for (int i = 2; i < count; ++i) {
    char line[512];
    Dl_info info{};
    const char* name = nullptr;
    char* demangled = nullptr;
    std::uintptr_t offset = 0;
    if (::dladdr(frames[i], &info) != 0) {
      if (info.dli_sname != nullptr) {
        int status = 0;
        demangled = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
        name = demangled != nullptr ? demangled : info.dli_sname;
        offset = reinterpret_cast<std::uintptr_t>(frames[i]) - reinterpret_cast<std::uintptr_t>(info.dli_saddr);
      } else if (info.dli_fbase != nullptr) {
        offset = reinterpret_cast<std::uintptr_t>(frames[i]) - reinterpret_cast<std::uintptr_t>(info.dli_fbase);
      }
    }
    const char* module = info.dli_fname != nullptr ? info.dli_fname : "?";
    if (name != nullptr)
      std::snprintf(line, sizeof line, "  #%-2d %p %.300s+0x%zx (%s)\n", i - 2, frames[i], name,
                    static_cast<std::size_t>(offset), module);
    else
      std::snprintf(line, sizeof line, "  #%-2d %p %s+0x%zx\n", i - 2, frames[i], module,
                    static_cast<std::size_t>(offset));
    std::free(demangled);
    out += line;
  }
  return out;
}

}  // namespace

std::string capture_stack(pthread_t thread, std::chrono::milliseconds wait) {
  if (!install_once()) return {};
  int expected = kIdle;
  if (!slot.state.compare_exchange_strong(expected, kRequested)) return {};
  if (::pthread_kill(thread, SIGURG) != 0) {
    slot.state.store(kIdle);
    return {};
  }
  const auto give_up = std::chrono::steady_clock::now() + wait;
  for (;;) {
    const int s = slot.state.load(std::memory_order_acquire);
    if (s == kDone) break;
    if (s == kRequested && std::chrono::steady_clock::now() >= give_up) {
      int req = kRequested;
      if (slot.state.compare_exchange_strong(req, kIdle)) return {};  // never answered
      continue;  // the handler started meanwhile: wait for it
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  std::string text = symbolize(slot.frames, slot.count);
  slot.state.store(kIdle, std::memory_order_release);
  return text;
}

}  // namespace fiberbridge::detail
