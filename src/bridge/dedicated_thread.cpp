// bridge/dedicated_thread.cpp — see dedicated_thread.hpp.
#include "bridge/dedicated_thread.hpp"

#include <pthread.h>

namespace fiberbridge::detail {

DedicatedThread::DedicatedThread(std::string name) : s_(std::make_shared<Shared>()), name_(std::move(name)) {}

DedicatedThread::~DedicatedThread() { retire(); }

bool DedicatedThread::submit(unique_function& work) {
  std::lock_guard g(s_->m);
  if (s_->retired) return false;
  if (!s_->started) {
    std::thread(&DedicatedThread::loop, s_, name_).detach();  // std::system_error leaves `work` untouched
    s_->started = true;
  }
  s_->q.push_back(std::move(work));
  s_->cv.notify_one();
  return true;
}

bool DedicatedThread::started() const {
  std::lock_guard g(s_->m);
  return s_->started;
}

void DedicatedThread::retire() {
  std::lock_guard g(s_->m);
  s_->retired = true;
  s_->cv.notify_all();
}

void DedicatedThread::loop(std::shared_ptr<Shared> s, std::string name) {
  ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
  std::unique_lock lk(s->m);
  for (;;) {
    s->cv.wait(lk, [&] { return !s->q.empty() || s->retired; });
    if (s->q.empty()) return;
    unique_function work = std::move(s->q.front());
    s->q.pop_front();
    lk.unlock();
    work();
    work = {};
    lk.lock();
  }
}

std::shared_ptr<DedicatedThread> DedicatedThread::sync_thread() {
  // Leaked on purpose: it serves until the process exits (a body may still run at exit).
  static auto* thread = new std::shared_ptr<DedicatedThread>(std::make_shared<DedicatedThread>("fb-sync"));
  return *thread;
}

}  // namespace fiberbridge::detail
