// scheduler/stack_pool.cpp — see stack_pool.hpp.
#include "scheduler/stack_pool.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102  // Linux 6.13 uapi; bookworm's glibc headers predate it
#endif

namespace fiberbridge::detail {

namespace {

constexpr std::size_t kSlabBytes = 4 * 1024 * 1024;

// How guard pages are made. Probed once: MADV_GUARD_INSTALL answers EINVAL on kernels without it.
enum class GuardMode : int { kUnknown, kMadvise, kMprotect };
std::atomic<GuardMode> g_guard_mode{GuardMode::kUnknown};

bool install_guard(char* page, std::size_t page_size) noexcept {
  GuardMode mode = g_guard_mode.load(std::memory_order_relaxed);
  if (mode != GuardMode::kMprotect) {
    if (::madvise(page, page_size, MADV_GUARD_INSTALL) == 0) {
      g_guard_mode.store(GuardMode::kMadvise, std::memory_order_relaxed);
      return true;
    }
    if (errno != EINVAL || mode == GuardMode::kMadvise) return false;
    g_guard_mode.store(GuardMode::kMprotect, std::memory_order_relaxed);
  }
  return ::mprotect(page, page_size, PROT_NONE) == 0;  // fails when out of VMAs: refuse, never unguarded
}

// The slabs of every pool, for the SIGSEGV reporter (which may not lock or allocate). A record
// is published by storing `base` last; a slab beyond the table is still guarded, its overflow
// just goes unexplained.
struct SlabRecord {
  std::atomic<bool> claimed{false};
  std::atomic<std::uintptr_t> base{0};
  std::atomic<std::size_t> bytes{0};
  std::atomic<std::size_t> slot{0};
  std::atomic<std::size_t> guard{0};
};
constexpr std::size_t kMaxSlabRecords = 16384;  // 64 GiB of slabs; untouched BSS costs nothing
SlabRecord g_slab_records[kMaxSlabRecords];

void publish_slab(const char* base, std::size_t bytes, std::size_t slot, std::size_t guard) noexcept {
  for (auto& r : g_slab_records) {
    bool expected = false;
    if (!r.claimed.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) continue;
    r.bytes.store(bytes, std::memory_order_relaxed);
    r.slot.store(slot, std::memory_order_relaxed);
    r.guard.store(guard, std::memory_order_relaxed);
    r.base.store(reinterpret_cast<std::uintptr_t>(base), std::memory_order_release);
    return;
  }
}

void retract_slab(const char* base) noexcept {
  for (auto& r : g_slab_records) {
    if (r.base.load(std::memory_order_acquire) != reinterpret_cast<std::uintptr_t>(base)) continue;
    r.base.store(0, std::memory_order_release);
    r.claimed.store(false, std::memory_order_release);
    return;
  }
}

// LeakSanitizer scans thread stacks, globals and heap blocks, not these mappings. The top of a
// stack holds heap pointers that outlive its fiber: the StackHome's pool (a retired pool is
// owned by its stacks), a task state, a call slot's block (stop and context references),
// possibly while a detached body still runs at exit. Each stack's top is a root region from
// its carving to its slab's unmapping (never the guard page below the stack, which would fault).
constexpr std::size_t kScannedTopPages = 2;  // StackHome, record, call slot, task state: < 2 KiB

// Registers (or, `watched` false, unregisters) the top of the stack that ends at `end`.
void watch_top(char* end, std::size_t page, bool watched) noexcept {
#if defined(__SANITIZE_ADDRESS__)
  const std::size_t bytes = kScannedTopPages * page;
  if (watched) {
    __lsan_register_root_region(end - bytes, bytes);
  } else {
    __lsan_unregister_root_region(end - bytes, bytes);
  }
#else
  (void)end, (void)page, (void)watched;
#endif
}

}  // namespace

bool in_pooled_guard_page(std::uintptr_t addr) noexcept {
  for (const auto& r : g_slab_records) {
    const std::uintptr_t base = r.base.load(std::memory_order_acquire);
    if (base == 0 || addr < base || addr - base >= r.bytes.load(std::memory_order_relaxed)) continue;
    return (addr - base) % r.slot.load(std::memory_order_relaxed) < r.guard.load(std::memory_order_relaxed);
  }
  return false;
}

StackPool::StackPool(std::size_t stack_size, std::size_t max_hot)
    : page_(static_cast<std::size_t>(::sysconf(_SC_PAGESIZE))) {
  const std::size_t wanted = std::max(stack_size, kMinimumSize);
  size_ = (wanted + page_ - 1) / page_ * page_;
  max_hot_ = max_hot != 0 ? max_hot : std::clamp<std::size_t>((16u << 20) / size_, 64, 4096);
  slots_per_slab_ = std::max<std::size_t>(1, kSlabBytes / slot());
}

StackPool::~StackPool() {
  if (in_use_ != 0) return;  // a runtime destroyed by its own fiber leaves threads running: keep their stacks
  for (const Slab& s : slabs_) {
    const std::size_t carved = &s == &slabs_.back() ? slots_per_slab_ - fresh_left_ : slots_per_slab_;
    for (std::size_t i = 1; i <= carved; ++i) watch_top(s.base + i * slot(), page_, false);
    retract_slab(s.base);
    ::munmap(s.base, s.bytes);
  }
}

char* StackPool::carve() {
  if (fresh_left_ == 0) {
    // Room for every slot of every slab in the free lists, so that release() never allocates.
    // Grown geometrically: an exact reserve per slab copied both lists every 4 MiB (quadratic:
    // a million fibers took a minute).
    const std::size_t total = (slabs_.size() + 1) * slots_per_slab_;
    if (hot_.capacity() < total) hot_.reserve(std::max(total, 2 * hot_.capacity()));
    if (cold_.capacity() < total) cold_.reserve(std::max(total, 2 * cold_.capacity()));
    slabs_.reserve(slabs_.size() + 1);
    const std::size_t bytes = slots_per_slab_ * slot();
    void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) throw std::bad_alloc();
    slabs_.push_back(Slab{static_cast<char*>(base), bytes});
    publish_slab(static_cast<char*>(base), bytes, slot(), page_);
    next_ = static_cast<char*>(base);
    fresh_left_ = slots_per_slab_;
  }
  if (!install_guard(next_, page_)) throw std::bad_alloc();  // the slot stays fresh for a later try
  char* s = next_;
  next_ += slot();
  --fresh_left_;
  watch_top(next_, page_, true);  // the end of slot s
  return s;
}

