// detail/bridge_shell.hpp — the public shells of the four bridge classes, written once.
//
// fiberbridge::SyncToAsync / AsyncToSync (fibers) and fiberbridge::coro::SyncToAsync /
// AsyncToSync (coroutines) are the same object: a callable plus its options, copyable when the
// callable is, made by a factory function or by a decorator that takes the options first. What
// differs per variant is only what a call does, which each class adds on top:
//  * `BridgeShell<F, Options>` holds the callable and the options;
//  * `SyncBridge<F, Wait>` (sync_to_async.hpp) is the whole of both SyncToAsync classes but
//    for `Wait`, which the fiber variant makes wait and the coroutine variant makes an awaitable;
//  * `make_bridge` / `bridge_decorator` are the bodies of the factory functions.
#pragma once

#include <type_traits>
#include <utility>

namespace fiberbridge::detail {

template <class F, class Options>
class BridgeShell {
 public:
  explicit BridgeShell(F f, Options options = {}) : f_(std::move(f)), options_(options) {}

  /// The options the bridge was made with.
  const Options& options() const noexcept { return options_; }

 protected:
  F f_;
  Options options_;
};

template <template <class> class Bridge, class F, class Options>
Bridge<std::decay_t<F>> make_bridge(F&& f, Options options) {
  return Bridge<std::decay_t<F>>(std::forward<F>(f), options);
}

template <template <class> class Bridge, class Options>
auto bridge_decorator(Options options) {
  return [options](auto&& f) { return make_bridge<Bridge>(std::forward<decltype(f)>(f), options); };
}

}  // namespace fiberbridge::detail
