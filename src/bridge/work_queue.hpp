// bridge/work_queue.hpp — the FIFO of work a thread serves for others (a dedicated sync thread,
// a thread parked in async_to_sync): a ring that allocates only when it grows (by doubling),
// never per item, and nothing before the first item. Why not std::deque: libstdc++'s deque
// allocates its map and a 512-byte block when it is constructed, two allocations for every
// async_to_sync frame, which almost never receives routed work. Not synchronised.
#pragma once

#include <boost/circular_buffer.hpp>

#include <cstddef>
#include <utility>

#include "fiberbridge/detail/unique_function.hpp"

namespace fiberbridge::detail {

class WorkQueue {
 public:
  bool empty() const noexcept { return q_.empty(); }
  std::size_t size() const noexcept { return q_.size(); }
  void push(unique_function&& work) {
    if (q_.full()) q_.set_capacity(q_.capacity() == 0 ? 16 : q_.capacity() * 2);
    q_.push_back(std::move(work));
  }
  unique_function pop() {  // not empty
    unique_function work = std::move(q_.front());
    q_.pop_front();
    return work;
  }

 private:
  boost::circular_buffer<unique_function> q_;
};

}  // namespace fiberbridge::detail
