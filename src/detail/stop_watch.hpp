// detail/stop_watch.hpp — runs a function when a waiting fiber is stopped, for the duration of
// one wait: a sync_to_async wait (it wakes the fiber) and a use_fiber wait (it requests the
// operation's cancellation).
//
// A runtime fiber's own task calls it as its stop hook (TaskStateBase::set_stop_hook, under the
// task's lock): the wait makes no std::stop_source and registers no std::stop_callback. Any
// other scope's token is watched by a stop_callback (an empty token costs nothing).
// Lock order: the hook runs under the task's lock and `on_stop` may take the wait's own lock, so
// the waiting fiber must not hold that lock when the watch goes: declare the watch first.
#pragma once

#include <stop_token>
#include <utility>

#include "context/exec_state.hpp"
#include "fiberbridge/detail/task_state.hpp"

namespace fiberbridge::detail {

// OnStop: void() noexcept. It may run twice for one stop (one racing with the install).
template <class OnStop>
class StopWatch : TaskStateBase::StopHook {
 public:
  // `waiter`: the waiting fiber's scope. Its own task (Scope::task) is hooked; a scope without
  // one has its token watched (made only then: Scope::stop_token).
  StopWatch(const Scope& waiter, OnStop on_stop)
      : StopHook{&fire},
        task_(waiter.task),
        on_stop_(std::move(on_stop)),
        callback_(task_ != nullptr ? std::stop_token() : waiter.stop_token(), Callback{this}) {
    if (task_ == nullptr) return;
    task_->set_stop_hook(this);
    // A stop before the hook was in place found none: act on it here. One that raced with the
    // install may have called the hook too.
    if (task_->stop_requested()) on_stop_();
  }
  ~StopWatch() {
    if (task_ != nullptr) task_->set_stop_hook(nullptr);  // waits for a call in progress
  }
  StopWatch(const StopWatch&) = delete;
  StopWatch& operator=(const StopWatch&) = delete;

 private:
  struct Callback {
    StopWatch* self;
    void operator()() noexcept { self->on_stop_(); }
  };
  static void fire(StopHook* hook) noexcept { static_cast<StopWatch*>(hook)->on_stop_(); }

  TaskStateBase* task_;
  OnStop on_stop_;
  std::stop_callback<Callback> callback_;  // last: it may call on_stop_ while being built
};

}  // namespace fiberbridge::detail
