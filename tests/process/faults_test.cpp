// tests/process/faults_test.cpp — resource failures surface as errors, never as hangs or
// silent corruption: a fiber stack that cannot be allocated, a blocking-pool thread that cannot
// be created, and a stack overflow (which must hit the guard page and crash loudly).
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <fiberbridge/fiberbridge.hpp>

#include <new>
#include <system_error>

#include "child_process.hpp"

namespace fb = fiberbridge;
using namespace std::chrono_literals;
using fbtest::run_in_child;

namespace {

TEST(Faults, SpawnWhoseStackCannotBeAllocatedThrowsBadAllocAndTheRuntimeStaysUsable) {
  auto r = run_in_child(
      [] {
        // 1 PiB per stack: more than the address space.
        fb::Runtime huge{fb::RuntimeOptions{.threads = 1, .stack_size = std::size_t{1} << 50}};
        try {
          huge.spawn([] { return 1; });
          return 1;
        } catch (const std::bad_alloc&) {
        }
        fb::Runtime rt{fb::RuntimeOptions{.threads = 1}};
        return rt.spawn([] { return 7; }).get() == 7 ? 0 : 2;
      },
      20s);
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
}

TEST(Faults, BlockingPoolThreadCreationFailureReachesTheCallingFiber) {
  auto r = run_in_child(
      [] {
        fb::Runtime rt{fb::RuntimeOptions{.threads = 1}};
        (void)rt.spawn([] { return 0; }).get();  // the worker and its first stacks exist
        // From now on no new thread can get a stack.
        rlimit lim{};
        ::getrlimit(RLIMIT_AS, &lim);
        long pages = 0;
        if (FILE* f = std::fopen("/proc/self/statm", "r")) {
          if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
          std::fclose(f);
        }
        lim.rlim_cur = static_cast<rlim_t>(pages) * 4096 + (2u << 20);
        ::setrlimit(RLIMIT_AS, &lim);
        auto t = rt.spawn([] {
          try {
            fb::sync_to_async([] { return 1; }, {.thread_sensitive = false})();
            return 1;  // a thread was created after all: not what this test checks
          } catch (const std::system_error&) {
            return 0;
          }
        });
        if (!t.wait_for(10s)) return 3;
        return t.get();
      },
      20s);
  ASSERT_FALSE(r.timed_out) << "a failed thread creation left the fiber waiting";
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
}

int deep(int n) {
  volatile char pad[1024];
  pad[0] = static_cast<char>(n);
  return n == 0 ? pad[0] : deep(n - 1) + pad[0];
}

TEST(Faults, StackOverflowHitsTheGuardPageAndCrashesLoudly) {
  auto r = run_in_child(
      [] {
        fb::Runtime rt{fb::RuntimeOptions{.threads = 1, .stack_size = 16 * 1024}};
        return rt.spawn([] { return deep(1 << 20); }).get() == 0 ? 0 : 1;
      },
      20s);
  ASSERT_FALSE(r.timed_out);
  EXPECT_FALSE(r.exited && r.exit_code == 0) << "a 1 GiB recursion on a 16 KiB fiber stack returned normally";
  // Our report, or the sanitizer's own (a sanitizer build keeps its SIGSEGV handler).
  const bool reported = r.stderr_text.find("fiber stack overflow") != std::string::npos ||
                        r.stderr_text.find("Sanitizer") != std::string::npos;
  EXPECT_TRUE(reported) << r.stderr_text;
}

}  // namespace
