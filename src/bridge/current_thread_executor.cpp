// bridge/current_thread_executor.cpp — see current_thread_executor.hpp.
#include "bridge/current_thread_executor.hpp"

namespace fiberbridge::detail {

namespace {
// Plain-thread state only (never read on a fiber), so thread_local is safe here.
thread_local CurrentThreadExecutor* tl_serving = nullptr;
}  // namespace

CurrentThreadExecutor* CurrentThreadExecutor::serving() noexcept { return tl_serving; }

bool CurrentThreadExecutor::submit(unique_function& work) {
  {
    std::lock_guard g(m_);
    if (closed_) return false;
    q_.push_back(std::move(work));
    cv_.notify_one();  // under the lock: the frame may close and be freed right after
  }
  return true;
}

bool CurrentThreadExecutor::submit_to_chain(const std::shared_ptr<CurrentThreadExecutor>& frame,
                                            unique_function& work) {
  for (CurrentThreadExecutor* f = frame.get(); f != nullptr; f = f->parent_.get()) {
    if (f->submit(work)) return true;
  }
  return false;
}

bool CurrentThreadExecutor::chain_open(const std::shared_ptr<CurrentThreadExecutor>& frame) {
  for (CurrentThreadExecutor* f = frame.get(); f != nullptr; f = f->parent_.get()) {
    if (!f->closed()) return true;
  }
  return false;
}

bool CurrentThreadExecutor::run_until(const std::function<bool()>& done,
                                      std::chrono::steady_clock::time_point deadline, bool close_when_done) {
  CurrentThreadExecutor* const outer = std::exchange(tl_serving, this);
  struct Restore {
    CurrentThreadExecutor* outer;
    ~Restore() { tl_serving = outer; }
  } restore{outer};

  std::unique_lock lk(m_);
  for (;;) {
    if (!q_.empty()) {
      unique_function work = std::move(q_.front());
      q_.pop_front();
      lk.unlock();
      work();
      work = {};  // destroy the item (and what it owns) before taking the lock again
      lk.lock();
      continue;
    }
    if (done()) {
      if (close_when_done) closed_ = true;
      return true;
    }
    if (deadline == std::chrono::steady_clock::time_point::max()) {
      cv_.wait(lk);
    } else if (cv_.wait_until(lk, deadline) == std::cv_status::timeout && q_.empty()) {
      if (done()) {
        if (close_when_done) closed_ = true;
        return true;
      }
      return false;
    }
  }
}

void CurrentThreadExecutor::wake() {
  std::lock_guard g(m_);
  cv_.notify_all();
}

bool CurrentThreadExecutor::closed() const {
  std::lock_guard g(m_);
  return closed_;
}

}  // namespace fiberbridge::detail
