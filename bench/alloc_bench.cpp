// Issue 13 — heap allocations per operation: how many times (and how many bytes) the whole
// process calls operator new / malloc for one spawn+join, one bridge call, one async_to_sync,
// counted by interposing malloc in this binary only (every thread, so the sync thread's and
// the pool's allocations for the call count too). Nothing is timed.
// Targets (issue 13): spawn+join <= 1, sync_to_async <= 1, async_to_sync <= 2. Baseline in the
// same binary: raw Boost.Fiber spawn+join on round_robin.
//
// usage: alloc_bench [--ops N]      prints one JSON object {"kind":"alloc", "results":[...]}
#include <boost/fiber/all.hpp>

#include <fiberbridge/fiberbridge.hpp>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <thread>
#include <vector>

// The count: glibc's malloc family, interposed in this executable (operator new, Boost's stack
// allocator and libstdc++ all end up here). Fiber stacks from the runtime's pool are mmap'ed
// slabs, not heap: they do not count.
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}

namespace {
std::atomic<std::uint64_t> g_allocs{0};
std::atomic<std::uint64_t> g_bytes{0};
inline void count(std::size_t n) noexcept {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(n, std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* malloc(std::size_t n) {
  count(n);
  return __libc_malloc(n);
}
void* calloc(std::size_t k, std::size_t n) {
  count(k * n);
  return __libc_calloc(k, n);
}
void* realloc(void* p, std::size_t n) {
  count(n);
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t a, std::size_t n) {
  count(n);
  return __libc_memalign(a, n);
}
void* memalign(std::size_t a, std::size_t n) {
  count(n);
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, std::size_t a, std::size_t n) {
  count(n);
  void* p = __libc_memalign(a, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
}

namespace {

namespace fb = fiberbridge;

struct Result {
  std::string op;
  double allocs = 0, bytes = 0;
  std::string target;
};

// Runs `op` `warm` times, then counts the allocations of `n` more runs (per op).
Result measure(const std::string& name, const std::string& target, long n, const std::function<void()>& op) {
  for (long i = 0; i < std::max(10L, n / 10); ++i) op();  // caches, pools and lazy threads settle
  const std::uint64_t a0 = g_allocs.load(), b0 = g_bytes.load();
  for (long i = 0; i < n; ++i) op();
  const std::uint64_t a1 = g_allocs.load(), b1 = g_bytes.load();
  return {name, static_cast<double>(a1 - a0) / n, static_cast<double>(b1 - b0) / n, target};
}

// Runs `loop` on a fiber of `rt` and waits for it (the measured ops then run on that fiber).
void on_fiber(fb::Runtime& rt, const std::function<void()>& loop) { rt.spawn([&] { loop(); }).get(); }

}  // namespace

int main(int argc, char** argv) {
  long n = 2000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
      n = std::strtol(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: alloc_bench [--ops N]\n");
      return 2;
    }
  }
  if (n < 1) n = 1;
  std::vector<Result> results;
  {
    fb::Runtime rt{fb::RuntimeOptions{.threads = 1, .name = "fb-alloc"}};
    on_fiber(rt, [&] {
      results.push_back(measure("spawn+join (on a fiber, 1-thread runtime)", "<= 1", n,
                                [] { fb::spawn([] {}).get(); }));
      results.push_back(measure("spawn+join, 256-byte body (on a fiber)", "<= 1", n, [] {
        std::array<char, 256> big{};
        fb::spawn([big] { (void)big; }).get();
      }));
      results.push_back(measure("yield", "0", n, [] { boost::this_fiber::yield(); }));
      results.push_back(measure("sync_to_async, thread-sensitive (sync thread)", "<= 1", n,
                                [] { fb::sync_to_async([] {})(); }));
      results.push_back(measure("sync_to_async, non-sensitive (blocking pool)", "<= 1", n,
                                [] { fb::sync_to_async([] {}, {.thread_sensitive = false})(); }));
    });
    results.push_back(measure("spawn+join (from a plain thread)", "(info)", n, [&rt] { rt.spawn([] {}).get(); }));
    results.push_back(measure("async_to_sync from a plain thread, trivial fiber", "<= 2", n,
                              [&rt] { fb::async_to_sync([] {}, {.runtime = &rt})(); }));
    results.push_back(measure("nested: async_to_sync -> one thread-sensitive sync_to_async", "(info)", n, [&rt] {
      fb::async_to_sync([] { fb::sync_to_async([] {})(); }, {.runtime = &rt})();
    }));
  }
  // Baseline: raw Boost.Fiber, on a fresh thread (its own round_robin scheduler).
  std::thread([&] {
    results.push_back(measure("raw Boost.Fiber spawn+join (round_robin, default stack)", "(baseline)", n, [] {
      boost::fibers::fiber f([] {});
      f.join();
    }));
  }).join();

  std::printf("{\"kind\":\"alloc\",\"ops\":%ld,\"results\":[", n);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    std::printf("%s{\"op\":\"%s\",\"allocs_per_op\":%.2f,\"bytes_per_op\":%.0f,\"target\":\"%s\"}", i ? "," : "",
                r.op.c_str(), r.allocs, r.bytes, r.target.c_str());
  }
  std::printf("]}\n");
  return 0;
}
