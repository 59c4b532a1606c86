// tests/process/child_process.hpp — run a scenario in a forked child with a deadline.
//
// Shutdown and fault scenarios end the process (exit, crash, resource limits), so each runs
// in its own child. The parent never creates a runtime or a thread, which keeps fork safe.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>

namespace fbtest {

struct ChildResult {
  bool timed_out = false;
  bool exited = false;
  int exit_code = -1;
  int signal = 0;
  double seconds = 0;
};

// Runs `scenario` in a child; the child exits with the int it returns (unless it crashes).
// A child still running at `deadline` is killed and reported as timed out.
inline ChildResult run_in_child(const std::function<int()>& scenario, std::chrono::milliseconds deadline) {
  std::fflush(nullptr);
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int code = scenario();
    std::fflush(nullptr);
    std::exit(code);  // a normal exit: runs atexit handlers and static destructors
  }
  ChildResult r;
  int status = 0;
  for (;;) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() - start > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a child, not synchronising
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!r.timed_out) {
    r.exited = WIFEXITED(status);
    r.exit_code = r.exited ? WEXITSTATUS(status) : -1;
    r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
  return r;
}

}  // namespace fbtest
