// detail/coro_bridge.hpp — the machinery behind fiberbridge/coro.hpp.
//
// A coroutine has no storage of its own that Asio would carry across suspensions, so the
// coroutine variant carries its execution state (context variables, routing state, stop
// token: exactly the `Scope` a fiber carries) in its *executor*: a ScopedExecutor wraps the
// runtime's io_context executor and installs the coroutine's scope on the reactor thread for
// every piece of work it runs (each resumption), and restores the thread's own afterwards.
// Everything that runs through that executor — the coroutine started by coro::async_to_sync,
// every coroutine it co_awaits, and anything co_spawned on `co_await this_coro::executor` —
// therefore shares one scope (Python: coroutines awaited directly share their task's context).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>

#include "fiberbridge/async_to_sync.hpp"
#include "fiberbridge/sync_to_async.hpp"

namespace fiberbridge::detail {

// The execution state of a coroutine thread (defined in src/coro/): its Scope and the
// Runtime whose reactor runs it.
struct CoroState;

// Runs fn(arg) with `st` installed as the current scope of this thread.
void coro_run(const std::shared_ptr<CoroState>& st, void (*fn)(void*), void* arg);

template <class F>
struct CoroInvoker {
  std::shared_ptr<CoroState> st;
  F f;
  void operator()() {
    coro_run(st, [](void* p) { std::move(*static_cast<F*>(p))(); }, &f);
  }
};

// An executor that runs work with a coroutine's scope installed. Inner is an io_context
// executor type (with whatever properties were required of it).
template <class Inner>
class ScopedExecutor {
 public:
  ScopedExecutor(Inner inner, std::shared_ptr<CoroState> st) noexcept : inner_(std::move(inner)), st_(std::move(st)) {}

  template <class F>
  void execute(F&& f) const {
    inner_.execute(CoroInvoker<std::decay_t<F>>{st_, std::forward<F>(f)});
  }

  template <class P>
    requires boost::asio::can_query<const Inner&, const P&>::value
  auto query(const P& p) const noexcept(boost::asio::is_nothrow_query<const Inner&, const P&>::value)
      -> decltype(boost::asio::query(std::declval<const Inner&>(), p)) {
    return boost::asio::query(inner_, p);
  }

  template <class P>
    requires boost::asio::can_require<const Inner&, const P&>::value
  auto require(const P& p) const
      -> ScopedExecutor<std::decay_t<decltype(boost::asio::require(std::declval<const Inner&>(), p))>> {
    return {boost::asio::require(inner_, p), st_};
  }

  template <class P>
    requires boost::asio::can_prefer<const Inner&, const P&>::value
  auto prefer(const P& p) const
      -> ScopedExecutor<std::decay_t<decltype(boost::asio::prefer(std::declval<const Inner&>(), p))>> {
    return {boost::asio::prefer(inner_, p), st_};
  }

  friend bool operator==(const ScopedExecutor& a, const ScopedExecutor& b) noexcept {
    return a.inner_ == b.inner_ && a.st_ == b.st_;
  }
  friend bool operator!=(const ScopedExecutor& a, const ScopedExecutor& b) noexcept { return !(a == b); }

  const Inner& inner() const noexcept { return inner_; }
  const std::shared_ptr<CoroState>& state() const noexcept { return st_; }

 private:
  Inner inner_;
  std::shared_ptr<CoroState> st_;
};

// ---- coro::sync_to_async ----

// Where a coro::sync_to_async call reports back to its coroutine: posts the coroutine's
// completion handler to its executor (the outcome waits in the call, see take_error()).
class CoroCompletion {
 public:
  virtual ~CoroCompletion() = default;
  virtual void post() = 0;
};

struct CoroSyncControl;

// One coro::sync_to_async call, created on the awaiting coroutine's thread (its scope
// installed). Throws CancelledError (the coroutine's stop was requested already) and
// WouldDeadlockError (routing rule 4) from the constructor.
class CoroSyncCall {
 public:
  CoroSyncCall(std::shared_ptr<SyncCallBase> call, const SyncToAsyncOptions& options);
  ~CoroSyncCall();
  CoroSyncCall(const CoroSyncCall&) = delete;
  CoroSyncCall& operator=(const CoroSyncCall&) = delete;

  // Submits the body. `completion` is posted exactly once: the body's outcome, a submission
  // error, or CancelledError from cancel(). Never throws.
  void start(std::unique_ptr<CoroCompletion> completion) noexcept;
  // Asio cancellation of the awaiting coroutine: the body's stop token is stopped and the
  // coroutine resumes at once with CancelledError; the body runs on, detached.
  static void cancel(const std::shared_ptr<CoroSyncControl>& ctl) noexcept;
  const std::shared_ptr<CoroSyncControl>& control() const noexcept { return ctl_; }
  // After the coroutine resumed: the body's exception, a submission error or CancelledError
  // (null on success), moved out so that the coroutine holds the last reference.
  std::exception_ptr take_error() noexcept;
  // After the coroutine resumed: copy the body's context changes back (success, exception or
  // cancellation).
  void copy_back() noexcept;

 private:
  std::shared_ptr<CoroSyncControl> ctl_;
};

// ---- coro::async_to_sync ----

// Runs `entry` as a coroutine on the io_context of the runtime chosen by the fiber variant's
// rules and parks this thread (serving routed work) until it is done. Rethrows its exception.
void run_coro_async_call(boost::asio::awaitable<void> entry, const AsyncToSyncOptions& options);

}  // namespace fiberbridge::detail
