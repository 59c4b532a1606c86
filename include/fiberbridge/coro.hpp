/// @file
/// fiberbridge/coro.hpp — the two bridges for C++20 coroutines on Asio (boost::asio::awaitable),
/// with the fiber variant's routing rules, errors and cancellation.
///
/// @code
/// namespace fb = fiberbridge;
/// boost::asio::awaitable<int> handler(int id) {
///   auto load = fb::coro::sync_to_async(load_row);  // name the bridge object first (g++ 12, below)
///   int row = co_await load(id);                    // load_row runs on the routed thread
///   co_return row + 1;
/// }
///
/// int v = fb::coro::async_to_sync(handler)(41);  // on a plain thread: parks, serves routed work
/// @endcode
///
/// coro::sync_to_async(f, options)(args...) returns awaitable<R>: awaiting it runs f(args...)
/// where the fiber variant would (rules 1-5, WouldDeadlockError, thread_sensitive = false on an
/// Executor or the blocking pool); the result, or the exception as the same object, comes back
/// to the coroutine, which resumes on its own executor. Arguments are decay-copied.
///
/// coro::async_to_sync(f, options)(args...) — f(args...) returns awaitable<R> — runs it as a
/// coroutine on the io_executor() of the runtime the fiber variant would choose (the outer
/// fiber's or coroutine's runtime when called from a sync body, the AsyncSingleThreadContext's,
/// a fresh private runtime with force_new_loop, options.runtime, default_runtime()), parks the
/// calling thread and serves the thread-sensitive work routed to it until the coroutine is
/// done. Throws AsyncToSyncInFiberError on a fiber and on a reactor thread (where it would
/// block the coroutines it waits for); rethrows the coroutine's exception (the same object).
///
/// Cancellation: Asio per-operation cancellation of the coroutine awaiting coro::sync_to_async
/// (a cancellation slot bound with co_spawn, a parallel group, a timeout) resumes it at once
/// with fiberbridge::CancelledError; the body runs on, detached, and a body taking a
/// std::stop_token first receives a stopped one. A stop of the sync body that called
/// coro::async_to_sync (its awaiting fiber or coroutine was cancelled) cancels the coroutine
/// (terminal cancellation) and stops its `this_task::stop_token()`.
///
/// Where coroutines run: on the runtime's reactor, which the runtime's scheduler threads drive
/// one at a time (see fiberbridge/asio.hpp) — a coroutine may resume on a different OS thread
/// after each co_await, never on two at once, and never on a fiber. "The reactor thread" below
/// means whichever scheduler thread drives the reactor at that moment.
///
/// Context variables: the coroutine started by coro::async_to_sync gets a copy of the calling
/// thread's context (copied back afterwards, like the fiber variant), and its executor installs
/// that context on the reactor thread whenever the coroutine runs. So ContextVar works in it
/// and in every coroutine it co_awaits — they share one context, as coroutines awaited
/// directly share their task's context in Python. The difference from fibers: there is no
/// per-coroutine storage, so a coroutine co_spawned on `co_await this_coro::executor` shares
/// the context (not a snapshot); use `co_spawn(coro::bind_context(ex), ...)` for spawn's
/// snapshot semantics. Coroutines started on a bare io_executor() have the reactor's own
/// context. ThreadCriticalLocal in a coroutine is per reactor (asgiref: per event-loop thread):
/// the reactor keeps its own values and installs them on whichever scheduler thread drives it,
/// so a value set in one handler is seen by the next, whatever OS thread runs it. No ThreadSensitiveContext for coroutines (it needs an asynchronous destructor);
/// use AsyncSingleThreadContext on the calling thread or thread_sensitive = false instead.
///
/// g++ 12: never co_await an expression that creates a temporary with a non-trivial
/// destructor in the same full-expression (g++ 12 may destroy it twice), e.g.
/// `co_await coro::sync_to_async([p] {...})()`. Name the bridge object first:
/// @code
/// auto op = fb::coro::sync_to_async([p] { ... });
/// co_await op();
/// @endcode
///
/// Not part of the umbrella <fiberbridge/fiberbridge.hpp> (it pulls in Asio): include it
/// yourself. Compiled from examples/headers/coro.cpp.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "fiberbridge/async_to_sync.hpp"
#include "fiberbridge/detail/coro_bridge.hpp"
#include "fiberbridge/detail/result_slot.hpp"
#include "fiberbridge/errors.hpp"
#include "fiberbridge/sync_to_async.hpp"
#include "fiberbridge/traits.hpp"

