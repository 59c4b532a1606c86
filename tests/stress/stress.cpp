// tests/stress/stress.cpp — thousands of fibers on several runtimes at once, each doing nested
// bridges (sync->async->sync, up to four layers), thread-sensitive and pool calls, context
// variables, random cancellations and exceptions, checked by an invariant checker:
//  * every call returns exactly once, with the right value or the right exception object;
//  * every spawned fiber finishes (none lost), within a deadline;
//  * threads do not leak (count of /proc/self/task after the runtimes are gone);
//  * RSS stays bounded (sampled every wave).
// Usage: stress [--seconds N] [--fibers N] [--runtimes N] [--seed N]
#include <fiberbridge/fiberbridge.hpp>

#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fb = fiberbridge;
using namespace std::chrono_literals;

namespace {

fb::ContextVar<long> g_request{"stress.request"};

std::atomic<long> g_calls{0};
std::atomic<long> g_failures{0};

void fail(const char* what, long detail) {
  if (g_failures.fetch_add(1) >= 20) return;  // the first ones tell the story
  std::fprintf(stderr, "stress: INVARIANT BROKEN: %s (%ld)\n", what, detail);
}

long thread_count() {
  long n = 0;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

long rss_kib() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

struct Marked : std::runtime_error {
  explicit Marked(long v) : std::runtime_error("marked"), value(v) {}
  long value;
};

// sync -> async -> sync ... `layers` deep, starting on a fiber. The innermost body must run on
// the thread of the body that called async_to_sync (routing rule 1) and see the context value.
long nested(int layers, long value) {
  return fb::sync_to_async([layers, value] {
    g_calls.fetch_add(1, std::memory_order_relaxed);
    const auto outer_thread = std::this_thread::get_id();
    if (layers <= 1) return value;
    return fb::async_to_sync([layers, value, outer_thread] {
      return fb::sync_to_async([layers, value, outer_thread] {
        if (std::this_thread::get_id() != outer_thread) fail("rule 1: inner body not on the parked thread", layers);
        return layers > 2 ? fb::async_to_sync([layers, value] { return nested(layers - 2, value); })() : value;
      })();
    })();
  })();
}

// One request: a random mix of the scenarios; returns normally iff all invariants held.
void request(long id, std::uint32_t seed) {
  std::mt19937 rng(seed);
  g_request.set(id);
  switch (rng() % 5) {
    case 0: {  // nested bridges, 2 to 4 layers
      const int layers = 2 + static_cast<int>(rng() % 3);
      if (nested(layers, id) != id) fail("nested value", id);
      break;
    }
    case 1: {  // pool calls
      for (int i = 0; i < 4; ++i) {
        const long v = fb::sync_to_async([i, id] { g_calls.fetch_add(1, std::memory_order_relaxed); return id * 10 + i; },
                                         {.thread_sensitive = false})();
        if (v != id * 10 + i) fail("pool value", id);
      }
      break;
    }
    case 2: {  // context variables through a bridge, in and back out
      const long seen = fb::sync_to_async([] {
        g_calls.fetch_add(1, std::memory_order_relaxed);
        const long v = g_request.value_or(-1);
        g_request.set(v + 1);
        return v;
      })();
      if (seen != id) fail("context copy-in", id);
      if (g_request.value_or(-1) != id + 1) fail("context copy-back", id);
      break;
    }
    case 3: {  // exceptions cross both bridges as the same object
      const Marked* thrown = nullptr;
      try {
        fb::sync_to_async([&thrown, id] {
          g_calls.fetch_add(1, std::memory_order_relaxed);
          fb::async_to_sync([&thrown, id] {
            auto e = std::make_exception_ptr(Marked(id));
            try {
              std::rethrow_exception(e);
            } catch (const Marked& m) {
              thrown = &m;
            }
            std::rethrow_exception(e);
          })();
        })();
        fail("exception lost", id);
      } catch (const Marked& m) {
        if (m.value != id || &m != thrown) fail("exception identity", id);
      }
      break;
    }
    default: {  // a spawned child is cancelled while its body blocks
      auto child = fb::spawn([] {
        return fb::sync_to_async(
            [](std::stop_token st) {
              g_calls.fetch_add(1, std::memory_order_relaxed);
              while (!st.stop_requested()) std::this_thread::sleep_for(200us);
              return 1;
            },
            {.thread_sensitive = false})();
      });
      boost::this_fiber::yield();
      child.request_stop();
      try {
        child.get();
        fail("cancelled child returned normally", id);
      } catch (const fb::CancelledError&) {
      }
      break;
    }
  }
}

long arg(int argc, char** argv, const char* name, long fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) {
      long v = 0;
      auto [p, ec] = std::from_chars(argv[i + 1], argv[i + 1] + std::strlen(argv[i + 1]), v);
      if (ec != std::errc() || *p != '\0' || v < 0) {
        std::fprintf(stderr, "stress: %s wants a non-negative number, got '%s'\n", name, argv[i + 1]);
        std::exit(2);
      }
      return v;
    }
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const long seconds = arg(argc, argv, "--seconds", 5);
  const long fibers = arg(argc, argv, "--fibers", 2000);
  const long runtimes = std::max(1L, arg(argc, argv, "--runtimes", 3));
  const auto seed = static_cast<std::uint32_t>(arg(argc, argv, "--seed", 12345));

  // Watchdog: a hang fails loudly instead of stalling CI.
  std::thread([seconds] {
    std::this_thread::sleep_for(std::chrono::seconds(seconds * 4 + 120));
    std::fprintf(stderr, "stress: HANG - still running %ld s after the deadline\n", seconds * 3 + 120);
    std::_Exit(3);
  }).detach();

  const long threads_before = thread_count();
  long waves = 0, spawned = 0, finished = 0, peak_rss = 0, first_rss = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  {
    std::vector<std::unique_ptr<fb::Runtime>> rts;
    for (long r = 0; r < runtimes; ++r)
      rts.push_back(std::make_unique<fb::Runtime>(fb::RuntimeOptions{.threads = 2, .stack_size = 64 * 1024}));
    std::mt19937 rng(seed);
    do {
      std::vector<fb::Task<void>> tasks;
      tasks.reserve(static_cast<std::size_t>(fibers));
      for (long i = 0; i < fibers; ++i, ++spawned)
        tasks.push_back(rts[static_cast<std::size_t>(i % runtimes)]->spawn(request, spawned, rng()));
      for (auto& t : tasks) {
        if (!t.wait_for(60s)) {
          fail("fiber did not finish within 60 s", waves);
          std::_Exit(4);
        }
        try {
          t.get();
          ++finished;
        } catch (const std::exception& e) {
          std::fprintf(stderr, "stress: unexpected exception: %s\n", e.what());
          fail("request threw", waves);
        }
      }
      ++waves;
      const long rss = rss_kib();
      if (first_rss == 0) first_rss = rss;
      peak_rss = std::max(peak_rss, rss);
    } while (std::chrono::steady_clock::now() < until);
  }  // runtimes destroyed here

  const long threads_after = thread_count();
  // Process-wide threads that may legitimately remain: the sync thread, the reused blocking
  // pool (bounded), the watchdog, and thread-sensitive threads that are exiting.
  if (threads_after > threads_before + 260) fail("threads leaked", threads_after - threads_before);
  if (spawned != finished) fail("fibers lost", spawned - finished);
  if (peak_rss > first_rss * 4 + 256 * 1024) fail("RSS grew without bound (KiB)", peak_rss);

  std::printf(
      "stress: %ld runtimes x %ld fibers/wave x %ld waves in %ld s: %ld fibers, %ld bridge calls, up to 4 layers; "
      "RSS first %ld KiB peak %ld KiB; threads %ld -> %ld; failures %ld\n",
      runtimes, fibers, waves, seconds, finished, g_calls.load(), first_rss, peak_rss, threads_before, threads_after,
      g_failures.load());
  return g_failures.load() == 0 ? 0 : 1;
}
