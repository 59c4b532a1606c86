// fiberbridge/traits.hpp — telling async callables from sync ones (asgiref's iscoroutinefunction).
//
//   auto a = fb::mark_async([] { return fetch(); });      // "this already runs as fiber code"
//   static_assert(fb::is_async_callable_v<decltype(a)>);
//   static_assert(fb::is_async_callable_v<decltype(fb::sync_to_async(f))>);
//
// `sync_to_async` of an async callable does not compile: on a fiber, call it directly.
// Specialise `fiberbridge::is_async_callable<T>` to mark a type of your own.
#pragma once

#include <type_traits>
#include <utility>

namespace fiberbridge {

template <class F>
class SyncToAsync;

/// MarkedAsync — the callable `mark_async(f)` returns: calls f unchanged.
template <class F>
class MarkedAsync {
 public:
  explicit MarkedAsync(F f) : f_(std::move(f)) {}
  template <class... A>
  decltype(auto) operator()(A&&... a) const {
    return f_(std::forward<A>(a)...);
  }
  template <class... A>
  decltype(auto) operator()(A&&... a) {
    return f_(std::forward<A>(a)...);
  }

 private:
  F f_;
};

/// is_async_callable — true for SyncToAsync<...> and mark_async(...) results.
template <class T>
struct is_async_callable : std::false_type {};
template <class F>
struct is_async_callable<SyncToAsync<F>> : std::true_type {};
template <class F>
struct is_async_callable<MarkedAsync<F>> : std::true_type {};

template <class T>
inline constexpr bool is_async_callable_v = is_async_callable<std::remove_cvref_t<T>>::value;

/// mark_async — wraps `f` so that is_async_callable_v reports it as async.
template <class F>
auto mark_async(F&& f) {
  return MarkedAsync<std::decay_t<F>>(std::forward<F>(f));
}

}  // namespace fiberbridge
