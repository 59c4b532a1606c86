// detail/unique_function.hpp — a move-only `void()` callable (std::move_only_function is C++23).
//
// Work items that cross threads own move-only state (promises, results, guards whose
// destructor reports dropped work), so std::function (copyable) does not fit.
//
// Small callables live inline (kInline bytes, nothrow-movable, suitably aligned): a spawn's body
// closure and a bridge call's job then cost no allocation of their own. Larger ones go to the
// heap. Moving a unique_function moves the inline callable (one indirect call).
//
// A third kind is a `WorkNode`: work that carries its own queue link (a sync_to_async call's
// block). The unique_function then holds only the node's address, and a queue that knows nodes
// (bridge/work_queue.hpp) links the node itself instead of storing the unique_function.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace fiberbridge::detail {

// Work with its own queue link. Whoever holds the node owns it until it calls `finish` once:
// with run = true to run the work, false to report it dropped unrun. Either way the node may
// be gone afterwards. `finish(self, true)` never throws.
struct WorkNode {
  explicit WorkNode(void (*f)(WorkNode*, bool) noexcept) noexcept : finish(f) {}
  void (*finish)(WorkNode* self, bool run) noexcept;
  WorkNode* next = nullptr;       // a queue's link while queued
  std::uint64_t ring_before = 0;  // a queue's FIFO mark while queued (bridge/work_queue.hpp)
};

class unique_function {
 public:
  static constexpr std::size_t kInline = 6 * sizeof(void*);

  unique_function() noexcept = default;
  // Holds `node` (owning it: see WorkNode).
  explicit unique_function(WorkNode* node) noexcept : ops_(&node_ops) {
    ::new (static_cast<void*>(buf_)) WorkNode*(node);
  }
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, unique_function>>>
  unique_function(F&& f)  // NOLINT(google-explicit-constructor): used like std::function
  {
    using D = std::decay_t<F>;
    if constexpr (fits_inline<D>()) {
      ::new (static_cast<void*>(buf_)) D(std::forward<F>(f));
      ops_ = &inline_ops<D>;
    } else {
      ::new (static_cast<void*>(buf_)) D*(new D(std::forward<F>(f)));
      ops_ = &heap_ops<D>;
    }
  }
  unique_function(unique_function&& o) noexcept : ops_(o.ops_) {
    if (ops_ != nullptr) ops_->relocate(buf_, o.buf_);
    o.ops_ = nullptr;
  }
  unique_function& operator=(unique_function&& o) noexcept {
    if (this != &o) {
      reset();
      ops_ = o.ops_;
      if (ops_ != nullptr) ops_->relocate(buf_, o.buf_);
      o.ops_ = nullptr;
    }
    return *this;
  }
  ~unique_function() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }
  // Calls the callable. A node runs once: this holder hands it over and is empty afterwards
  // (the node may be gone once it ran).
  void operator()() {
    if (ops_->node) {
      WorkNode* n = release_node();
      n->finish(n, true);
      return;
    }
    ops_->call(buf_);
  }

  // The node this holds, handed over (this becomes empty); nullptr, leaving this untouched,
  // when it holds a callable or nothing.
  WorkNode* release_node() noexcept {
    if (ops_ == nullptr || !ops_->node) return nullptr;
    ops_ = nullptr;
    return *reinterpret_cast<WorkNode**>(buf_);
  }

 private:
  struct Ops {
    void (*call)(void* self);
    void (*relocate)(void* to, void* from) noexcept;  // move-construct into `to`, destroy `from`
    void (*destroy)(void* self) noexcept;
    bool node = false;  // buf_ holds a WorkNode*
  };

  template <class D>
  static constexpr bool fits_inline() {
    return sizeof(D) <= kInline && alignof(D) <= alignof(std::max_align_t) &&
           std::is_nothrow_move_constructible_v<D>;
  }

  template <class D>
  static constexpr Ops inline_ops{
      [](void* self) { (*static_cast<D*>(self))(); },
      [](void* to, void* from) noexcept {
        ::new (to) D(std::move(*static_cast<D*>(from)));
        static_cast<D*>(from)->~D();
      },
      [](void* self) noexcept { static_cast<D*>(self)->~D(); },
  };
  template <class D>
  static constexpr Ops heap_ops{
      [](void* self) { (**static_cast<D**>(self))(); },
      [](void* to, void* from) noexcept { ::new (to) D*(*static_cast<D**>(from)); },
      [](void* self) noexcept { delete *static_cast<D**>(self); },
  };
  // Destroying a holder of an unrun node reports it dropped; calling goes through operator()
  // (which empties the holder first), never through `call`.
  static constexpr Ops node_ops{
      [](void*) {},
      [](void* to, void* from) noexcept { ::new (to) WorkNode*(*static_cast<WorkNode**>(from)); },
      [](void* self) noexcept {
        WorkNode* n = *static_cast<WorkNode**>(self);
        n->finish(n, false);
      },
      true,
  };

  void reset() noexcept {
    if (ops_ != nullptr) {
      const Ops* ops = std::exchange(ops_, nullptr);
      ops->destroy(buf_);
    }
  }

  const Ops* ops_ = nullptr;
  alignas(std::max_align_t) unsigned char buf_[kInline];
};

}  // namespace fiberbridge::detail
