// runtime.cpp — Runtime: scheduler threads, spawning, the live-fiber registry and shutdown.
#include <pthread.h>

#include <boost/fiber/algo/algorithm.hpp>
#include <boost/fiber/condition_variable.hpp>
#include <boost/fiber/fiber.hpp>
#include <boost/fiber/operations.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "detail/live_registry.hpp"
#include "runtime_impl.hpp"
#include "runtime_inbox.hpp"
#include "detail/reaper.hpp"
#include "observe/metrics_sources.hpp"
#include "observe/runtime_observer.hpp"
#include "scheduler/fiber_props.hpp"
#include "scheduler/stack_guard.hpp"
#include "scheduler/stack_pool.hpp"
#include "scheduler/work_stealing.hpp"

namespace fiberbridge {

namespace {
struct WorkerTag {
  Runtime::Impl* runtime = nullptr;
  std::size_t index = 0;
};
// Which runtime's scheduler thread this is. Read only in short non-suspending functions, never
// cached across a fiber switch (fibers migrate).
thread_local WorkerTag tl_worker;

__attribute__((noinline)) WorkerTag current_worker() noexcept { return tl_worker; }

}  // namespace

class Runtime::Impl {
 public:
  using Launch = detail::Launch;

  Impl(Runtime& self, RuntimeOptions options)
      : self_(&self),
        options_(std::move(options)),
        threads_(options_.threads != 0 ? options_.threads : std::max(1u, std::thread::hardware_concurrency())),
        group_(threads_, options_.max_spin.count() >= 0 ? options_.max_spin : detail::Parker::default_max_spin()),
        owned_stacks_(options_.stack_size),
        inbox_(options_.inbox_capacity, &Impl::launch_batch, this),
        live_(threads_ + 1) {
    group_.set_stacks(&stacks_);
    group_.set_outside(&inbox_);
    for (unsigned i = 0; i < threads_; ++i)  // at most 15 characters (pthread_setname_np)
      thread_names_.push_back((options_.name.substr(0, 10) + "-" + std::to_string(i)).substr(0, 15));
    threads.reserve(threads_);
    try {
      for (unsigned i = 0; i < threads_; ++i) threads.emplace_back([this, i] { worker_main(i); });
    } catch (...) {
      close_workers();
      for (auto& t : threads) t.join();
      throw;
    }
    observer.start();
  }

  ~Impl() { shutdown(); }

  unsigned thread_count() const noexcept { return threads_; }
  detail::SchedulerGroup& scheduler() noexcept { return group_; }

  // A stack whose top has room for the fiber's record (std::bad_alloc goes to the spawner).
  detail::StackHome* take_stack() { return detail::StackHome::take(stacks_, sizeof(detail::FrameProps)); }

  // `home`: the fiber's stack, taken by the spawner (its fiber hold is ours from here, on every
  // path), or nullptr to take one here.
  void spawn(boost::intrusive_ptr<detail::TaskStateBase> state, detail::unique_function body, detail::Scope seed,
             detail::StackHome* home = nullptr) {
    const WorkerTag here = current_worker();
    // Scheduler thread i registers in shard i, every other thread in the last one.
    Launch launch{std::move(state), std::move(body), std::move(seed), home, here.runtime == this ? here.index : threads_};
    launch.state->fiber_id = observer.next_fiber_id(here.runtime == this ? static_cast<long>(here.index) : -1);
    if (launch.home == nullptr) launch.home = take_stack();
    // Only a stopping runtime asks who spawns; one that starts stopping after this look stops
    // the fiber at once (LiveRegistry::add), as if spawned just before, and waits for it.
    const bool refuse = live_.stopping() && !(here.runtime == this && in_fiber());
    if (!live_.add(*launch.state, launch.shard, refuse)) {
      launch.home->drop();
      throw std::logic_error("Runtime::spawn: the runtime is shutting down (its destructor is running)");
    }
    if (here.runtime == this) {  // one of its fibers, or an I/O handler on one of its threads
      detail::LaunchGuard no_steal_until_detached(/*spawner_runs_on=*/true);
      launch_here(std::move(launch));
      return;
    }
    inbox_.push(std::move(launch), detail::scheduler_runs_here());
    // The pusher's side of the idle handshake (runtime_inbox.hpp): published, then look.
    if (group_.idle.load(std::memory_order_seq_cst) != 0) group_.wake_idle_peer(group_.size());
  }

