/// @file
/// fiberbridge/traits.hpp — telling async callables from sync ones (asgiref's iscoroutinefunction).
///
/// @code
/// auto a = fb::mark_async([] { return fetch(); });  // "this already runs as fiber code"
/// static_assert(fb::is_async_callable_v<decltype(a)>);
/// static_assert(fb::is_async_callable_v<decltype(fb::sync_to_async(f))>);
/// @endcode
///
/// `sync_to_async` of an async callable does not compile: on a fiber, call it directly.
/// Specialise `fiberbridge::is_async_callable<T>` to mark a type of your own.
/// Everything here is compile-time or a thin wrapper: usable on any thread or fiber.
/// Compiled from examples/headers/traits.cpp.
#pragma once

#include <type_traits>
#include <utility>

namespace fiberbridge {

template <class F>
class SyncToAsync;

/// MarkedAsync — the callable `mark_async(f)` returns: calls f unchanged. Copyable and movable
/// if F is.
template <class F>
class MarkedAsync {
 public:
  /// Wraps `f`; throws what moving F throws.
  explicit MarkedAsync(F f) : f_(std::move(f)) {}
  /// f(a...) on the calling thread or fiber, unchanged; throws what f throws.
  template <class... A>
  decltype(auto) operator()(A&&... a) const {
    return f_(std::forward<A>(a)...);
  }
  /// f(a...) through a non-const f (a mutable lambda); throws what f throws.
  template <class... A>
  decltype(auto) operator()(A&&... a) {
    return f_(std::forward<A>(a)...);
  }

 private:
  F f_;
};

/// is_async_callable — true for SyncToAsync<...>, coro::SyncToAsync<...> and mark_async(...)
/// results; specialise it (deriving from std::true_type) to mark a type of your own.
template <class T>
struct is_async_callable : std::false_type {};
/// @cond INTERNAL
template <class F>
struct is_async_callable<SyncToAsync<F>> : std::true_type {};
template <class F>
struct is_async_callable<MarkedAsync<F>> : std::true_type {};
/// @endcond

/// is_async_callable_v — is_async_callable of T without cv and reference qualifiers.
template <class T>
inline constexpr bool is_async_callable_v = is_async_callable<std::remove_cvref_t<T>>::value;

/// mark_async — wraps `f` so that is_async_callable_v reports it as async. Throws what copying
/// or moving f throws.
template <class F>
auto mark_async(F&& f) {
  return MarkedAsync<std::decay_t<F>>(std::forward<F>(f));
}

}  // namespace fiberbridge
