// detail/parker.cpp — see parker.hpp.
#include "detail/parker.hpp"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <ctime>

#include "detail/clock.hpp"
#include "detail/spinlock.hpp"  // spin_pause


namespace fiberbridge::detail {

namespace {

long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t value, const timespec* timeout) {
  return ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op | FUTEX_PRIVATE_FLAG, value, timeout,
                   nullptr, 0);
}

}  // namespace

std::chrono::nanoseconds Parker::default_max_spin() noexcept {
  static const std::int64_t ns = [] {
    if (const char* env = std::getenv("FIBERBRIDGE_MAX_SPIN_NS")) {
      char* end = nullptr;
      const long long v = std::strtoll(env, &end, 10);
      if (end != env && *end == '\0' && v >= 0) return static_cast<std::int64_t>(v);
    }
    return std::int64_t{50'000};
  }();
  return std::chrono::nanoseconds(ns);
}

Parker::Parker(std::chrono::nanoseconds max_spin) noexcept
    : max_spin_ns_(max_spin.count()), budget_ns_(max_spin.count()) {}

void Parker::set_max_spin(std::chrono::nanoseconds max_spin) noexcept {
  max_spin_ns_ = max_spin.count();
  budget_ns_ = std::min(budget_ns_, max_spin_ns_);
}

bool Parker::spin(std::int64_t budget_ns) noexcept {
  const std::int64_t until = steady_ns() + budget_ns;
  for (;;) {
    for (int i = 0; i < 32; ++i) {
      if (state_.load(std::memory_order_relaxed) == kNotified) {
        std::uint32_t expected = kNotified;
        if (state_.compare_exchange_strong(expected, kEmpty, std::memory_order_acquire)) return true;
      }
      spin_pause();
    }
    if (steady_ns() >= until) return false;
  }
}

bool Parker::park_until(std::chrono::steady_clock::time_point deadline) noexcept {
  std::uint32_t expected = kNotified;
  if (state_.compare_exchange_strong(expected, kEmpty, std::memory_order_acquire)) return true;

  // Spin only when the last notifier ran on another CPU: on ours, it cannot run while we spin.
  const int peer = notifier_cpu_.load(std::memory_order_relaxed);
  const bool spin_worthwhile = budget_ns_ > 0 && peer >= 0 && peer != ::sched_getcpu();
  if (spin_worthwhile && spin(budget_ns_)) return true;
  if (!spin_worthwhile && yield_to_notifier()) return true;

  const std::int64_t parked_at = steady_ns();
  notified_at_.store(0, std::memory_order_relaxed);
  expected = kEmpty;
  if (!state_.compare_exchange_strong(expected, kParked, std::memory_order_acquire)) {
    state_.store(kEmpty, std::memory_order_relaxed);  // it was NOTIFIED meanwhile
    return true;
  }
  bool notified = false;
  for (;;) {
    timespec ts{};
    const timespec* timeout = nullptr;
    if (deadline != std::chrono::steady_clock::time_point::max()) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) break;
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
      timeout = &ts;
    }
    futex(&state_, FUTEX_WAIT, kParked, timeout);  // relative timeout
    if (state_.load(std::memory_order_acquire) == kNotified) {
      notified = true;
      break;
    }
  }
  // Leave: consume a notification that raced with the timeout, else go back to EMPTY.
  if (state_.exchange(kEmpty, std::memory_order_acquire) == kNotified) notified = true;

  if (notified) {
    // Learn: a notification that came sooner than the cap would have been caught by spinning.
    // Measured up to the notifier's unpark, not to our wake-up: our own wake-up latency (20-45
    // us across vCPUs here) is what spinning saves, and counting it made two threads that wait
    // for each other settle for parking forever (each saw the other's wake-up latency plus its
    // own, above the cap).
    const std::int64_t at = notified_at_.load(std::memory_order_relaxed);
    const std::int64_t waited = at >= parked_at ? at - parked_at : steady_ns() - parked_at;  // stale: ours
    if (spin_worthwhile) {
      budget_ns_ = waited < max_spin_ns_ ? std::min(max_spin_ns_, budget_ns_ * 2 + 1000) : budget_ns_ / 2;
    } else if (waited < max_spin_ns_ && max_spin_ns_ > 0) {
      budget_ns_ = std::max<std::int64_t>(budget_ns_, 1000);
    }
  }
  return notified;
}

bool Parker::yield_to_notifier() noexcept {
  const int peer = notifier_cpu_.load(std::memory_order_relaxed);
  if (peer >= 0 && peer != ::sched_getcpu()) return false;
  // A notifier that comes soon most likely shares our CPU: let it run first (about 0.3 µs when
  // nobody else is runnable). A body thread under SCHED_BATCH that we just gave work does not
  // preempt us; without the yield we would sleep and be woken by it (two more syscalls and a
  // wake-up, or a reactor interrupt).
  ::sched_yield();
  return take_notification();
}

void Parker::unpark() noexcept {
  notifier_cpu_.store(::sched_getcpu(), std::memory_order_relaxed);
  if (state_.exchange(kNotified, std::memory_order_seq_cst) == kParked) {
    // Before the wake syscall (a full barrier): the waiter reads it after futex_wait returns.
    // A waiter woken otherwise may miss it and falls back to its own clock.
    notified_at_.store(steady_ns(), std::memory_order_relaxed);
    futex(&state_, FUTEX_WAKE, 1, nullptr);
  }
}

}  // namespace fiberbridge::detail
