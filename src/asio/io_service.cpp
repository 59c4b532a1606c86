// asio/io_service.cpp — the I/O context a Runtime owns, Runtime::io_executor(), and the
// non-template half of `use_fiber`.
//
// Owns: one boost::asio::io_context per runtime, driven by the runtime's own scheduler threads
// (the service is the scheduler's Reactor, scheduler/sources.hpp): an idle scheduler thread waits
// in it (epoll) instead of on its futex, one thread at a time, and busy threads poll it from
// their dispatcher after 61 picks without a look at it. So a `use_fiber` completion runs on a
// scheduler thread and makes its fiber ready there: no cross-thread wake when the fiber last ran on that
// thread (always on a 1-thread runtime); a fiber that belongs to another thread's scheduler is
// woken remotely (Boost.Fiber keeps a suspended fiber on its scheduler). Tokio's design; the
// previous one, a dedicated reactor thread, paid a cross-thread wake per completion (about
// 70 times the cost of the coroutine variant's completion, measured in bench/coro_bench).
//
// Handlers run in a scheduler thread's dispatcher context, one thread at a time (the drive
// token), never on a fiber; while they run, the thread counts as the runtime's reactor
// (`reactor_io_service()`) and has the reactor's own ExecState installed: the coroutine variant
// (src/coro/) sees the same context and ThreadCriticalLocal values whichever scheduler thread
// drives the reactor, as it did on the single reactor thread.
//
// Shutdown (~IoService, after every fiber of the runtime finished, while the scheduler threads
// still run): new coroutine-bridge work is refused, registered work is cancelled by a handler,
// coroutines started by coro::async_to_sync get a bounded time to unwind, then the service is
// detached from the scheduler (no thread drives it any more) and the io_context is destroyed.
#include "asio/io_service.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stop_token>
#include <unordered_map>
#include <utility>
#include <vector>

#include "context/exec_state.hpp"
#include "detail/stop_watch.hpp"
#include "fiberbridge/asio.hpp"
#include "fiberbridge/errors.hpp"
#include "observe/metrics_sources.hpp"
#include "runtime_impl.hpp"
#include "scheduler/fiber_wake.hpp"
#include "scheduler/sources.hpp"

namespace fiberbridge::detail {

namespace {
// Set while this thread drives a reactor (handlers never suspend: no fiber runs them).
thread_local IoService* tl_reactor = nullptr;
}  // namespace

class IoService final : public Reactor {
 public:
  explicit IoService(Runtime& rt) : runtime_(&RuntimeAccess::self_slot(rt)), guard_(boost::asio::make_work_guard(io_)) {
    state_.scope.context = std::make_shared<ContextData>();
    link_ = RuntimeAccess::attach_reactor(rt, this);
  }

  ~IoService() {
    {
      std::lock_guard g(m_);
      closing_ = true;
    }
    boost::asio::post(io_, [this] { cancel_all(); });
    {
      std::unique_lock lk(m_);
      (void)roots_done_.wait_for(lk, std::chrono::seconds(2), [this] { return roots_ == 0; });
    }
    RuntimeAccess::detach_reactor(link_);  // no scheduler thread runs io_ after this
    // io_ is destroyed next (members in reverse order): handlers still queued are destroyed
    // unrun; a coroutine root reports that to its waiting caller (CancelledError).
  }

  // ---- Reactor (called by the drive-token holder only, in its dispatcher context) ----
  std::size_t poll(std::size_t limit) noexcept override {
    Driving here(*this);
    if (io_.stopped()) io_.restart();  // a stale interrupt meant for an earlier wait
    return run_ready(0, limit);
  }
  void prepare_wait() noexcept override { io_.restart(); }
  void wait_until(std::chrono::steady_clock::time_point deadline) noexcept override {
    Driving here(*this);
    // Without a deadline, run_one: run_one_until reads the clock twice per wait. One handler
    // per wait, like io_context::run: draining the rest with poll_one would end in one more
    // epoll_wait(0) per wake-up (Asio polls the reactor when its queue holds no handler);
    // the handlers still queued run at the next wait, or at a busy thread's next poll.
    if (deadline == std::chrono::steady_clock::time_point::max()) {
      (void)io_.run_one();
    } else {
      (void)io_.run_one_until(deadline);
    }
  }
  void interrupt() noexcept override { io_.stop(); }  // sticky until the next prepare_wait

