// scheduler/stack_guard.cpp — see stack_guard.hpp. Everything in the handler is
// async-signal-safe: raw syscalls, no allocation, no stdio.
#include "scheduler/stack_guard.hpp"

#include "scheduler/stack_pool.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace fiberbridge::detail {

namespace {

std::atomic<std::size_t> g_stack_size{0};
thread_local void* tl_altstack = nullptr;

void write_str(const char* s) { (void)!::write(STDERR_FILENO, s, std::strlen(s)); }

void write_num(std::size_t v) {
  char buf[24];
  int i = sizeof buf;
  buf[--i] = '\0';
  do {
    buf[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && i > 0);
  write_str(buf + i);
}

// True if `addr` lies in a PROT_NONE mapping of /proc/self/maps (our guard pages).
bool in_guard_page(std::uintptr_t addr) {
  const int fd = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  std::size_t have = 0;
  bool found = false;
  for (;;) {
    const ssize_t n = ::read(fd, buf + have, sizeof buf - have);
    if (n <= 0) break;
    have += static_cast<std::size_t>(n);
    std::size_t start = 0;
    for (std::size_t i = 0; i < have; ++i) {
      if (buf[i] != '\n') continue;
      // "lo-hi perms ..."
      std::uintptr_t lo = 0, hi = 0;
      std::size_t j = start;
      for (; j < i && buf[j] != '-'; ++j) lo = lo * 16 + static_cast<std::uintptr_t>(buf[j] <= '9' ? buf[j] - '0' : buf[j] - 'a' + 10);
      for (++j; j < i && buf[j] != ' '; ++j) hi = hi * 16 + static_cast<std::uintptr_t>(buf[j] <= '9' ? buf[j] - '0' : buf[j] - 'a' + 10);
      if (addr >= lo && addr < hi && j + 4 < i && std::memcmp(buf + j + 1, "---p", 4) == 0) found = true;
      start = i + 1;
    }
    std::memmove(buf, buf + start, have - start);
    have -= start;
    if (found || have == sizeof buf) break;
  }
  ::close(fd);
  return found;
}

void on_segv(int sig, siginfo_t* info, void*) {
  const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
  if (tl_altstack != nullptr && (in_pooled_guard_page(addr) || in_guard_page(addr))) {
    write_str("fiberbridge: fiber stack overflow: a fiber ran past the guard page of its ");
    write_num(g_stack_size.load());
    write_str("-byte stack. Raise fiberbridge::RuntimeOptions::stack_size, or move large locals to the heap.\n");
  }
  ::signal(sig, SIG_DFL);  // returning re-executes the faulting access: the default action ends the process
}

void install_handler_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (::sigaction(SIGSEGV, nullptr, &old) != 0) return;
    if ((old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL) return;  // someone else's (ASan, ...)
    struct sigaction sa {};
    sa.sa_sigaction = &on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGSEGV, &sa, nullptr);
  });
}

}  // namespace

void install_stack_guard_reporting(std::size_t stack_size) noexcept {
  g_stack_size.store(stack_size);
  install_handler_once();
  const std::size_t size = 64 * 1024;
  void* mem = std::malloc(size);
  if (mem == nullptr) return;
  stack_t ss{};
  ss.ss_sp = mem;
  ss.ss_size = size;
  if (::sigaltstack(&ss, nullptr) != 0) {
    std::free(mem);
    return;
  }
  tl_altstack = mem;
}

void remove_stack_guard_reporting() noexcept {
  if (tl_altstack == nullptr) return;
  stack_t ss{};
  ss.ss_flags = SS_DISABLE;
  ::sigaltstack(&ss, nullptr);
  std::free(tl_altstack);
  tl_altstack = nullptr;
}

}  // namespace fiberbridge::detail