  // Stops every live fiber and waits for them; called by ~Runtime and at exit for the default
  // runtime (with a bounded wait). Returns false if fibers are still alive at `give_up`.
  bool stop_and_wait(std::chrono::steady_clock::time_point give_up) {
    live_.stop_all();
    auto next_report = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.shutdown_grace_ms);
    for (;;) {
      const auto until = std::min(next_report, give_up);
      if (live_.wait_empty_until(until)) break;
      const auto now = std::chrono::steady_clock::now();
      if (now >= give_up) return false;
      if (now >= next_report) {
        std::fprintf(stderr,
                     "fiberbridge: ~Runtime still waits for %zu fiber(s) that ignore the stop request (blocked on a "
                     "raw Boost.Fiber primitive or busy)\n",
                     live_.size());
        next_report = now + std::chrono::milliseconds(options_.shutdown_grace_ms);
      }
    }
    return true;
  }

  // Whether ~Runtime runs on one of this runtime's own fibers (it cannot wait for itself then).
  bool on_own_fiber() const noexcept { return current_worker().runtime == this && in_fiber(); }

  // ~Runtime on one of its own fibers: a stand-in Runtime takes over this Impl (and the self
  // slot every fiber reads), the other fibers are asked to stop, and a reaper thread destroys
  // the stand-in (stop, join, free: the ordinary shutdown) once every fiber has returned.
  static void retire_from_own_fiber(std::unique_ptr<Impl> impl) noexcept {
    Impl& im = *impl;
    Runtime* stand_in = new (std::nothrow) Runtime(std::move(impl));
    if (stand_in == nullptr) {  // out of memory: nothing can be freed safely, keep it all
      (void)impl.release();
      im.live_.stop_all();
      return;
    }
    im.self_.store(stand_in, std::memory_order_release);
    im.live_.stop_all(detail::current_state().scope.task);  // the others; this fiber runs on
    if (!detail::start_reaper([stand_in] {
          (void)stand_in->impl_->live_.wait_empty_until(std::chrono::steady_clock::time_point::max());
          delete stand_in;
        })) {
      std::fprintf(stderr, "fiberbridge: no thread to release a Runtime destroyed by its own fiber (leaked)\n");
    }
  }

  void shutdown() {
    observer.stop();  // before any thread is joined or detached
    if (current_worker().runtime == this) {  // on a scheduler thread but not on a fiber: impossible for user code
      std::fprintf(stderr, "fiberbridge: a Runtime was destroyed on its own scheduler thread; its threads are leaked\n");
      for (auto& t : threads) t.detach();
      return;
    }
    // Stopping fibers and closing the inboxes wake fibers through Boost.Fiber, which needs the
    // calling thread's Boost context. A Runtime with static storage duration is destroyed after
    // the main thread's thread_local Boost context is gone, so the work is done on a fresh
    // thread (a crash at exit before). Inline only if no thread can be created.
    try {
      std::thread([this] { stop_and_close(); }).join();
    } catch (const std::system_error&) {
      stop_and_close();
    }
  }

  void stop_and_close() {
    stop_and_wait(std::chrono::steady_clock::time_point::max());
    // The I/O service goes after the fibers (their pending operations were cancelled by the stop).
    (void)slots.exchange(detail::RuntimeAccess::Slot::kIoService, nullptr);
    close_workers();
    for (auto& t : threads) t.join();
  }

  void abandon() {  // at process exit, when fibers did not finish in time
    observer.stop();  // before any thread is joined or detached
    for (auto& t : threads) t.detach();
  }

  // This runtime's address, read by its fibers (ExecState::runtime_slot) and its I/O service;
  // re-pointed to the stand-in when a fiber destroys the runtime.
  std::atomic<Runtime*> self_;
  std::vector<std::thread> threads;

 private:
  void close_workers() {
    // Notify under the lock: Boost's notify() touches the worker's scheduler after making the
    // worker runnable; holding the mutex keeps the worker from exiting (and freeing its
    // scheduler) until notify() has returned. Found by TSan.
    std::lock_guard g(close_m_);
    closed_ = true;
    close_cv_.notify_all();
  }

