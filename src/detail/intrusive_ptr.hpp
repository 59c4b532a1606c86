// detail/intrusive_ptr.hpp — a strong reference to an object that counts its own references.
//
// T provides `void add_ref() noexcept` and `void release() noexcept` (the last release frees
// it). Used where a shared_ptr would cost a separate control block or where the object must
// decide itself what its last release does (the fiber bridge's call block, sync_to_async.cpp).
#pragma once

#include <utility>

namespace fiberbridge::detail {

template <class T>
class IntrusivePtr {
 public:
  using element_type = T;

  IntrusivePtr() noexcept = default;
  // Takes over a reference the caller already holds (no add_ref).
  static IntrusivePtr adopt(T* p) noexcept {
    IntrusivePtr r;
    r.p_ = p;
    return r;
  }
  IntrusivePtr(const IntrusivePtr& o) noexcept : p_(o.p_) {
    if (p_ != nullptr) p_->add_ref();
  }
  IntrusivePtr(IntrusivePtr&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  IntrusivePtr& operator=(IntrusivePtr o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~IntrusivePtr() {
    if (p_ != nullptr) p_->release();
  }

  // Gives up the reference without releasing it.
  T* detach() noexcept { return std::exchange(p_, nullptr); }
  T* get() const noexcept { return p_; }
  T* operator->() const noexcept { return p_; }
  T& operator*() const noexcept { return *p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  T* p_ = nullptr;
};

}  // namespace fiberbridge::detail
