// scheduler/drive_token.cpp — see drive_token.hpp.
#include "scheduler/drive_token.hpp"

#include <chrono>
#include <mutex>
#include <thread>

namespace fiberbridge::detail {

void DriveToken::detach() noexcept {
  Reactor* r = nullptr;
  {
    std::lock_guard g(m_);
    r = reactor_.exchange(nullptr, std::memory_order_seq_cst);
  }
  claim_.store(kNobody, std::memory_order_relaxed);
  if (r == nullptr) return;
  // A driver that took the token before the exchange may still be about to wait: interrupt
  // until it has left (each wait is prepared afresh, so one interrupt might come too early).
  while (driving_.load(std::memory_order_seq_cst)) {
    r->interrupt();
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

Reactor* DriveToken::try_take(std::size_t self) noexcept {
  if (reactor_.load(std::memory_order_relaxed) == nullptr || driving_.load(std::memory_order_relaxed)) return nullptr;
  const std::size_t holder = claim_.load(std::memory_order_relaxed);
  if (holder != kNobody && holder != self) return nullptr;
  if (driving_.exchange(true, std::memory_order_seq_cst)) return nullptr;
  Reactor* r = reactor_.load(std::memory_order_seq_cst);  // null if detached meanwhile
  if (r == nullptr) release();
  return r;
}

void DriveToken::interrupt() noexcept {
  std::lock_guard g(m_);
  if (Reactor* r = reactor_.load(std::memory_order_relaxed)) r->interrupt();
}

}  // namespace fiberbridge::detail
