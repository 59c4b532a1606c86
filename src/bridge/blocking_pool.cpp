// bridge/blocking_pool.cpp — see blocking_pool.hpp.
#include "bridge/blocking_pool.hpp"

#include <pthread.h>

#include <system_error>
#include <thread>

namespace fiberbridge::detail {

BlockingPool::BlockingPool(unsigned max_threads, std::chrono::milliseconds idle_timeout)
    : s_(std::make_shared<Shared>()), max_threads_(max_threads), idle_timeout_(idle_timeout) {}

bool BlockingPool::submit(unique_function& work) {
  std::lock_guard g(s_->m);
  s_->q.push_back(std::move(work));
  if (s_->idle > s_->q.size() - 1) {  // an idle worker is free for this item
    s_->cv.notify_one();
    return true;
  }
  if (s_->threads < max_threads_) {
    try {
      std::thread(&BlockingPool::worker, s_, idle_timeout_).detach();
      ++s_->threads;
    } catch (const std::system_error&) {
      if (s_->threads == 0) {  // nobody would ever run it: give it back and report
        work = std::move(s_->q.back());
        s_->q.pop_back();
        throw;
      }
      // else: an existing worker will get to it
    }
  }
  return true;
}

void BlockingPool::worker(std::shared_ptr<Shared> s, std::chrono::milliseconds idle_timeout) {
  ::pthread_setname_np(::pthread_self(), "fb-pool");
  std::unique_lock lk(s->m);
  for (;;) {
    if (s->q.empty()) {
      ++s->idle;
      const bool got = s->cv.wait_for(lk, idle_timeout, [&] { return !s->q.empty(); });
      --s->idle;
      if (!got) {
        --s->threads;
        return;
      }
    }
    unique_function work = std::move(s->q.front());
    s->q.pop_front();
    lk.unlock();
    work();
    work = {};
    lk.lock();
  }
}

BlockingPool& BlockingPool::instance() {
  static auto* pool = new BlockingPool(256, std::chrono::seconds(10));
  return *pool;
}

}  // namespace fiberbridge::detail
