// detail/bridge_shell.hpp — the public shells of the four bridge classes, written once.
//
// fiberbridge::SyncToAsync / AsyncToSync (fibers) and fiberbridge::coro::SyncToAsync /
// AsyncToSync (coroutines) are the same object: a callable plus its options, copyable when the
// callable is, made by a factory function or by a decorator that takes the options first. What
// differs per variant is only what a call does, which each class adds on top:
//  * `BridgeShell<F, Options>` holds the callable and the options;
//  * `SyncBridge<F, Wait>` (sync_to_async.hpp) is the whole of both SyncToAsync classes but
//    for `Wait`, which the fiber variant makes wait and the coroutine variant makes an awaitable;
//  * `BridgeFactory` is the factory and the decorator form of each of them.
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

// The factory of a bridge class, as one function object per variant and direction
// (`fiberbridge::sync_to_async`, `coro::async_to_sync`, ...): called with a callable (and
// options) it makes the bridge; called with options only it is the decorator form, which
// checks the options now (`Check`, as asgiref does at decoration time) and returns a callable
// F -> Bridge<F>.
template <class Options>
void accept_any(const Options&) noexcept {}

template <template <class> class Bridge, class Options, void (*Check)(const Options&) = &accept_any<Options>>
struct BridgeFactory {
  template <class F>
    requires(!std::is_same_v<std::decay_t<F>, Options>)
  Bridge<std::decay_t<F>> operator()(F&& f, Options options = {}) const {
    return Bridge<std::decay_t<F>>(std::forward<F>(f), options);
  }

  auto operator()(Options options) const {
    Check(options);
    return [options](auto&& f) { return Bridge<std::decay_t<decltype(f)>>(std::forward<decltype(f)>(f), options); };
  }
};

}  // namespace fiberbridge::detail
