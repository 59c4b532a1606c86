// observe/wait_mark.cpp — see include/fiberbridge/detail/wait_mark.hpp.
#include "fiberbridge/detail/wait_mark.hpp"

#include <boost/fiber/context.hpp>

#include "detail/clock.hpp"
#include "scheduler/fiber_props.hpp"

namespace fiberbridge::detail {

namespace {
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
  // Coarse: "waiting since" only feeds dumps and the watchdog, and every bridge wait takes a mark.
  p->wait_since_ns.store(coarse_steady_ns(), std::memory_order_relaxed);
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
