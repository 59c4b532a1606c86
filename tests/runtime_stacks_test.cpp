// tests/runtime_stacks_test.cpp — the runtime's fiber stacks (src/scheduler/stack_pool): many
// suspended fibers do not cost a memory mapping each, more fibers than vm.max_map_count allowed
// before can be suspended at once, an idle runtime gives surplus stack memory back, and
// RuntimeOptions::stack_size is honoured (larger: deeper frames; tiny: raised to the minimum).
// A small task state lives at the top of its fiber's stack: the stack is reused only once the
// last Task handle is gone, and handles outlive the runtime; so does a sync_to_async call's
// block (the call slot), until a cancelled call's body is done.
// (Stack overflow hitting the guard page is tested in a child process: process/faults_test.)
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "fixtures.hpp"

namespace {

using namespace fbtest;

// Sanitizer builds switch fibers with ucontext (a signal-mask syscall per switch) and track
// every fiber: 40,000 of them take minutes there. The VMA claim is checked by the normal build.
#if defined(__SANITIZE_THREAD__)
constexpr int kSanitizerScale = 40;
#elif defined(__SANITIZE_ADDRESS__)
constexpr int kSanitizerScale = 10;
#else
constexpr int kSanitizerScale = 1;
#endif

std::size_t mapping_count() {
  std::ifstream maps("/proc/self/maps");
  std::size_t lines = 0;
  for (std::string line; std::getline(maps, line);) ++lines;
  return lines;
}

// Whether this kernel has MADV_GUARD_INSTALL (6.13+); without it the pool falls back to one
// mprotect'ed guard mapping per stack.
bool kernel_installs_guards() {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  void* p = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  const bool ok = ::madvise(p, page, 102 /* MADV_GUARD_INSTALL */) == 0;
  ::munmap(p, page);
  return ok;
}

// `count` fibers on `rt`, each touching `touch` bytes of its stack, all suspended at once while
// `while_suspended` runs on this thread; then released and joined.
// `stack_pages`, if given, receives one address inside each fiber's stack.
template <class F>
void with_suspended_fibers(fb::Runtime& rt, int count, std::size_t touch, F while_suspended,
                           std::vector<std::uintptr_t>* stack_pages = nullptr) {
  auto release = std::make_shared<FiberEvent>();
  auto all_started = std::make_shared<ThreadEvent>();
  auto started = std::make_shared<std::atomic<int>>(0);
  std::vector<fb::Task<void>> fibers;
  fibers.reserve(static_cast<std::size_t>(count));
  if (stack_pages != nullptr) stack_pages->assign(static_cast<std::size_t>(count), 0);
  for (int i = 0; i < count; ++i) {
    std::uintptr_t* page_out = stack_pages != nullptr ? &(*stack_pages)[static_cast<std::size_t>(i)] : nullptr;
    fibers.push_back(rt.spawn([=] {
      // The frame address is on the real stack even where ASan moves locals to a fake stack.
      if (page_out != nullptr) *page_out = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
      {
        auto touch_stack = [touch] {
          volatile char area[12 * 1024];  // stacks of these tests are 32 KiB
          for (std::size_t k = 0; k < touch && k < sizeof area; k += 512) area[sizeof area - 1 - k] = 1;
          return area[sizeof area - 1];
        };
        (void)touch_stack();
      }
      if (started->fetch_add(1) + 1 == count) all_started->set();
      release->wait("the release of the suspended fibers");
    }));
  }
  all_started->wait("every fiber suspended");
  while_suspended();
  release->set();
  for (auto& f : fibers) get_within(f, "a released fiber");
}

TEST(RuntimeStacks, SuspendedFibersShareTheirStackMappings) {
  if (!kernel_installs_guards()) GTEST_SKIP() << "kernel without MADV_GUARD_INSTALL: one guard mapping per stack";
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "TSan maps its own memory for every fiber (about 4 mappings each): the count says nothing of ours";
#endif
  fb::Runtime rt{fb::RuntimeOptions{.threads = 2, .stack_size = 32 * 1024}};
  const int count = 4000 / kSanitizerScale;
  const std::size_t before = mapping_count();
  std::size_t during = 0;
  with_suspended_fibers(rt, count, 1024, [&] { during = mapping_count(); });
  // A mapping per ~110 stacks (4 MiB slabs) plus what the test itself maps; two per stack before.
  EXPECT_LT(during - std::min(during, before), static_cast<std::size_t>(count / 20 + 50))
      << count << " suspended fibers added " << during - before << " mappings";
}

// 40,000 > 32,734: the point where one mmap + one guard mapping per stack ran out of
// vm.max_map_count (65530) and spawn threw std::bad_alloc.
TEST(RuntimeStacks, MoreSuspendedFibersThanOneMappingPerStackAllowed) {
  if (!kernel_installs_guards()) GTEST_SKIP() << "kernel without MADV_GUARD_INSTALL: one guard mapping per stack";
  fb::Runtime rt{fb::RuntimeOptions{.threads = 1, .stack_size = 32 * 1024}};
  const int count = 40000 / kSanitizerScale;
  bool all_suspended = false;
  with_suspended_fibers(rt, count, 0, [&] { all_suspended = true; });
  EXPECT_TRUE(all_suspended);
}

// How many of the pages holding `addresses` are resident (mincore), so the test watches the
// stacks themselves rather than the process RSS (which a sanitizer's shadow memory swamps).
std::size_t resident_pages(const std::vector<std::uintptr_t>& addresses) {
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  std::size_t resident = 0;
  for (const std::uintptr_t a : addresses) {
    unsigned char in_core = 0;
    if (::mincore(reinterpret_cast<void*>(a & ~(page - 1)), page, &in_core) == 0 && (in_core & 1) != 0) ++resident;
  }
  return resident;
}

TEST(RuntimeStacks, AnIdleRuntimeReturnsSurplusStackMemory) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 1, .stack_size = 32 * 1024}};
  constexpr int kCount = kSanitizerScale > 10 ? 1500 : 3000;  // the pool keeps 512 free 32 KiB stacks resident
  std::vector<std::uintptr_t> stacks;
  std::size_t while_suspended = 0;
  with_suspended_fibers(rt, kCount, 12 * 1024, [&] {}, &stacks);
  while_suspended = resident_pages(stacks);  // they were touched; nothing trims before 1 s idle
  // The runtime is idle now; it trims after a second of idleness. Poll up to the deadline.
  const auto give_up = std::chrono::steady_clock::now() + kDeadline;
  std::size_t now = resident_pages(stacks);
  while (now > kCount / 2 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(50ms);  // polling a kernel counter, not synchronising threads
    now = resident_pages(stacks);
  }
  EXPECT_LE(now, static_cast<std::size_t>(kCount / 2))
      << "stack pages of " << kCount << " finished fibers still resident after idling: " << now
      << " (right after they finished: " << while_suspended << ")";

  // The trimmed stacks and the ones kept resident are reused: as many fibers again run on the
  // same stacks (the same frame addresses), not on newly carved ones. A few may get stacks that
  // the runtime's own fibers used, or a thread's cache held (32), in the first round.
  std::vector<std::uintptr_t> again;
  with_suspended_fibers(rt, kCount, 12 * 1024, [&] {}, &again);
  std::sort(stacks.begin(), stacks.end());
  std::size_t reused = 0;
  for (const std::uintptr_t a : again) reused += std::binary_search(stacks.begin(), stacks.end(), a) ? 1 : 0;
  EXPECT_GE(reused, static_cast<std::size_t>(kCount - 64)) << "fibers of the second round on a stack of the first";
}

