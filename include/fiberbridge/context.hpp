/// @file
/// fiberbridge/context.hpp — context-local state: ContextVar, Context, ThreadCriticalLocal
/// (Python's contextvars and asgiref.local.Local).
///
/// @code
/// static fb::ContextVar<std::string> request_id{"request_id"};
/// request_id.set("r-1");
/// fb::sync_to_async([] { log(*request_id.get()); })();  // the body sees "r-1"
/// @endcode
///
/// Each OS thread and each fiber has a current Context: an immutable map snapshot behind a
/// small mutable holder, so copying one is O(1) (copy-on-write, never a deep copy).
/// `spawn` gives the child a snapshot of the parent's context; its changes never leak back.
/// A new std::thread starts empty. sync_to_async and async_to_sync copy the caller's context
/// in and, afterwards, copy every changed or added variable back (never removing one).
/// Values live in fiber-specific storage, never in thread_local: fibers migrate.
/// Compiled from examples/headers/context.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace fiberbridge {

class Token;
class Context;

namespace detail {
struct ContextData;
struct TokenState;

std::uint64_t new_key() noexcept;
std::shared_ptr<const void> context_get(std::uint64_t var);
Token context_set(std::uint64_t var, std::shared_ptr<const void> value);
void context_reset(std::uint64_t var, const Token& token, const std::string& name);
void context_erase(std::uint64_t var);
std::shared_ptr<const void> context_lookup(const Context& ctx, std::uint64_t var);

// Makes `ctx` current for the lifetime of the guard (Context::run).
class ContextRunGuard {
 public:
  explicit ContextRunGuard(Context& ctx);
  ~ContextRunGuard();
  ContextRunGuard(const ContextRunGuard&) = delete;
  ContextRunGuard& operator=(const ContextRunGuard&) = delete;

 private:
  std::shared_ptr<ContextData> entered_;
  std::shared_ptr<ContextData> previous_;
};

std::shared_ptr<void> tcl_get(std::uint64_t key);
void tcl_set(std::uint64_t key, std::shared_ptr<void> value);
void tcl_erase(std::uint64_t key);
}  // namespace detail

/// Token — returned by ContextVar::set; restores the previous value via ContextVar::reset.
/// Copyable; usable once, in the Context that created it. A plain value: any thread or fiber.
class Token {
 public:
  /// A token that restores nothing (ContextVar::reset rejects it with std::invalid_argument).
  Token() = default;
  /// @cond INTERNAL
  explicit Token(std::shared_ptr<detail::TokenState> state) : state_(std::move(state)) {}
  const std::shared_ptr<detail::TokenState>& state() const noexcept { return state_; }
  /// @endcond

 private:
  std::shared_ptr<detail::TokenState> state_;
};

/// ContextVar — a context-local variable. Declare it at namespace scope or as a static.
/// Safe to use from any fiber or thread, also at once; each sees its own current context.
/// Not copyable. Its members throw what copying or moving T throws, and std::bad_alloc.
template <class T>
class ContextVar {
 public:
  /// Token — what set() returns and reset() takes (fiberbridge::Token).
  using Token = fiberbridge::Token;

  /// A variable called `name` (shown in error messages) with an optional default value.
  /// Any thread; usually at namespace scope or as a function-local static.
  explicit ContextVar(std::string name, std::optional<T> default_value = std::nullopt)
      : name_(std::move(name)), default_(std::move(default_value)), key_(detail::new_key()) {}
  ContextVar(const ContextVar&) = delete;
  ContextVar& operator=(const ContextVar&) = delete;

  /// name — the name given to the constructor. No throw.
  const std::string& name() const noexcept { return name_; }

