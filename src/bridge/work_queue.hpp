// bridge/work_queue.hpp — the FIFO of work a thread serves for others (a dedicated sync thread,
// a thread parked in async_to_sync). Not synchronised.
//
// Two stores, one order:
//  * a ring of unique_functions, which allocates only when it grows (by doubling), never per
//    item, and nothing before the first item. Why not std::deque: libstdc++'s deque allocates
//    its map and a 512-byte block when it is constructed, two allocations for every
//    async_to_sync frame, which almost never receives routed work;
//  * an intrusive list of WorkNodes (a fiber's sync_to_async call links its own block), which
//    never allocates. 100,000 fibers waiting on the sync thread used to grow the ring to
//    131,072 entries of 64 bytes, about 80 bytes per waiting fiber.
// FIFO across both: a node records how many ring items were pushed before it
// (`ring_before`); it is popped once exactly that many were popped. So a node never overtakes
// older ring items, and a ring item never overtakes an older node.
#pragma once

#include <boost/circular_buffer.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>

#include "fiberbridge/detail/unique_function.hpp"

namespace fiberbridge::detail {

class WorkQueue {
 public:
  WorkQueue() = default;
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;
  // Work still queued is dropped unrun (each item reports it, see unique_function).
  ~WorkQueue() {
    while (head_ != nullptr) {
      WorkNode* n = pop_node();
      n->finish(n, false);
    }
  }

  bool empty() const noexcept { return ring_.empty() && head_ == nullptr; }
  std::size_t size() const noexcept { return ring_.size() + nodes_; }
  // Throws std::bad_alloc (leaving `work` untouched) when the ring must grow and cannot.
  void push(unique_function&& work) {
    if (WorkNode* n = work.release_node()) {
      n->next = nullptr;
      n->ring_before = ring_pushed_;
      (tail_ != nullptr ? tail_->next : head_) = n;
      tail_ = n;
      ++nodes_;
      return;
    }
    if (ring_.full()) ring_.set_capacity(ring_.capacity() == 0 ? 16 : ring_.capacity() * 2);
    ring_.push_back(std::move(work));
    ++ring_pushed_;
  }
  unique_function pop() {  // not empty
    // head_->ring_before >= ring_popped_ always: the ring items pushed after a node wait for it.
    if (head_ != nullptr && head_->ring_before == ring_popped_) return unique_function(pop_node());
    unique_function work = std::move(ring_.front());
    ring_.pop_front();
    ++ring_popped_;
    return work;
  }

 private:
  WorkNode* pop_node() noexcept {
    WorkNode* n = head_;
    head_ = n->next;
    if (head_ == nullptr) tail_ = nullptr;
    --nodes_;
    return n;
  }

  boost::circular_buffer<unique_function> ring_;
  std::uint64_t ring_pushed_ = 0;
  std::uint64_t ring_popped_ = 0;
  WorkNode* head_ = nullptr;
  WorkNode* tail_ = nullptr;
  std::size_t nodes_ = 0;
};

}  // namespace fiberbridge::detail
