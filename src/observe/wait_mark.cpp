// observe/wait_mark.cpp — see include/fiberbridge/detail/wait_mark.hpp.
#include "fiberbridge/detail/wait_mark.hpp"

#include <boost/fiber/context.hpp>

#include <ctime>

#include "scheduler/fiber_props.hpp"

namespace fiberbridge::detail {

namespace {
// When the wait began, on steady_clock's scale (CLOCK_MONOTONIC) read coarsely: one tick (a few
// ms) of resolution is plenty for "waiting since" in dumps and the watchdog, and the coarse read
// skips the clock source: every bridge and use_fiber wait takes this mark (a precise read was
// about 5 % of a use_fiber completion in perf).
std::int64_t now_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
FiberProps* runtime_fiber_record() noexcept {
  boost::fibers::context* ctx = boost::fibers::context::active();
  FiberProps* p = ctx != nullptr ? FiberProps::of(ctx) : nullptr;
  return p != nullptr && p->fiber_id != 0 ? p : nullptr;
}
}  // namespace

WaitMark::WaitMark(WaitKind kind, const char* target) noexcept : record_(runtime_fiber_record()) {
  auto* p = static_cast<FiberProps*>(record_);
  if (p == nullptr) return;
  previous_kind_ = p->wait.load(std::memory_order_relaxed);
  previous_target_ = p->wait_target.load(std::memory_order_relaxed);
  previous_since_ = p->wait_since_ns.load(std::memory_order_relaxed);
  p->wait_since_ns.store(now_ns(), std::memory_order_relaxed);
  p->wait_target.store(target, std::memory_order_relaxed);
  p->wait.store(kind, std::memory_order_release);
}

WaitMark::~WaitMark() {
  auto* p = static_cast<FiberProps*>(record_);
  if (p == nullptr) return;
  p->wait.store(previous_kind_, std::memory_order_relaxed);
  p->wait_target.store(previous_target_, std::memory_order_relaxed);
  p->wait_since_ns.store(previous_since_, std::memory_order_relaxed);
}

}  // namespace fiberbridge::detail