  // A scheduler thread's main fiber only waits for the close: fibers, the inbox and the
  // reactor are all served by the thread's dispatcher (the scheduling algorithm).
  void worker_main(unsigned index) {
    ::pthread_setname_np(::pthread_self(), thread_names_[index].c_str());
    detail::install_stack_guard_reporting(stacks_.stack_size());
    boost::fibers::use_scheduling_algorithm<detail::WorkStealing>(group_, index);
    tl_worker = WorkerTag{this, index};
    stacks_.attach_thread();
    {
      std::unique_lock lk(close_m_);
      close_cv_.wait(lk, [this] { return closed_; });
    }
    tl_worker = WorkerTag{};
    stacks_.detach_thread();
    detail::remove_stack_guard_reporting();
  }

  // The inbox's launch path (runtime_inbox.hpp), on a scheduler thread's dispatcher.
  static void launch_batch(void* self, std::vector<Launch>& batch) noexcept {
    detail::LaunchGuard no_steal_until_detached(/*spawner_runs_on=*/false);
    for (auto& l : batch) static_cast<Impl*>(self)->launch_here(std::move(l));
  }

  // Under a LaunchGuard (the caller's): the new fiber cannot be stolen before it is detached.
  void launch_here(Launch launch) noexcept {
    // Kept for the failure path: the fiber owns the Launch (its stack frame holds it).
    boost::intrusive_ptr<detail::TaskStateBase> state = launch.state;
    detail::StackHome* home = launch.home;
    const std::size_t shard = launch.shard;
    try {
      // The scheduler's record of the fiber rides at the top of its stack (no allocation).
      detail::PooledStack salloc(*home);
      auto* record = new (home->record()) detail::FrameProps();
      record->fiber_id = state->fiber_id;
      record->stack_home = home;
      state->sched_record.store(record, std::memory_order_release);
      boost::fibers::fiber_properties* props = record;
      boost::fibers::fiber f(boost::fibers::launch::post, props, std::allocator_arg, std::move(salloc),
                             [this, l = std::move(launch)]() mutable { run_fiber(l); });
      f.detach();
    } catch (...) {
      home->drop();
      state->finish(std::current_exception());
      live_.remove(*state, shard);
    }
  }

  void run_fiber(Launch& l) {
    detail::ExecState st;  // lives in the fiber's own stack frame
    st.scope = std::move(l.seed);
    // The context is the one inside the task state (seeded at spawn unless the seed brought
    // its own); the stop source is made only if somebody asks for a token (task_stop.cpp).
    if (!st.scope.context) st.scope.context = detail::task_context(*l.state);
    st.scope.stop = {};
    st.scope.task = l.state.get();
    st.runtime_slot = &self_;
    detail::install_state(st);
    std::exception_ptr error;
    try {
      l.body();
    } catch (...) {
      error = std::current_exception();
    }
    l.body = {};
    detail::drop_state();
    // Let go of the scope (context, async_to_sync frame, holds) before the task is ready: a
    // waiter that wakes then finds them released (a plain thread reuses its frame).
    st.scope = {};
    boost::intrusive_ptr<detail::TaskStateBase> state = std::move(l.state);
    state->finish(std::move(error));
    live_.remove(*state, l.shard);
  }

  RuntimeOptions options_;
  unsigned threads_;
  std::vector<std::string> thread_names_;
  detail::SchedulerGroup group_;
  detail::OwnedStackPool owned_stacks_;  // outlives the runtime while stacks are out
  detail::StackPool& stacks_ = *owned_stacks_;
  detail::RuntimeInbox inbox_;  // spawns from outside; drained by the scheduling algorithm
  std::mutex close_m_;
  boost::fibers::condition_variable_any close_cv_;  // the workers' main fibers wait for the close
  bool closed_ = false;

  detail::LiveRegistry live_;

 public:
  detail::RuntimeSlots slots;  // RuntimeAccess's per-runtime state of the layers above
  // Metrics, dump, the slow-fiber watchdog and fiber ids (src/observe/); reads the members above.
  detail::RuntimeObserver observer{options_, group_, live_, thread_names_, threads};
};