  boost::asio::io_context& context() noexcept { return io_; }
  void count_completion() noexcept {  // on the reactor thread only
    completions_.store(completions_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  std::uint64_t completions() const noexcept { return completions_.load(std::memory_order_relaxed); }
  Runtime* runtime() const noexcept { return runtime_->load(std::memory_order_acquire); }

  bool add(const std::shared_ptr<IoCancellable>& w) {
    std::lock_guard g(m_);
    if (closing_) return false;
    entries_.emplace(w.get(), w);
    if (w->is_root()) ++roots_;
    return true;
  }

  void remove(const IoCancellable* w) {
    std::lock_guard g(m_);
    auto it = entries_.find(w);
    if (it == entries_.end()) return;
    if (it->second->is_root() && --roots_ == 0) roots_done_.notify_all();
    entries_.erase(it);
  }

 private:
  void cancel_all() {
    std::vector<std::shared_ptr<IoCancellable>> all;
    {
      std::lock_guard g(m_);
      all.reserve(entries_.size());
      for (auto& [key, w] : entries_) all.push_back(w);
    }
    for (auto& w : all) w->cancel_on_reactor();
  }

  // While a scheduler thread runs handlers: it is this runtime's reactor, with its state.
  struct Driving {
    explicit Driving(IoService& s) noexcept : outer(std::exchange(tl_reactor, &s)), state(s.state_) {}
    ~Driving() { tl_reactor = outer; }
    IoService* outer;
    StateOverride state;
  };
  std::size_t run_ready(std::size_t ran, std::size_t limit) noexcept {
    while (ran < limit && io_.poll_one() != 0) ++ran;
    return ran;
  }

  const std::atomic<Runtime*>* runtime_;  // the runtime's self slot (see RuntimeAccess::self_slot)
  ExecState state_;  // the reactor's own context and thread-critical locals (see the top)
  void* link_ = nullptr;  // the scheduler it is attached to (RuntimeAccess::attach_reactor)
  std::atomic<std::uint64_t> completions_{0};  // use_fiber completions run by this reactor
  // Declared before io_: destroyed after it (a root reports to its caller while io_ is destroyed).
  std::mutex m_;
  std::condition_variable roots_done_;
  bool closing_ = false;
  std::size_t roots_ = 0;
  std::unordered_map<const IoCancellable*, std::shared_ptr<IoCancellable>> entries_;

  // One thread runs it at a time (the drive token), so Asio's single-thread hint holds.
  boost::asio::io_context io_{1};
  // Keeps run_one_until waiting when no operation is pending (else it would stop io_).
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
};

namespace {
// The I/O service's part of Runtime::metrics (observe/metrics_sources.hpp).
void io_metrics(Runtime& rt, RuntimeMetrics& out, std::ostream*) { out.io_completions = io_completions(rt); }

std::shared_ptr<void> make_io_service(Runtime& rt) {
  add_metrics_source(&io_metrics);
  return std::make_shared<IoService>(rt);
}
}  // namespace

std::shared_ptr<IoService> io_service_of(Runtime& rt) {
  return std::static_pointer_cast<IoService>(RuntimeAccess::slot(rt, RuntimeAccess::Slot::kIoService, &make_io_service));
}

IoService* reactor_io_service() noexcept { return tl_reactor; }

std::uint64_t io_completions(Runtime& rt) {
  auto s = std::static_pointer_cast<IoService>(RuntimeAccess::slot(rt, RuntimeAccess::Slot::kIoService, nullptr));
  return s ? s->completions() : 0;
}

void count_io_completion() noexcept {
  if (tl_reactor != nullptr) tl_reactor->count_completion();
}
boost::asio::io_context& io_context_of(IoService& s) noexcept { return s.context(); }
Runtime* io_runtime(IoService& s) noexcept { return s.runtime(); }
bool io_register(IoService& s, const std::shared_ptr<IoCancellable>& w) { return s.add(w); }
void io_unregister(IoService& s, const IoCancellable* w) { s.remove(w); }

// ---- use_fiber ----

ExecState& enter_fiber_op(bool throw_if_stopped) {
  ExecState* self = runtime_fiber_state();
  if (self == nullptr)
    throw NotInFiberError(
        "fiberbridge::use_fiber must be used on a runtime fiber - on a plain thread use boost::asio::use_future, "
        "or run the code on a fiber (fiberbridge::spawn / async_to_sync)");
  if (throw_if_stopped && self->scope.stop_requested()) throw CancelledError();
  return *self;
}

namespace {
struct RequestCancel {
  std::shared_ptr<FiberOpBase> op;
  boost::asio::any_io_executor ex;
  void operator()() noexcept {
    {
      std::lock_guard g(op->m);
      if (op->done || op->stopped) return;  // a second request for one stop (StopWatch) is a no-op
      op->stopped = true;
    }
    // On the operation's executor: the signal's only user besides the operation itself.
    try {
      boost::asio::post(ex, [op = op] {
        {
          std::lock_guard g(op->m);
          if (op->done || op->abandoned) return;
        }
        if (op->signal.slot().has_handler()) {
          op->signal.emit(boost::asio::cancellation_type::all);
        } else {
          settle_fiber_op(*op, true);  // cannot be cancelled: the fiber leaves it behind
        }
      });
    } catch (...) {  // the executor cannot take it (shutting down): leave the operation behind
      settle_fiber_op(*op, true);
    }
  }
};

}  // namespace

void settle_fiber_op(FiberOpBase& op, bool abandoned) noexcept {
  std::lock_guard g(op.m);
  (abandoned ? op.abandoned : op.done) = true;
  // The fiber parked detached: this thread adopts it when it is one of the fiber's runtime
  // (an I/O handler, on the driving thread: no cross-thread hop), else its own thread does.
  // Under the lock: the fiber takes it again before it goes on, so it cannot finish (and its
  // runtime end) while a hand-over from a plain thread still touches that runtime.
  wake_waiter(op.waiter);
}

bool wait_fiber_op(ExecState& self, const std::shared_ptr<FiberOpBase>& op, boost::asio::any_io_executor cancel_ex) {
  // A runtime fiber's own task calls the cancellation as its stop hook (stop_watch.hpp); a
  // second request for one stop is a no-op.
  StopWatch on_stop(self.scope, RequestCancel{op, std::move(cancel_ex)});
  WaitMark mark(WaitKind::kUseFiber, nullptr);
  boost::fibers::detail::spinlock_lock lk(op->m);
  while (!op->done && !op->abandoned) wait_parked(op->waiter, lk);  // settle_fiber_op wakes us
  return op->done;
}

}  // namespace fiberbridge::detail

namespace fiberbridge {

boost::asio::any_io_executor Runtime::io_executor() {
  return detail::io_service_of(*this)->context().get_executor();
}

boost::asio::any_io_executor io_executor() {
  if (Runtime* rt = current_runtime()) return rt->io_executor();
  return Runtime::default_runtime().io_executor();
}

}  // namespace fiberbridge
