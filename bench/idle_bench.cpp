// P9 — CPU used by an idle Runtime: getrusage(RUSAGE_SELF) over a window (1 s by default) while
// the main thread sleeps, in a process that holds nothing else. Phases:
//   fresh     : a default Runtime (hardware_concurrency threads) after one spawn+get;
//   after_burst: the same runtime right after 2,000 thread-sensitive sync_to_async round trips
//                (spin budgets have been learned, the sync thread exists);
//   rt1       : a 1-thread Runtime, after a burst.
// Target: <= 1 % of one core. Prints one JSON object.
// usage: idle_bench [--seconds S]
#include <fiberbridge/fiberbridge.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace fb = fiberbridge;

namespace {

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

double idle_percent(double seconds) {
  const double c0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return 100.0 * (cpu_seconds() - c0) / wall;
}

void burst(fb::Runtime& rt) {
  rt.spawn([] {
      auto call = fb::sync_to_async([] { return 1; });
      for (int i = 0; i < 2000; ++i) (void)call();
    }).get();
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--seconds" && i + 1 < argc) seconds = std::strtod(argv[++i], nullptr);
  }
  std::vector<std::pair<std::string, double>> r;
  {
    fb::Runtime rt;
    rt.spawn([] {}).get();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let a first spin run out
    r.emplace_back("fresh", idle_percent(seconds));
    burst(rt);
    r.emplace_back("after_burst", idle_percent(seconds));
  }
  {
    fb::RuntimeOptions o;
    o.threads = 1;
    fb::Runtime rt(o);
    burst(rt);
    r.emplace_back("rt1_after_burst", idle_percent(seconds));
  }
  std::printf("{\"kind\":\"idle\",\"seconds\":%g,\"threads\":%u,\"results\":[", seconds, std::thread::hardware_concurrency());
  for (std::size_t i = 0; i < r.size(); ++i)
    std::printf("%s{\"name\":\"%s\",\"cpu_percent_of_core\":%.4f}", i ? "," : "", r[i].first.c_str(), r[i].second);
  std::printf("]}\n");
  return 0;
}