// A scheduler thread's own free stacks (see attach_thread). Plain thread-local state: only the
// owning thread touches it, in non-suspending code.
struct ThreadCache {
  static constexpr std::size_t kCapacity = 32;  // traded with the pool kCapacity / 2 at a time
  StackPool* pool = nullptr;
  std::size_t count = 0;
  char* slots[kCapacity];
};

namespace {
thread_local ThreadCache tl_cache;
}  // namespace

void StackPool::attach_thread() noexcept {
  detach_thread();
  tl_cache.pool = this;
}

void StackPool::detach_thread() noexcept {
  ThreadCache& c = tl_cache;
  if (c.pool == nullptr) return;
  StackPool* pool = c.pool;
  c.pool = nullptr;  // releases from now on (Boost frees the last stacks at thread exit) go to the pool
  pool->put_back(c.slots, c.count);
  c.count = 0;
}

char* StackPool::take_locked() {
  char* s = nullptr;
  if (!hot_.empty()) {
    s = hot_.back();
    hot_.pop_back();
    hot_count_.store(hot_.size(), std::memory_order_relaxed);
  } else if (!cold_.empty()) {
    s = cold_.back();
    cold_.pop_back();
  } else {
    s = carve();
  }
  ++in_use_;
  surplus_since_ = {};  // busy again: the surplus must outlive a whole idle second before a trim
  return s;
}

void StackPool::refill(ThreadCache& c) {
  std::lock_guard g(m_);
  c.slots[c.count++] = take_locked();  // may throw std::bad_alloc: then the cache stays empty
  // Only already-made stacks beyond the first: carving is left to the next refill.
  while (c.count < ThreadCache::kCapacity / 2 && !hot_.empty()) {
    c.slots[c.count++] = hot_.back();
    hot_.pop_back();
    ++in_use_;
  }
  hot_count_.store(hot_.size(), std::memory_order_relaxed);
}

void StackPool::spill(ThreadCache& c) noexcept {
  // The oldest half goes back; the newest (warmest) stay.
  const std::size_t n = ThreadCache::kCapacity / 2;
  put_back(c.slots, n);
  std::copy(c.slots + n, c.slots + c.count, c.slots);
  c.count -= n;
}

