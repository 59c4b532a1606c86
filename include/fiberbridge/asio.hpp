/// @file
/// fiberbridge/asio.hpp — Asio on fibers: any Asio asynchronous operation, started on a runtime
/// fiber with the `use_fiber` completion token, suspends only that fiber.
///
/// @code
/// namespace fb = fiberbridge;
///
/// boost::asio::ip::tcp::socket sock(fb::io_executor());
/// sock.async_connect(endpoint, fb::use_fiber);  // only this fiber waits
/// std::size_t n = sock.async_read_some(boost::asio::buffer(buf), fb::use_fiber);
/// boost::system::error_code ec;
/// timer.async_wait(fb::use_fiber[ec]);  // errors in ec, never thrown
/// @endcode
///
/// Not part of the umbrella <fiberbridge/fiberbridge.hpp>: include it where you use Asio.
///
/// Where the I/O runs: each Runtime owns one io_context (`Runtime::io_executor()`), driven by
/// the runtime's own scheduler threads, tokio-style: an idle scheduler thread waits in it
/// (epoll) instead of on its futex, one thread at a time, and busy threads poll it every 61
/// fiber switches or so, so I/O and timers do not starve behind fibers that yield. A completion
/// handler runs on a scheduler thread, outside any fiber (in the thread's dispatcher), and only
/// stores the result and wakes the fiber *on that same thread*, whichever thread the fiber ran
/// on before (a fiber waiting in `use_fiber` belongs to no thread, so the thread that completes
/// its I/O adopts it, as tokio does; peers steal it if that thread is busy). Code after a
/// `use_fiber` call may thus run on another OS thread than the code before it (as after any
/// suspension on a multi-thread runtime): do not keep thread-local addresses or thread ids
/// across it (glibc's pthread_self() is `const`, so even std::this_thread::get_id() may be
/// reused from before the call by the compiler). Handlers of your own must
/// therefore not block: they hold up the fibers of the thread that runs them. A fiber that
/// never yields holds up I/O completions on its thread (as on any cooperative scheduler).
/// The shared state is held by shared_ptr from both sides, so a fiber that leaves never frees
/// what a late handler still touches (boost-fiber-notes §4.7).
///
/// Results: the handler signature `void(error_code, T...)`, `void(exception_ptr, T...)` or
/// `void(T...)` becomes the return value: nothing (void), T, or std::tuple<T...>.
/// `use_fiber`: an error throws boost::system::system_error; `use_fiber[ec]` stores it in `ec`.
///
/// Cancellation: a stop requested on the fiber's task (`Task::request_stop`, ~Runtime) cancels
/// the pending operation through Asio per-operation cancellation (a cancellation_slot bound to
/// the handler, emitted on the operation's executor). The operation completes with
/// operation_aborted: `use_fiber` throws fiberbridge::CancelledError, `use_fiber[ec]` sets
/// ec = boost::asio::error::operation_aborted and returns normally. An operation that does not
/// support per-operation cancellation (e.g. a resolver, a plain post) is abandoned: the fiber
/// wakes at once the same way and the operation's eventual result is dropped.
/// A stop requested before the call: `use_fiber` throws CancelledError without starting the
/// operation; `use_fiber[ec]` starts it and cancels it at once.
///
/// Throws NotInFiberError when used off a runtime fiber (on a plain thread use a future or a
/// coroutine instead). Compiled from examples/headers/asio.cpp.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "fiberbridge/detail/use_fiber.hpp"
#include "fiberbridge/errors.hpp"
#include "fiberbridge/runtime.hpp"

