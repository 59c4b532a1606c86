// detail/in_place_allocator.hpp — the allocator of a std::shared_ptr whose control block lives
// in a buffer inside the object that owns it (a task state, a bridge call block): one
// allocation for the owner instead of two, and the shared_ptr can still be handed to code that
// only knows shared_ptr (the context of a fiber's scope).
//
// `Slot` says where: `Owner` (the owning type), `kBytes` (the buffer's size, checked against the
// control block at compile time), `storage(Owner&)` (the buffer) and `release(Owner&)` (what the
// end of the control block gives back: the owner's reference or its memory). The buffer serves
// one control block at a time; allocate never fails.
#pragma once

#include <cstddef>

namespace fiberbridge::detail {

template <class T, class Slot>
struct InPlaceAllocator {
  using value_type = T;
  typename Slot::Owner* owner;

  explicit InPlaceAllocator(typename Slot::Owner* o) noexcept : owner(o) {}
  template <class U>
  InPlaceAllocator(const InPlaceAllocator<U, Slot>& o) noexcept : owner(o.owner) {}  // NOLINT: rebinding

  T* allocate(std::size_t) noexcept {
    static_assert(sizeof(T) <= Slot::kBytes && alignof(T) <= alignof(std::max_align_t),
                  "the shared_ptr control block does not fit its in-place buffer");
    return static_cast<T*>(Slot::storage(*owner));
  }
  void deallocate(T*, std::size_t) noexcept { Slot::release(*owner); }

  template <class U>
  bool operator==(const InPlaceAllocator<U, Slot>& o) const noexcept {
    return owner == o.owner;
  }
};

}  // namespace fiberbridge::detail
