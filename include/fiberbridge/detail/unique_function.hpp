// detail/unique_function.hpp — a move-only `void()` callable (std::move_only_function is C++23).
//
// Work items that cross threads own move-only state (promises, results, guards whose
// destructor reports dropped work), so std::function (copyable) does not fit.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace fiberbridge::detail {

class unique_function {
 public:
  unique_function() noexcept = default;
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, unique_function>>>
  unique_function(F&& f)  // NOLINT(google-explicit-constructor): used like std::function
      : impl_(std::make_unique<Model<std::decay_t<F>>>(std::forward<F>(f))) {}
  unique_function(unique_function&&) noexcept = default;
  unique_function& operator=(unique_function&&) noexcept = default;

  explicit operator bool() const noexcept { return impl_ != nullptr; }
  void operator()() { impl_->call(); }

 private:
  struct Concept {
    virtual ~Concept() = default;
    virtual void call() = 0;
  };
  template <class F>
  struct Model final : Concept {
    template <class G>
    explicit Model(G&& g) : f(std::forward<G>(g)) {}
    void call() override { f(); }
    F f;
  };
  std::unique_ptr<Concept> impl_;
};

}  // namespace fiberbridge::detail
