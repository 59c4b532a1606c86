// detail/reaper.cpp — see reaper.hpp.
#include "detail/reaper.hpp"

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace fiberbridge::detail {

namespace {
struct Reapers {
  std::mutex m;
  std::condition_variable done;
  unsigned running = 0;

  static Reapers& get() {
    static Reapers* r = [] {
      auto* p = new Reapers;  // never destroyed: reapers may outlive static destruction
      std::atexit([] {
        Reapers& rs = get();
        std::unique_lock lk(rs.m);
        (void)rs.done.wait_for(lk, std::chrono::seconds(2), [&] { return rs.running == 0; });
      });
      return p;
    }();
    return *r;
  }
};
}  // namespace

bool start_reaper(std::function<void()> fn) noexcept {
  Reapers& rs = Reapers::get();
  {
    std::lock_guard g(rs.m);
    ++rs.running;
  }
  try {
    std::thread([fn = std::move(fn)] {
      ::pthread_setname_np(::pthread_self(), "fb-reaper");
      fn();
      Reapers& r = Reapers::get();
      std::lock_guard g(r.m);
      --r.running;
      r.done.notify_all();
    }).detach();
    return true;
  } catch (...) {
    std::lock_guard g(rs.m);
    --rs.running;
    return false;
  }
}

}  // namespace fiberbridge::detail
