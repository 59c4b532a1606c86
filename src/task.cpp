// task.cpp — a TaskState's completion, a fiber waiting for it, and this_task.
//
// A fiber waits on the state's fiber condition variable, woken by completion or by a stop of
// its *own* task (then CancelledError). A plain thread waits in the bridges' way (it serves
// routed work meanwhile): TaskStateBase::wait_until is in src/bridge/task_wait.cpp.
#include <memory>

#include "fiberbridge/detail/wait_mark.hpp"
#include "context/exec_state.hpp"
#include "fiberbridge/errors.hpp"
#include "fiberbridge/runtime.hpp"
#include "fiberbridge/task.hpp"

namespace fiberbridge::detail {

bool fiber_wait_until(TaskStateBase& s, std::chrono::steady_clock::time_point deadline) {
  const std::stop_token stop = current_state().scope.stop;
  if (stop.stop_requested()) throw CancelledError();
  std::stop_callback on_stop(stop, [&s] {
    std::lock_guard g(s.m_);
    s.cv_.notify_all();
  });
  WaitMark mark(WaitKind::kTaskGet, nullptr);
  std::unique_lock lk(s.m_);
  while (!s.ready()) {
    if (stop.stop_requested()) {
      lk.unlock();
      throw CancelledError();
    }
    if (deadline == std::chrono::steady_clock::time_point::max()) {
      s.cv_.wait(lk);
    } else if (s.cv_.wait_until(lk, deadline) == boost::fibers::cv_status::timeout) {
      return s.ready();
    }
  }
  return true;
}

void TaskStateBase::finish(std::exception_ptr error) noexcept {
  std::vector<std::pair<std::uint64_t, unique_function>> waiters;
  {
    std::lock_guard g(m_);
    error_ = std::move(error);
    ready_.store(true, std::memory_order_release);
    cv_.notify_all();
    waiters.swap(thread_waiters_);
  }
  for (auto& w : waiters) w.second();
}

std::uint64_t TaskStateBase::on_ready(unique_function fn) {
  {
    std::lock_guard g(m_);
    if (!ready()) {
      const std::uint64_t id = next_id_++;
      thread_waiters_.emplace_back(id, std::move(fn));
      return id;
    }
  }
  fn();
  return 0;
}

void TaskStateBase::remove_on_ready(std::uint64_t id) {
  std::lock_guard g(m_);
  for (auto it = thread_waiters_.begin(); it != thread_waiters_.end(); ++it) {
    if (it->first == id) {
      thread_waiters_.erase(it);
      return;
    }
  }
}

}  // namespace fiberbridge::detail

namespace fiberbridge::this_task {

bool stop_requested() noexcept { return detail::current_state().scope.stop.stop_requested(); }
std::stop_token stop_token() noexcept { return detail::current_state().scope.stop; }

}  // namespace fiberbridge::this_task