// A larger stack_size allows deeper frames.
TEST(Runtime, LargerStackSizeAllowsDeeperFrames) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 1, .stack_size = 512 * 1024}};
  auto t = rt.spawn([] {
    constexpr std::size_t kBig = 256 * 1024;  // more than the 64 KiB default stack
    volatile char big[kBig];
    big[0] = 1;
    big[kBig - 1] = 2;
    return big[0] + big[kBig - 1];
  });
  EXPECT_EQ(get_within(t), 3);
}

// A stack size below what a fiber needs is raised to the usable minimum: a fiber that blocks in
// Boost.Fiber (needs ~6 KiB) still runs.
TEST(RuntimeStacks, TinyStackSizeIsRaisedToTheUsableMinimum) {
  fb::Runtime tiny{fb::RuntimeOptions{.threads = 1, .stack_size = 1}};
  EXPECT_EQ(get_within(tiny.spawn([] { return fb::sync_to_async([] { return 3; })(); }), "tiny stack"), 3);
}

// A fiber that reports where its frame is: fibers of this one type place their frames alike,
// so equal addresses mean the same stack.
fb::Task<int> spawn_frame_probe(std::uintptr_t* frame) {
  return fb::spawn([frame] {
    *frame = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    return 7;
  });
}

// A finished task's state (in its stack) is readable while a handle lives: the stack is not
// handed to the next fiber until the handle goes, and it is reused (LIFO) right after.
TEST(RuntimeStacks, AFinishedTaskKeepsItsStackUntilItsLastHandleGoes) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 1}};
  auto outcome = rt.spawn([] {
    std::uintptr_t first = 0, second = 0, third = 0;
    fb::Task<int> held = spawn_frame_probe(&first);
    held.wait();
    boost::this_fiber::yield();  // Boost releases the finished fiber (and its hold on the stack)
    fb::Task<int> other = spawn_frame_probe(&second);
    other.wait();
    boost::this_fiber::yield();
    if (second == first) return std::string("a stack was reused while its task's handle still held the task");
    if (held.get() != 7) return std::string("the held task lost its value");  // get() lets go of the task
    fb::Task<int> after = spawn_frame_probe(&third);
    after.wait();
    if (third != first) return std::string("the stack of a released task was not reused (LIFO) by the next spawn");
    return std::string();
  });
  EXPECT_EQ(get_within(outcome), "");
}