namespace fiberbridge {

/// io_executor — the I/O executor of the current fiber's runtime, else of default_runtime()
/// (`Runtime::io_executor()`). Callable from any thread or fiber; creates the runtime's I/O
/// context (and the default runtime) on first use. Throws what creating them throws.
boost::asio::any_io_executor io_executor();

/// use_fiber_ec_t — the token `use_fiber[ec]`: errors go to `ec` instead of being thrown.
/// Same rules as use_fiber otherwise: on a runtime fiber only (else NotInFiberError).
struct use_fiber_ec_t {
  boost::system::error_code* ec;  ///< where the operation's error (or success) is stored
};

/// use_fiber_t — the completion token type of `use_fiber`: a stateless value, usable anywhere;
/// the operation it completes must be started on a runtime fiber.
struct use_fiber_t {
  /// A token; does not throw.
  constexpr use_fiber_t() noexcept = default;
  /// `use_fiber[ec]` — the token that stores errors in `ec` (which must outlive the operation's
  /// call) instead of throwing them. Does not throw.
  use_fiber_ec_t operator[](boost::system::error_code& ec) const noexcept { return use_fiber_ec_t{&ec}; }
};

/// use_fiber — completion token: the operation suspends only the calling fiber, which must be a
/// runtime fiber. Throws NotInFiberError off one, CancelledError when the fiber's task is
/// stopped, boost::system::system_error for the operation's error.
inline constexpr use_fiber_t use_fiber{};

namespace detail {

// One operation in flight, shared by the waiting fiber and the completion handler.
template <class... Ts>
struct FiberOp final : FiberOpBase {
  using Values = std::tuple<Ts...>;
  std::optional<Values> values;
};

// The handler Asio sees. Holds the state by shared_ptr: the woken fiber may have left already.
template <class Kind, class... Ts>
struct FiberHandler {
  std::shared_ptr<FiberOp<Ts...>> op;
  using cancellation_slot_type = boost::asio::cancellation_slot;
  cancellation_slot_type get_cancellation_slot() const noexcept { return op->signal.slot(); }

  void operator()(Kind head, Ts... args) {
    std::shared_ptr<FiberOp<Ts...>> st = std::move(op);
    if constexpr (std::is_same_v<Kind, std::exception_ptr>) {
      st->error = std::move(head);
    } else {
      st->ec = head;
    }
    st->values.emplace(std::move(args)...);
    st->complete();
  }
};

template <class... Ts>
struct FiberHandler<void, Ts...> {
  std::shared_ptr<FiberOp<Ts...>> op;
  using cancellation_slot_type = boost::asio::cancellation_slot;
  cancellation_slot_type get_cancellation_slot() const noexcept { return op->signal.slot(); }

