// detail/result_slot.hpp — storage for a callee's result of any type (void, reference, value).
#pragma once

#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

namespace fiberbridge::detail {

template <class R>
class ResultSlot {
  using Stored = std::conditional_t<std::is_reference_v<R>, std::reference_wrapper<std::remove_reference_t<R>>, R>;

 public:
  template <class F>
  void fill(F&& f) {
    value_.emplace(std::forward<F>(f)());
  }
  R take() { return static_cast<R>(std::move(*value_)); }

 private:
  std::optional<Stored> value_;
};

template <>
class ResultSlot<void> {
 public:
  template <class F>
  void fill(F&& f) {
    std::forward<F>(f)();
  }
  void take() {}
};

}  // namespace fiberbridge::detail