namespace fiberbridge::detail {
struct CoroWait;
struct CoroRun;
}  // namespace fiberbridge::detail

namespace fiberbridge {
/// coro::SyncToAsync objects are async (sync_to_async of one does not compile).
template <class F>
struct is_async_callable<detail::SyncBridge<F, detail::CoroWait>> : std::true_type {};
}  // namespace fiberbridge

namespace fiberbridge::detail {

template <class Handler>
class CoroCompletionImpl final : public CoroCompletion {
 public:
  explicit CoroCompletionImpl(Handler h) : h_(std::move(h)) {}
  void post() override {
    auto ex = boost::asio::get_associated_executor(h_);
    boost::asio::post(ex, [h = std::move(h_)]() mutable { std::move(h)(); });
  }

 private:
  Handler h_;
};

struct CoroSyncInitiation {
  CoroSyncCall* op;
  template <class Handler>
  void operator()(Handler&& handler) const {
    auto slot = boost::asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
      slot.assign([ctl = op->control()](boost::asio::cancellation_type type) {
        if (type != boost::asio::cancellation_type::none) CoroSyncCall::cancel(ctl);
      });
    }
    op->start(std::make_unique<CoroCompletionImpl<std::decay_t<Handler>>>(std::forward<Handler>(handler)));
  }
};

// Not a lambda: a coroutine's parameters live in its frame, a lambda's captures would not.
template <class Call>
boost::asio::awaitable<typename Call::Result> coro_await_sync_call(std::shared_ptr<Call> call,
                                                                   SyncToAsyncOptions options) {
  CoroSyncCall op(call, options);
  // The outcome is not passed through the completion handler: Asio keeps copies of a handler's
  // exception_ptr argument until after the coroutine has run on, so the last reference to the
  // exception could be dropped on the reactor thread after its consumer read it (invisible to
  // TSan: the count lives in libstdc++). It waits in `op`, and this coroutine moves it out.
  auto waiting = boost::asio::async_initiate<const boost::asio::use_awaitable_t<>, void()>(CoroSyncInitiation{&op},
                                                                                         boost::asio::use_awaitable);
  co_await std::move(waiting);
  std::exception_ptr error = op.take_error();
  op.copy_back();
  if (error) std::rethrow_exception(std::move(error));
  co_return call->take();
}

// The coroutine variant's call: an awaitable that makes it when awaited.
struct CoroWait {
  template <class Call, class F, class Args>
  static auto run(const F& f, Args&& args, const SyncToAsyncOptions& options) {
    return coro_await_sync_call<Call>(std::make_shared<Call>(f, std::move(args)), options);
  }
};

template <class Aw>
struct awaitable_traits;
template <class T>
struct awaitable_traits<boost::asio::awaitable<T, boost::asio::any_io_executor>> {
  using value_type = T;
};

// The root coroutine of coro::async_to_sync. Its exception does not travel through co_spawn's
// completion (Asio keeps copies of it on the reactor thread after the waiting thread has been
// released): it is caught here and left in `*error`, which only the waiting thread reads.
template <class R, class F, class Tuple>
boost::asio::awaitable<void> coro_entry(F fn, Tuple args, ResultSlot<R>* slot, std::exception_ptr* error) {
  try {
    auto awaitable = std::apply(std::move(fn), std::move(args));
    if constexpr (std::is_void_v<R>) {
      co_await std::move(awaitable);
    } else {
      R value = co_await std::move(awaitable);
      slot->fill([&]() -> R { return std::move(value); });
    }
  } catch (...) {
    *error = std::current_exception();
  }
}

