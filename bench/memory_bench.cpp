// P8 — memory per suspended fiber: N fibers each blocked in a bridge, measured in a fresh forked
// process per variant (RSS and VSZ from /proc/self/statm, VMAs from /proc/self/maps, before and
// after). Prints one JSON object.
//   ours      : fiberbridge Runtime (1 thread, given stack size); every fiber is suspended in a
//               thread-sensitive sync_to_async whose first body blocks the sync thread, so the
//               other N-1 calls wait queued: N fibers blocked in the bridge.
//   raw       : raw Boost.Fiber, round_robin, default fixedsize_stack; every fiber blocked in
//               boost::fibers::future::get (the bridge's waiting primitive).
// What counts is what the runtime holds per fiber: the caller's vector of handles (8 B each) is
// faulted in before the first sample, and sample() runs once before it (its own first run faults
// in I/O code and buffers: about 450 KiB, 4.5 B per fiber at 100,000, counted until 2026-12-03).
// Target: ours <= 4 KB RSS per fiber at 100,000; 1,000,000 suspended fibers must run.
//
// usage: memory_bench [--count N] [--variants ours,ours16k,raw,raw16k] [--timeout-s S]
#include <boost/fiber/all.hpp>

#include <fiberbridge/fiberbridge.hpp>

#include <linux/futex.h>
#include <malloc.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fb = fiberbridge;

namespace {

struct Sample {
  long rss = 0, vsz = 0, maps = 0;
  long heap = 0;  // bytes allocated by malloc (all arenas, mmapped chunks included)
};

Sample sample() {
  Sample s;
  const long page = ::sysconf(_SC_PAGESIZE);
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  s.vsz = size * page;
  s.rss = resident * page;
  const struct mallinfo2 mi = ::mallinfo2();
  s.heap = static_cast<long>(mi.uordblks + mi.hblkhd);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) ++s.maps;
  return s;
}

void futex_wait(std::atomic<std::uint32_t>* w, std::uint32_t v) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(w), FUTEX_WAIT_PRIVATE, v, nullptr, nullptr, 0);
}

struct Result {
  bool ours = false;  // stacks from the runtime's pool: RSS beyond the malloc'd bytes is stack pages
  long reached = 0;
  Sample before, after;
  std::string error;
};

bool wait_for_count(const std::atomic<long>& entered, long want, double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (entered.load() < want) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the last ones reach their wait
  return true;
}

Result run_ours(long n, std::size_t stack, double timeout_s) {
  Result r;
  fb::RuntimeOptions o;
  o.threads = 1;
  o.stack_size = stack;
  static std::atomic<std::uint32_t> gate{0};
  static std::atomic<long> entered{0};
  try {
    fb::Runtime rt(o);
    rt.spawn([] { fb::sync_to_async([] { return 0; })(); }).get();  // the sync thread exists
    std::vector<fb::Task<void>> tasks(static_cast<std::size_t>(n));  // the caller's handles
    auto blocker = [] {
      while (gate.load() == 0) futex_wait(&gate, 0);
      return 0;
    };
    (void)sample();  // its own first run faults in code and buffers: not the fibers'
    r.before = sample();
    try {
      for (long i = 0; i < n; ++i) {
        tasks[static_cast<std::size_t>(i)] = rt.spawn([blocker] {
          entered.fetch_add(1);
          fb::sync_to_async(blocker)();
        });
        ++r.reached;
      }
    } catch (const std::exception& e) {
      r.error = std::string("spawn #") + std::to_string(r.reached) + " failed: " + e.what();
    }
    if (!wait_for_count(entered, r.reached, timeout_s)) r.error += " (timed out waiting for fibers to block)";
    r.after = sample();
    r.ours = true;
    std::fflush(nullptr);
    // No teardown: the child exits right after reporting (100k blocked fibers need no cleanup).
    return r;
  } catch (const std::exception& e) {
    r.error = e.what();
    return r;
  }
}