  /// get — the current value, else the default, else nullopt.
  std::optional<T> get() const {
    if (auto p = detail::context_get(key_)) return *static_cast<const T*>(p.get());
    return default_;
  }
  /// value_or — the current value, else the default, else `fallback`.
  T value_or(T fallback) const {
    if (auto v = get()) return std::move(*v);
    return fallback;
  }
  /// set — sets the value in the current context; the Token restores the previous one.
  Token set(T value) { return detail::context_set(key_, std::make_shared<const T>(std::move(value))); }
  /// reset — restores what `token` saw. Throws std::invalid_argument for a token created in
  /// another Context (for example in an earlier sync_to_async call: each call runs in a fresh
  /// copy, asgiref #267), for another variable's token, or for a token used already.
  void reset(Token token) { detail::context_reset(key_, token, name_); }
  /// erase — removes the value from the current context (the default shows again).
  void erase() { detail::context_erase(key_); }

  /// key — the variable's process-unique identity (what Context::get looks up). No throw.
  std::uint64_t key() const noexcept { return key_; }

 private:
  std::string name_;
  std::optional<T> default_;
  std::uint64_t key_;
};

/// Context — a set of context-variable values (Python's contextvars.Context).
/// Copies share an immutable snapshot: a copy never sees changes made through another. A value:
/// any thread or fiber may copy, read or run one (run: one caller at a time).
class Context {
 public:
  Context();  ///< an empty context; throws std::bad_alloc only
  Context(const Context& other);             ///< a copy: shares the snapshot, O(1); throws std::bad_alloc only
  Context& operator=(const Context& other);  ///< like the copy (no move operations: a moved-from Context stays usable)
  ~Context();  ///< releases this object's share of the snapshot

  /// run — makes this Context current while `f` runs; the changes f makes stay in this object,
  /// not in the caller's context. One caller at a time: a concurrent second run of the same
  /// object throws std::logic_error. Any thread or fiber; rethrows what f throws (the Context
  /// keeps the changes f made before throwing).
  template <class F>
  decltype(auto) run(F&& f) {
    detail::ContextRunGuard guard(*this);
    return std::forward<F>(f)();
  }

  /// get — the value `var` has in this context (not the default), or nullopt. Any thread or
  /// fiber; throws what copying T throws.
  template <class T>
  std::optional<T> get(const ContextVar<T>& var) const {
    if (auto p = detail::context_lookup(*this, var.key())) return *static_cast<const T*>(p.get());
    return std::nullopt;
  }

  /// @cond INTERNAL
  const std::shared_ptr<detail::ContextData>& data() const noexcept { return data_; }
  explicit Context(std::shared_ptr<detail::ContextData> data) : data_(std::move(data)) {}
  /// @endcond

 private:
  std::shared_ptr<detail::ContextData> data_;
};

/// copy_context — a snapshot of the current context (of this fiber, else of this thread).
/// Any thread or fiber; O(1); throws std::bad_alloc only.
Context copy_context();

/// ThreadCriticalLocal — asgiref's Local(thread_critical=True): one value per OS thread on
/// plain threads, per fiber on fibers; never carried across a bridge. A thread-sensitive
/// sync_to_async body that runs back on the parked outer thread sees and updates that
/// thread's value (Django's database-connection case). On a reused pool or sync thread a
/// value set by an earlier body stays until erased, as a thread_local would. Usable from any
/// thread or fiber, also at once; not copyable. Its members throw what copying or moving T
/// throws, and std::bad_alloc.
template <class T>
class ThreadCriticalLocal {
 public:
  /// A new local with no value anywhere. Usually at namespace scope or a static.
  ThreadCriticalLocal() : key_(detail::new_key()) {}
  ThreadCriticalLocal(const ThreadCriticalLocal&) = delete;
  ThreadCriticalLocal& operator=(const ThreadCriticalLocal&) = delete;

  /// get — the value of the current thread (or fiber), else nullopt.
  std::optional<T> get() const {
    if (auto p = detail::tcl_get(key_)) return *static_cast<const T*>(p.get());
    return std::nullopt;
  }
  /// set — sets the value of the current thread (or fiber).
  void set(T value) { detail::tcl_set(key_, std::make_shared<T>(std::move(value))); }
  /// erase — removes the value of the current thread (or fiber); get() then returns nullopt.
  void erase() { detail::tcl_erase(key_); }

 private:
  std::uint64_t key_;
};

}  // namespace fiberbridge