// The coroutine variant's async_to_sync call: the coroutine runs on a reactor, its exception
// comes back through `error` (see coro_entry).
struct CoroRun {
  template <class Fn, class... Args>
  static auto run(const Fn& f, std::tuple<Args...> args, const AsyncToSyncOptions& options) {
    using R = typename awaitable_traits<std::invoke_result_t<Fn, Args...>>::value_type;
    ResultSlot<R> slot;
    std::exception_ptr error;
    run_coro_async_call(coro_entry<R>(f, std::move(args), &slot, &error), options);
    if (error) std::rethrow_exception(std::move(error));
    return slot.take();
  }
};

}  // namespace fiberbridge::detail

namespace fiberbridge::coro {

/// SyncToAsync — a blocking callable made awaitable from coroutines. Copyable if F is; any
/// thread may make, copy or destroy one.
///
/// `operator()(a...) const` — returns an awaitable<R> (arguments decay-copied) that, awaited in
/// a coroutine, runs f(a...) on the routed thread and resumes the coroutine on its own executor
/// with the result. The awaiting coroutine gets CancelledError (its Asio cancellation or stop),
/// WouldDeadlockError (rule 4), or whatever f throws (the same object).
///
/// `options() const noexcept` — the options it was made with.
///
/// `explicit SyncToAsync(F f, SyncToAsyncOptions options = {})` — on any thread; throws
/// std::invalid_argument for an executor together with thread_sensitive.
template <class F>
using SyncToAsync = detail::SyncBridge<F, detail::CoroWait>;

/// sync_to_async — the factory of coro::SyncToAsync, on any thread: `sync_to_async(f, options
/// = {})` and the decorator form `sync_to_async(options)`, as fiberbridge::sync_to_async (and
/// throwing std::invalid_argument the same way).
inline constexpr detail::BridgeFactory<SyncToAsync, SyncToAsyncOptions, &detail::validate> sync_to_async{};

/// AsyncToSync — coroutine code made callable from plain threads. Copyable if F is; any thread
/// may make, copy or destroy one.
///
/// `operator()(a...) const` — runs f(a...) (an awaitable<R>; arguments decay-copied) as a
/// coroutine on the chosen runtime's reactor and returns its result. Call it on a plain thread,
/// which parks and serves the thread-sensitive work routed to it meanwhile. Throws
/// AsyncToSyncInFiberError on a fiber or a reactor thread, std::logic_error when the runtime is
/// being destroyed, CancelledError when the runtime's I/O shut down first, and whatever the
/// coroutine throws (the same object).
///
/// `options() const noexcept` — the options it was made with.
///
/// `explicit AsyncToSync(F f, AsyncToSyncOptions options = {})` — on any thread.
template <class F>
using AsyncToSync = detail::AsyncBridge<F, detail::CoroRun>;

/// async_to_sync — the factory of coro::AsyncToSync, on any thread: `async_to_sync(f, options
/// = {})` and the decorator form `async_to_sync(options)`, as fiberbridge::async_to_sync.
inline constexpr detail::BridgeFactory<AsyncToSync, AsyncToSyncOptions> async_to_sync{};

/// bind_context — an executor for co_spawn that runs the new coroutine with a snapshot of the
/// current context variables and routing state (what `spawn` gives a fiber). `ex` must be an
/// io_context executor (e.g. io_executor() or `co_await this_coro::executor` inside a bridged
/// coroutine); throws std::invalid_argument otherwise.
boost::asio::any_io_executor bind_context(const boost::asio::any_io_executor& ex);

}  // namespace fiberbridge::coro
