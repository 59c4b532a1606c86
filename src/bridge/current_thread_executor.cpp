// bridge/current_thread_executor.cpp — see current_thread_executor.hpp.
#include "bridge/current_thread_executor.hpp"

namespace fiberbridge::detail {

namespace {
// Plain-thread state only (never read on a fiber), so thread_local is safe here.
thread_local CurrentThreadExecutor* tl_serving = nullptr;
}  // namespace

CurrentThreadExecutor* CurrentThreadExecutor::serving() noexcept { return tl_serving; }

namespace {
thread_local std::shared_ptr<CurrentThreadExecutor> tl_spare;  // see acquire/recycle
thread_local Parker::Learned tl_learned;  // the spin policy of this thread's last frame
}  // namespace

std::shared_ptr<CurrentThreadExecutor> CurrentThreadExecutor::acquire(std::shared_ptr<CurrentThreadExecutor> parent) {
  if (!tl_spare) {
    auto frame = std::make_shared<CurrentThreadExecutor>(std::move(parent));
    frame->parker_.start_from(tl_learned);
    return frame;
  }
  std::shared_ptr<CurrentThreadExecutor> frame = std::move(tl_spare);
  frame->parent_ = std::move(parent);
  return frame;
}

void CurrentThreadExecutor::recycle(std::shared_ptr<CurrentThreadExecutor> frame) noexcept {
  if (!frame || frame->owner_ != std::this_thread::get_id()) return;
  tl_learned = frame->parker_.learned();
  if (frame.use_count() != 1 || tl_spare) return;
  {
    std::lock_guard g(frame->m_);
    if (!frame->q_.empty()) return;  // cannot happen once closed and drained; keep it simple
    frame->closed_ = false;
  }
  frame->parent_.reset();
  (void)frame->parker_.take_notification();  // a late wake() of the last call
  tl_spare = std::move(frame);
}

bool CurrentThreadExecutor::submit(unique_function& work) {
  {
    std::lock_guard g(m_);
    if (closed_) return false;
    q_.push(std::move(work));
  }
  parker_.unpark();  // the submitter holds a reference to this frame: it cannot be freed meanwhile
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

  for (;;) {
    unique_function work;
    {
      std::lock_guard g(m_);
      if (!q_.empty()) {
        work = q_.pop();
      } else if (done()) {
        if (close_when_done) closed_ = true;
        return true;
      }
    }
    if (work) {
      work();
      continue;
    }
    if (!parker_.park_until(deadline) && std::chrono::steady_clock::now() >= deadline) {
      std::lock_guard g(m_);
      if (q_.empty() && done()) {
        if (close_when_done) closed_ = true;
        return true;
      }
      if (q_.empty()) return false;
    }
  }
}

void CurrentThreadExecutor::wake() { parker_.unpark(); }

bool CurrentThreadExecutor::closed() const {
  std::lock_guard g(m_);
  return closed_;
}

}  // namespace fiberbridge::detail