// Handles outlive their runtime: values of small (in-stack) and large (heap) task states stay
// readable after ~Runtime, and dropping the handles then returns the last stacks (ASan checks
// that nothing touches freed memory).
TEST(RuntimeStacks, TaskHandlesOutliveTheRuntime) {
  std::vector<fb::Task<std::string>> small;
  std::vector<fb::Task<std::string>> large;
  {
    fb::Runtime rt{fb::RuntimeOptions{.threads = 2}};
    for (int i = 0; i < 50; ++i) {
      small.push_back(rt.spawn([i] { return "small " + std::to_string(i); }));
      std::array<char, 2048> ballast{};  // larger than kStateInStackMax: this state is allocated
      ballast[0] = static_cast<char>('a' + i % 26);
      large.push_back(rt.spawn([i, ballast] { return std::string(1, ballast[0]) + std::to_string(i); }));
    }
    for (auto& t : small) ASSERT_TRUE(t.wait_for(kDeadline)) << "a small task";
    for (auto& t : large) ASSERT_TRUE(t.wait_for(kDeadline)) << "a large task";
  }
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(small[static_cast<std::size_t>(i)].get(), "small " + std::to_string(i));
    EXPECT_EQ(large[static_cast<std::size_t>(i)].get(), std::string(1, static_cast<char>('a' + i % 26)) + std::to_string(i));
  }
  small.clear();  // the runtime's stack pool goes with the last of these
  large.clear();
}

// A sync_to_async call's block lives in its fiber's call slot. When the caller is cancelled
// the body runs on detached and the fiber ends: the stack must not go to another fiber before
// the body is done with its block. Fibers spawned meanwhile (each putting a block of its own
// in its call slot) get other stacks, and the body finds its captures intact.
TEST(RuntimeStacks, ACancelledCallKeepsItsFibersStackUntilTheBodyIsDone) {
  fb::Runtime rt{fb::RuntimeOptions{.threads = 1}};
  auto b = std::make_shared<BlockingBody>();
  std::array<std::uint64_t, 8> pattern;
  pattern.fill(0xA5A5A5A5A5A5A5A5ull);
  std::atomic<std::uintptr_t> caller_frame{0};
  std::atomic<bool> intact{false};
  auto caller = rt.spawn([b, pattern, &caller_frame, &intact] {
    caller_frame = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
    return fb::sync_to_async([b, pattern, &intact] {
      b->started.set();
      b->release.wait("body release");
      bool same = true;
      for (std::uint64_t v : pattern) same = same && v == 0xA5A5A5A5A5A5A5A5ull;
      intact = same;
      b->finished.set();
      return 1;
    })();
  });
  b->started.wait("the body to start");
  caller.request_stop();
  EXPECT_THROW(get_within(caller), fb::CancelledError);
  for (int i = 0; i < 8; ++i) {
    auto other = rt.spawn([i] {
      std::array<std::uint64_t, 8> fill;
      fill.fill(~std::uint64_t{0} - static_cast<std::uint64_t>(i));
      const auto frame = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
      // Its block in its call slot (on the pool: the sync thread is busy with the first body).
      (void)fb::sync_to_async([fill] { return fill[0]; }, fb::SyncToAsyncOptions{.thread_sensitive = false})();
      return frame;
    });
    EXPECT_NE(get_within(other), caller_frame.load()) << "fiber " << i << " got the stack of the cancelled call";
  }
  b->release.set();
  b->finished.wait("the body to finish");
  EXPECT_TRUE(intact.load()) << "the body's captures were overwritten while it ran";
}

}  // namespace
