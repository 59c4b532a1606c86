// detail/work_ring.hpp — a FIFO of work items on a ring buffer that only grows.
//
// std::deque allocates a new block every few pushes as the FIFO moves through memory, even
// when it never holds more than one item; the ring allocates only when it must grow (doubling),
// so a queue that reached its steady depth costs no allocation per item. Not thread-safe: the
// owner locks around it.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include "fiberbridge/detail/unique_function.hpp"

namespace fiberbridge::detail {

class WorkRing {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  // Throws std::bad_alloc when it must grow (leaving `work` untouched).
  void push_back(unique_function&& work) {
    if (size_ == cap_) grow();
    buf_[(head_ + size_) & (cap_ - 1)] = std::move(work);
    ++size_;
  }
  // Precondition: !empty().
  unique_function pop_front() noexcept {
    unique_function w = std::move(buf_[head_]);
    head_ = (head_ + 1) & (cap_ - 1);
    --size_;
    return w;
  }

 private:
  void grow() {
    const std::size_t cap = cap_ == 0 ? 16 : cap_ * 2;
    auto next = std::make_unique<unique_function[]>(cap);
    for (std::size_t i = 0; i < size_; ++i) next[i] = std::move(buf_[(head_ + i) & (cap_ - 1)]);
    buf_ = std::move(next);
    cap_ = cap;
    head_ = 0;
  }

  std::unique_ptr<unique_function[]> buf_;
  std::size_t cap_ = 0;  // 0 or a power of two
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace fiberbridge::detail