Runtime::Runtime() : Runtime(RuntimeOptions{}) {}
Runtime::Runtime(RuntimeOptions options) : impl_(std::make_unique<Impl>(*this, std::move(options))) {}
Runtime::Runtime(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Runtime::~Runtime() {
  if (impl_->on_own_fiber()) Impl::retire_from_own_fiber(std::move(impl_));
}

Runtime& Runtime::default_runtime() {
  static Runtime* rt = [] {
    auto* r = new Runtime(RuntimeOptions{.name = "fb-default"});
    std::atexit([] {
      // Bounded: fibers stuck at exit must not hang the process (asgiref 3.6.0 does). Done on a
      // fresh thread: this thread's Boost.Fiber context is already gone (thread_local
      // destructors run before atexit handlers), and waking a fiber needs one.
      auto done = std::make_shared<std::promise<void>>();
      auto finished = done->get_future();
      std::thread([done] {
        Runtime& d = default_runtime();
        if (d.impl_->stop_and_wait(std::chrono::steady_clock::now() + std::chrono::seconds(2))) {
          d.impl_->shutdown();
        } else {
          d.impl_->abandon();
        }
        done->set_value();
      }).detach();
      (void)finished.wait_for(std::chrono::seconds(3));
      // Never deleted: late bodies may still refer to it.
    });
    return r;
  }();
  return *rt;
}

unsigned Runtime::threads() const noexcept { return impl_->thread_count(); }

// The runtime's own counters and fibers, then what the layers above it registered (the
// bridges' threads, the I/O service: observe/metrics_sources.hpp).
RuntimeMetrics Runtime::metrics() const {
  RuntimeMetrics m;
  impl_->observer.scheduler_metrics(m);
  detail::collect_metrics(const_cast<Runtime&>(*this), m, nullptr);
  return m;
}

void Runtime::dump(std::ostream& out) const {
  std::ostringstream text;  // written at once: a dump is often sent to a shared log
  impl_->observer.dump_fibers(text);
  RuntimeMetrics m;
  detail::collect_metrics(const_cast<Runtime&>(*this), m, &text);
  out << text.str();
}

detail::SpawnStack Runtime::take_stack(std::size_t size, std::size_t align) {
  detail::StackHome* home = impl_->take_stack();
  // Only a small state, and never at the cost of the frames' room (Boost keeps at least 8 KiB).
  void* place = size <= detail::kStateInStackMax && align <= 64 ? home->reserve_top(size, 8 * 1024) : nullptr;
  return detail::SpawnStack{home, place};
}

void Runtime::spawn_impl(boost::intrusive_ptr<detail::TaskStateBase> state, detail::unique_function body,
                         detail::SpawnStack stack) {
  detail::DropStackUnlessSpawned guard{stack.home};
  detail::Scope seed = detail::inherit_scope_into(*state);
  guard.home = nullptr;
  impl_->spawn(std::move(state), std::move(body), std::move(seed), static_cast<detail::StackHome*>(stack.home));
}

bool in_fiber() noexcept { return detail::runtime_fiber_state() != nullptr; }

Runtime* current_runtime() noexcept {
  if (current_worker().runtime == nullptr) return nullptr;
  return detail::current_state().runtime();
}

namespace detail {

Runtime& spawn_runtime() {
  if (Runtime* rt = current_runtime()) return *rt;
  return Runtime::default_runtime();
}

void RuntimeAccess::spawn(Runtime& rt, boost::intrusive_ptr<TaskStateBase> state, unique_function body, Scope seed) {
  rt.impl_->spawn(std::move(state), std::move(body), std::move(seed));
}

void* RuntimeAccess::attach_reactor(Runtime& rt, Reactor* r) noexcept {
  detail::SchedulerGroup& group = rt.impl_->scheduler();
  group.attach_reactor(r);
  return &group;
}

void RuntimeAccess::detach_reactor(void* link) noexcept {
  if (link != nullptr) static_cast<detail::SchedulerGroup*>(link)->detach_reactor();
}

const std::atomic<Runtime*>& RuntimeAccess::self_slot(Runtime& rt) noexcept { return rt.impl_->self_; }

std::shared_ptr<void> RuntimeAccess::slot(Runtime& rt, Slot which, std::shared_ptr<void> (*make)(Runtime&)) {
  return rt.impl_->slots.get(which, make, *rt.impl_->self_.load(std::memory_order_acquire));
}

std::shared_ptr<void> RuntimeAccess::exchange_slot(Runtime& rt, Slot which, std::shared_ptr<void> value) {
  return rt.impl_->slots.exchange(which, std::move(value));
}

}  // namespace detail
}  // namespace fiberbridge