  void operator()(Ts... args) {
    std::shared_ptr<FiberOp<Ts...>> st = std::move(op);
    st->values.emplace(std::move(args)...);
    st->complete();
  }
};

template <class Sig>
struct FiberSignature;

template <class... Args>
struct FiberSignature<void(Args...)> {
  using Kind = void;
  using Op = FiberOp<std::decay_t<Args>...>;
  using Handler = FiberHandler<void, std::decay_t<Args>...>;
};
template <class... Args>
struct FiberSignature<void(boost::system::error_code, Args...)> {
  using Kind = boost::system::error_code;
  using Op = FiberOp<std::decay_t<Args>...>;
  using Handler = FiberHandler<boost::system::error_code, std::decay_t<Args>...>;
};
template <class... Args>
struct FiberSignature<void(const boost::system::error_code&, Args...)> : FiberSignature<void(boost::system::error_code, Args...)> {};
template <class... Args>
struct FiberSignature<void(std::exception_ptr, Args...)> {
  using Kind = std::exception_ptr;
  using Op = FiberOp<std::decay_t<Args>...>;
  using Handler = FiberHandler<std::exception_ptr, std::decay_t<Args>...>;
};

template <class Values>
struct FiberReturn;
template <>
struct FiberReturn<std::tuple<>> {
  using type = void;
};
template <class T>
struct FiberReturn<std::tuple<T>> {
  using type = T;
};
template <class T, class U, class... Rest>
struct FiberReturn<std::tuple<T, U, Rest...>> {
  using type = std::tuple<T, U, Rest...>;
};

template <class T, class = void>
struct has_executor_type : std::false_type {};
template <class T>
struct has_executor_type<T, std::void_t<typename T::executor_type>> : std::true_type {};

// The executor on which to emit the cancellation: the I/O object's, else the runtime's.
template <class Initiation>
boost::asio::any_io_executor cancel_executor(const Initiation& init) {
  if constexpr (has_executor_type<std::decay_t<Initiation>>::value) {
    return boost::asio::any_io_executor(init.get_executor());
  } else {
    return fiberbridge::io_executor();
  }
}

template <class Sig, class Initiation, class... InitArgs>
auto run_fiber_op(boost::system::error_code* ec_out, Initiation&& init, InitArgs&&... args) {
  using Traits = FiberSignature<Sig>;
  using Op = typename Traits::Op;
  using Kind = typename Traits::Kind;
  using Values = typename Op::Values;
  using R = typename FiberReturn<Values>::type;

  // NotInFiberError off a fiber; CancelledError if stopped and errors are thrown
  ExecState& self = enter_fiber_op(/*throw_if_stopped=*/ec_out == nullptr);
  auto op = std::make_shared<Op>();
  boost::asio::any_io_executor cancel_ex = cancel_executor(init);
  std::forward<Initiation>(init)(typename Traits::Handler{op}, std::forward<InitArgs>(args)...);
  const bool finished = wait_fiber_op(self, op, std::move(cancel_ex));  // false: abandoned after a stop

  boost::system::error_code ec = op->ec;
  if (!finished) ec = boost::asio::error::operation_aborted;
  if constexpr (std::is_same_v<Kind, std::exception_ptr>) {
    if (op->error) std::rethrow_exception(std::move(op->error));
  }
  if (ec) {
    if (ec_out == nullptr) {
      if (ec == boost::asio::error::operation_aborted && (op->stopped || !finished)) throw CancelledError();
      throw boost::system::system_error(ec);
    }
    *ec_out = ec;
  } else if (ec_out != nullptr) {
    *ec_out = {};
  }
  if constexpr (!std::is_void_v<R>) {
    if (!finished) {
      if constexpr (std::is_default_constructible_v<R>) {
        return R{};
      } else {
        throw CancelledError();
      }
    } else if constexpr (std::tuple_size_v<Values> == 1) {
      return R(std::move(std::get<0>(*op->values)));
    } else {
      return R(std::move(*op->values));
    }
  }
}

// The error_code a token stores errors in: none for use_fiber (they are thrown).
constexpr boost::system::error_code* token_error_code(use_fiber_t) noexcept { return nullptr; }
constexpr boost::system::error_code* token_error_code(use_fiber_ec_t token) noexcept { return token.ec; }

// What Asio's async_result needs for both tokens: the return type and the initiation.
template <class Token, class Sig>
class FiberAsyncResult {
 public:
  using return_type = typename FiberReturn<typename FiberSignature<Sig>::Op::Values>::type;

  template <class Initiation, class... InitArgs>
  static return_type initiate(Initiation&& init, Token token, InitArgs&&... args) {
    return run_fiber_op<Sig>(token_error_code(token), std::forward<Initiation>(init), std::forward<InitArgs>(args)...);
  }
};

}  // namespace detail
}  // namespace fiberbridge

/// @cond INTERNAL
namespace boost::asio {

// How Asio completes an operation given `use_fiber` or `use_fiber[ec]` (see the file comment).
template <class Sig>
class async_result<fiberbridge::use_fiber_t, Sig>
    : public fiberbridge::detail::FiberAsyncResult<fiberbridge::use_fiber_t, Sig> {};
template <class Sig>
class async_result<fiberbridge::use_fiber_ec_t, Sig>
    : public fiberbridge::detail::FiberAsyncResult<fiberbridge::use_fiber_ec_t, Sig> {};

}  // namespace boost::asio
/// @endcond
