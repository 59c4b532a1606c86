// tests/process/child_process.hpp — run a scenario in a forked child with a deadline.
//
// Shutdown and fault scenarios end the process (exit, crash, resource limits), so each runs
// in its own child. The parent never creates a runtime or a thread, which keeps fork safe.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

namespace fbtest {

struct ChildResult {
  bool timed_out = false;
  bool exited = false;
  int exit_code = -1;
  int signal = 0;
  double seconds = 0;
  std::string stderr_text;  // what the child wrote to stderr
};

// Runs `scenario` in a child; the child exits with the int it returns (unless it crashes).
// A child still running at `deadline` is killed and reported as timed out.
inline ChildResult run_in_child(const std::function<int()>& scenario, std::chrono::milliseconds deadline) {
  std::fflush(nullptr);
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) std::abort();
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    const int code = scenario();
    std::fflush(nullptr);
    std::exit(code);  // a normal exit: runs atexit handlers and static destructors
  }
  ::close(pipe_fds[1]);
  ::fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
  ChildResult r;
  auto drain = [&] {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(pipe_fds[0], buf, sizeof buf)) > 0) r.stderr_text.append(buf, static_cast<std::size_t>(n));
  };
  int status = 0;
  for (;;) {
    drain();
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
  drain();
  ::close(pipe_fds[0]);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!r.timed_out) {
    r.exited = WIFEXITED(status);
    r.exit_code = r.exited ? WEXITSTATUS(status) : -1;
    r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
  return r;
}

}  // namespace fbtest