Result run_raw(long n, std::size_t stack, double timeout_s) {
  Result r;
  static std::atomic<long> entered{0};
  std::atomic<bool> spawned{false};
  std::string error;
  long reached = 0;
  Sample before;
  std::thread t([&] {
    std::vector<boost::fibers::promise<int>> promises(static_cast<std::size_t>(n));
    std::vector<boost::fibers::fiber> fibers(static_cast<std::size_t>(n));  // the caller's handles
    (void)sample();
    before = sample();
    boost::fibers::fixedsize_stack salloc = stack ? boost::fibers::fixedsize_stack(stack) : boost::fibers::fixedsize_stack();
    try {
      for (long i = 0; i < n; ++i) {
        auto f = promises[static_cast<std::size_t>(i)].get_future();
        fibers[static_cast<std::size_t>(i)] = boost::fibers::fiber(std::allocator_arg, salloc, [f = std::move(f)]() mutable {
          entered.fetch_add(1);
          (void)f.get();
        });
        ++reached;
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
    spawned = true;
    while (entered.load() < reached) boost::this_fiber::yield();
    // Block this thread (and its fibers) for good; the child exits without teardown.
    std::atomic<std::uint32_t> never{0};
    for (;;) futex_wait(&never, 0);
  });
  t.detach();
  while (!spawned.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (!wait_for_count(entered, reached, timeout_s)) error += " (timed out)";
  r.before = before;
  r.reached = reached;
  r.after = sample();
  r.error = error;
  return r;
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    o += c;
  }
  return o;
}

std::string run_variant(const std::string& name, long n, double timeout_s) {
  Result r;
  std::size_t stack = 0;
  if (name == "ours") {
    stack = 64 * 1024;  // RuntimeOptions default
    r = run_ours(n, stack, timeout_s);
  } else if (name == "ours16k") {
    stack = 16 * 1024;
    r = run_ours(n, stack, timeout_s);
  } else if (name == "raw") {
    stack = 0;  // Boost's default fixedsize_stack
    r = run_raw(n, 0, timeout_s);
    stack = boost::fibers::fixedsize_stack::traits_type::default_size();
  } else if (name == "raw16k") {
    stack = 16 * 1024;
    r = run_raw(n, stack, timeout_s);
  } else {
    r.error = "unknown variant";
  }
  const double k = r.reached > 0 ? static_cast<double>(r.reached) : 1.0;
  std::ostringstream os;
  os << "{\"variant\":\"" << name << "\",\"requested\":" << n << ",\"reached\":" << r.reached
     << ",\"stack_size\":" << stack << ",\"ok\":" << ((r.reached == n && r.error.empty()) ? "true" : "false")
     << ",\"rss_bytes_per_fiber\":" << static_cast<double>(r.after.rss - r.before.rss) / k
     << ",\"vsz_bytes_per_fiber\":" << static_cast<double>(r.after.vsz - r.before.vsz) / k
     << ",\"heap_bytes_per_fiber\":" << static_cast<double>(r.after.heap - r.before.heap) / k
     << ",\"vmas_per_fiber\":" << static_cast<double>(r.after.maps - r.before.maps) / k
     << ",\"stack_rss_bytes_per_fiber\":"
     << (r.ours ? static_cast<double>((r.after.rss - r.before.rss) - (r.after.heap - r.before.heap)) / k : -1.0)
     << ",\"rss_total_bytes\":" << r.after.rss << ",\"error\":\"" << json_escape(r.error) << "\"}";
  return os.str();
}

}  // namespace

int main(int argc, char** argv) {
  long count = 100000;
  double timeout_s = 120;
  std::string variants = "ours,ours16k,raw,raw16k";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--count" && i + 1 < argc) count = std::strtol(argv[++i], nullptr, 10);
    else if (a == "--variants" && i + 1 < argc) variants = argv[++i];
    else if (a == "--timeout-s" && i + 1 < argc) timeout_s = std::strtod(argv[++i], nullptr);
    else {
      std::fprintf(stderr, "usage: %s [--count N] [--variants ours,ours16k,raw,raw16k] [--timeout-s S]\n", argv[0]);
      return 2;
    }
  }
  std::vector<std::string> out;
  std::stringstream vs(variants);
  std::string name;
  while (std::getline(vs, name, ',')) {
    int fds[2];
    if (::pipe(fds) != 0) return 1;
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      const std::string line = run_variant(name, count, timeout_s);
      (void)!::write(fds[1], line.data(), line.size());
      ::_exit(0);
    }
    ::close(fds[1]);
    std::string line;
    char buf[4096];
    ssize_t k;
    while ((k = ::read(fds[0], buf, sizeof buf)) > 0) line.append(buf, static_cast<std::size_t>(k));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (line.empty()) {
      std::ostringstream os;
      os << "{\"variant\":\"" << name << "\",\"requested\":" << count << ",\"ok\":false,\"error\":\"child died (status "
         << status << ")\"}";
      line = os.str();
    }
    out.push_back(line);
  }
  std::printf("{\"kind\":\"memory\",\"count\":%ld,\"results\":[", count);
  for (std::size_t i = 0; i < out.size(); ++i) std::printf("%s%s", i ? ",\n" : "\n", out[i].c_str());
  std::printf("\n]}\n");
  return 0;
}
