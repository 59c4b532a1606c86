// asio/io_service.cpp — the I/O context a Runtime owns, Runtime::io_executor(), and the
// non-template half of `use_fiber`.
//
// Owns: one boost::asio::io_context per runtime, run by a dedicated reactor thread (kept
// alive by a work guard). Completion handlers run on that thread; `use_fiber` only wakes the
// waiting fiber from there, so no fiber code runs on the reactor thread. The coroutine
// variant (src/coro/) runs its coroutines on this thread.
//
// Why a reactor thread rather than scheduler threads polling the io_context when idle: the
// scheduler (src/scheduler/) parks idle threads on a futex with an adaptive spin; polling
// would need a second wake-up source (epoll) in that parking path, and a busy scheduler would
// delay I/O completions behind fiber work. With one reactor thread an I/O completion costs
// one cross-thread fiber wake (the same hop every bridge pays); bench/coro_bench.cpp measures
// it next to the coroutine variant, where completions need no hop at all.
//
// Shutdown (~IoService, after every fiber of the runtime finished): new coroutine-bridge work
// is refused, registered work is cancelled on the reactor thread, coroutines started by
// coro::async_to_sync get a bounded time to unwind, then the io_context stops and is destroyed.
#include "asio/io_service.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <pthread.h>

#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <unordered_map>
#include <vector>

#include "context/exec_state.hpp"
#include "fiberbridge/asio.hpp"
#include "fiberbridge/errors.hpp"
#include "observe/metrics_sources.hpp"
#include "runtime_impl.hpp"

namespace fiberbridge::detail {

namespace {
// The reactor thread is a plain thread (never a fiber), so thread_local is safe.
thread_local IoService* tl_reactor = nullptr;
}  // namespace

class IoService {
 public:
  explicit IoService(Runtime& rt) : runtime_(&RuntimeAccess::self_slot(rt)), guard_(boost::asio::make_work_guard(io_)) {
    thread_ = std::thread([this] {
      ::pthread_setname_np(::pthread_self(), "fb-io");
      tl_reactor = this;
      io_.run();
      tl_reactor = nullptr;
    });
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
    guard_.reset();
    io_.stop();
    thread_.join();
    // io_ is destroyed next (members in reverse order): handlers still queued are destroyed
    // unrun; a coroutine root reports that to its waiting caller (CancelledError).
  }

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

  const std::atomic<Runtime*>* runtime_;  // the runtime's self slot (see RuntimeAccess::self_slot)
  std::atomic<std::uint64_t> completions_{0};  // use_fiber completions run by this reactor
  // Declared before io_: destroyed after it (a root reports to its caller while io_ is destroyed).
  std::mutex m_;
  std::condition_variable roots_done_;
  bool closing_ = false;
  std::size_t roots_ = 0;
  std::unordered_map<const IoCancellable*, std::shared_ptr<IoCancellable>> entries_;

  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
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

void check_fiber_op_allowed() {
  if (!in_fiber())
    throw NotInFiberError(
        "fiberbridge::use_fiber must be used on a runtime fiber - on a plain thread use boost::asio::use_future, "
        "or run the code on a fiber (fiberbridge::spawn / async_to_sync)");
}

bool fiber_stop_requested() noexcept { return current_state().scope.stop.stop_requested(); }

namespace {
struct RequestCancel {
  std::shared_ptr<FiberOpBase> op;
  boost::asio::any_io_executor ex;
  void operator()() noexcept {
    {
      std::lock_guard g(op->m);
      if (op->done) return;
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
          std::lock_guard g(op->m);  // cannot be cancelled: the fiber leaves it behind
          op->abandoned = true;
          op->cv.notify_all();
        }
      });
    } catch (...) {  // the executor cannot take it (shutting down): leave the operation behind
      std::lock_guard g(op->m);
      op->abandoned = true;
      op->cv.notify_all();
    }
  }
};
}  // namespace

bool wait_fiber_op(const std::shared_ptr<FiberOpBase>& op, boost::asio::any_io_executor cancel_ex) {
  const std::stop_token stop = current_state().scope.stop;
  std::stop_callback<RequestCancel> on_stop(stop, RequestCancel{op, std::move(cancel_ex)});
  WaitMark mark(WaitKind::kUseFiber, nullptr);
  std::unique_lock lk(op->m);
  op->cv.wait(lk, [&] { return op->done || op->abandoned; });
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