boost::context::stack_context StackPool::acquire() {
  char* s = nullptr;
  ThreadCache& c = tl_cache;
  if (c.pool == this) {
    if (c.count == 0) refill(c);
    s = c.slots[--c.count];
  } else {
    std::lock_guard g(m_);
    s = take_locked();
  }
  boost::context::stack_context sctx;
  sctx.size = size_;
  sctx.sp = s + slot();  // stacks grow down from the top; the guard is the slot's first page
  return sctx;
}

void StackPool::release(boost::context::stack_context sctx) noexcept {
  char* s = static_cast<char*>(sctx.sp) - slot();
  ThreadCache& c = tl_cache;
  if (c.pool == this) {
    if (c.count == ThreadCache::kCapacity) spill(c);
    c.slots[c.count++] = s;
    return;
  }
  put_back(&s, 1);
}

void StackPool::put_back(char* const* slots, std::size_t n) noexcept {
  bool last = false;
  {
    std::lock_guard g(m_);
    const bool surplus_before = hot_.size() > max_hot_;
    hot_.insert(hot_.end(), slots, slots + n);  // capacity reserved by carve()
    hot_count_.store(hot_.size(), std::memory_order_relaxed);
    in_use_ -= n;
    last = retired_ && in_use_ == 0;
    // From a thread that will not trim (a scheduler thread spilling its cache parks and trims).
    if (!surplus_before && hot_.size() > max_hot_ && tl_cache.pool != this && on_surplus_ != nullptr)
      on_surplus_(on_surplus_arg_);
  }
  if (last) delete this;  // the runtime is gone and this was the last stack out
}

void StackPool::retire() noexcept {
  bool last = false;
  {
    std::lock_guard g(m_);
    retired_ = true;
    last = in_use_ == 0;
  }
  if (last) delete this;
}

StackHome* StackHome::take(StackPool& pool, std::size_t record_bytes) {
  const boost::context::stack_context whole = pool.acquire();
  StackHome tmp(pool, whole);
  void* at = tmp.reserve_top(sizeof(StackHome));
  void* record = tmp.reserve_top(record_bytes);  // a stack is at least kMinimumSize: both fit
  // nullptr (no slot) unless the minimum depth stays for Boost: under ASan, lazy PLT resolution
  // in sched_yield overflowed a 16 KiB stack whose top the slot had taken.
  void* call_slot = tmp.reserve_top(kCallSlotBytes, StackPool::kMinimumSize);
  auto* home = new (at) StackHome(pool, whole);
  home->given_ = tmp.given_;
  home->record_ = record;
  home->call_slot_ = call_slot;
  return home;
}

std::chrono::steady_clock::time_point StackPool::trim() noexcept {
  constexpr auto kNever = std::chrono::steady_clock::time_point::max();
  if (hot_count_.load(std::memory_order_relaxed) <= max_hot_) return kNever;
  const auto now = std::chrono::steady_clock::now();
  std::vector<char*> surplus;
  {
    std::lock_guard g(m_);
    if (hot_.size() <= max_hot_) {
      surplus_since_ = {};
      return kNever;
    }
    if (surplus_since_ == std::chrono::steady_clock::time_point{}) surplus_since_ = now;
    if (now < surplus_since_ + kTrimDelay) return surplus_since_ + kTrimDelay;
    surplus_since_ = {};
    try {
      surplus.assign(hot_.begin(), hot_.end() - static_cast<std::ptrdiff_t>(max_hot_));  // the oldest
    } catch (const std::bad_alloc&) {
      return kNever;
    }
    hot_.erase(hot_.begin(), hot_.end() - static_cast<std::ptrdiff_t>(max_hot_));
    hot_count_.store(hot_.size(), std::memory_order_relaxed);
  }
  // Outside the lock: one madvise per run of adjacent slots. The guard pages inside a run are
  // kept (guard markers survive MADV_DONTNEED; an mprotect'ed page has nothing to drop).
  std::sort(surplus.begin(), surplus.end());
  for (std::size_t i = 0; i < surplus.size();) {
    std::size_t j = i + 1;
    while (j < surplus.size() && surplus[j] == surplus[j - 1] + slot()) ++j;
    char* first_stack = surplus[i] + page_;
    ::madvise(first_stack, (surplus[j - 1] + slot()) - first_stack, MADV_DONTNEED);
    i = j;
  }
  std::lock_guard g(m_);
  cold_.insert(cold_.end(), surplus.begin(), surplus.end());  // capacity reserved by carve()
  return kNever;
}

}  // namespace fiberbridge::detail
