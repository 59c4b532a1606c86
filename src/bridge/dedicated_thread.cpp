// bridge/dedicated_thread.cpp — see dedicated_thread.hpp.
#include "bridge/dedicated_thread.hpp"

#include "bridge/bridge_metrics.hpp"
#include "detail/batch_scheduling.hpp"
#include "observe/metrics_sources.hpp"

#include <atomic>

#include <pthread.h>

namespace fiberbridge::detail {

DedicatedThread::DedicatedThread(std::string name) : s_(std::make_shared<Shared>()), name_(std::move(name)) {
  add_metrics_source(&bridge_metrics);
}

DedicatedThread::~DedicatedThread() { retire(); }

bool DedicatedThread::submit(unique_function& work) {
  {
    std::lock_guard g(s_->m);
    if (s_->retired) return false;
    if (!s_->started) {
      std::thread(&DedicatedThread::loop, s_, name_).detach();  // std::system_error leaves `work` untouched
      s_->started = true;
    }
    // Grows by doubling when full (std::bad_alloc leaves `work` untouched): once the queue
    // reached its depth, a push allocates nothing (std::deque allocated a block every 8 pushes).
    s_->q.push(std::move(work));
  }
  s_->parker.unpark();
  return true;
}

bool DedicatedThread::started() const {
  std::lock_guard g(s_->m);
  return s_->started;
}

bool DedicatedThread::accepting() const noexcept {
  std::lock_guard g(s_->m);
  return !s_->retired;
}

void DedicatedThread::retire() {
  {
    std::lock_guard g(s_->m);
    s_->retired = true;
  }
  s_->parker.unpark();
}

namespace {
std::atomic<std::size_t> running{0};
}  // namespace

std::size_t DedicatedThread::running_threads() noexcept { return running.load(std::memory_order_relaxed); }

std::size_t DedicatedThread::queue_depth() const {
  std::lock_guard g(s_->m);
  return s_->q.size();
}

void DedicatedThread::loop(std::shared_ptr<Shared> s, std::string name) {
  ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
  prefer_batch_scheduling();  // detail/batch_scheduling.hpp
  running.fetch_add(1, std::memory_order_relaxed);
  struct Count {
    ~Count() { running.fetch_sub(1, std::memory_order_relaxed); }
  } count;
  for (;;) {
    unique_function work;
    {
      std::lock_guard g(s->m);
      if (!s->q.empty()) {
        work = s->q.pop();
      } else if (s->retired) {
        return;
      }
    }
    if (work) {
      work();
    } else {
      s->parker.park();  // a submit between the check and here leaves the parker notified
    }
  }
}

std::shared_ptr<DedicatedThread> DedicatedThread::sync_thread() {
  // Leaked on purpose: it serves until the process exits (a body may still run at exit).
  static auto* thread = new std::shared_ptr<DedicatedThread>(std::make_shared<DedicatedThread>("fb-sync"));
  return *thread;
}

}  // namespace fiberbridge::detail
