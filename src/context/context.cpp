// context/context.cpp — ContextVar, Token, Context and ThreadCriticalLocal on top of ExecState.
//
// Setting a variable replaces the current holder's immutable map (copy-on-write, O(variables));
// copying a Context or spawning a fiber shares the map (O(1)).
#include <algorithm>
#include <atomic>
#include <stdexcept>

#include "context/exec_state.hpp"
#include "fiberbridge/context.hpp"

namespace fiberbridge::detail {

struct TokenState {
  std::uint64_t var;
  std::weak_ptr<ContextData> context;         // the Context the token was created in
  std::shared_ptr<const void> previous;       // null = there was no value
  std::atomic<bool> used{false};
};

namespace {

std::shared_ptr<VarMap> with_value(const std::shared_ptr<const VarMap>& base, std::uint64_t var,
                                   std::shared_ptr<const void> value) {
  auto next = base ? std::make_shared<VarMap>(*base) : std::make_shared<VarMap>();
  auto it = std::lower_bound(next->entries.begin(), next->entries.end(), var,
                             [](const auto& e, std::uint64_t k) { return e.first < k; });
  if (value == nullptr) {
    if (it != next->entries.end() && it->first == var) next->entries.erase(it);
  } else if (it != next->entries.end() && it->first == var) {
    it->second = std::move(value);
  } else {
    next->entries.insert(it, {var, std::move(value)});
  }
  return next;
}

// Sets (or, with a null value, removes) `var` in `ctx`; returns the previous value.
std::shared_ptr<const void> assign(ContextData& ctx, std::uint64_t var, std::shared_ptr<const void> value) {
  std::lock_guard g(ctx.m);
  std::shared_ptr<const void> previous;
  if (ctx.map) {
    if (const auto* p = ctx.map->find(var)) previous = *p;
  }
  if (value == nullptr && previous == nullptr) return previous;
  ctx.map = with_value(ctx.map, var, std::move(value));
  return previous;
}

}  // namespace

std::uint64_t new_key() noexcept {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

std::shared_ptr<const void> context_get(std::uint64_t var) {
  auto map = current_state().scope.context->snapshot();
  if (!map) return nullptr;
  const auto* p = map->find(var);
  return p ? *p : nullptr;
}

Token context_set(std::uint64_t var, std::shared_ptr<const void> value) {
  const auto& ctx = current_state().scope.context;
  auto token = std::make_shared<TokenState>();
  token->var = var;
  token->context = ctx;
  token->previous = assign(*ctx, var, std::move(value));
  return Token(std::move(token));
}

void context_reset(std::uint64_t var, const Token& token, const std::string& name) {
  const auto& st = token.state();
  if (!st) throw std::invalid_argument("ContextVar '" + name + "': reset() with an empty Token");
  if (st->var != var)
    throw std::invalid_argument("ContextVar '" + name + "': reset() with a Token created by another ContextVar");
  const auto& ctx = current_state().scope.context;
  if (st->context.lock() != ctx)
    throw std::invalid_argument(
        "ContextVar '" + name +
        "': the Token was created in a different Context. Each sync_to_async/async_to_sync call and each "
        "spawned fiber runs in its own copy of the context, so reset a Token in the same call that set it "
        "(or set the variable again instead of resetting).");
  if (st->used.exchange(true))
    throw std::invalid_argument("ContextVar '" + name + "': the Token has already been used once");
  assign(*ctx, var, st->previous);
}

void context_erase(std::uint64_t var) { assign(*current_state().scope.context, var, nullptr); }

std::shared_ptr<const void> context_lookup(const Context& ctx, std::uint64_t var) {
  auto map = ctx.data()->snapshot();
  if (!map) return nullptr;
  const auto* p = map->find(var);
  return p ? *p : nullptr;
}

ContextRunGuard::ContextRunGuard(Context& ctx) : entered_(ctx.data()) {
  if (entered_->entered.exchange(true))
    throw std::logic_error("Context::run: this Context is already being run by another caller (one at a time; "
                           "use copy_context() to get an independent copy)");
  previous_ = std::exchange(current_state().scope.context, entered_);
}

ContextRunGuard::~ContextRunGuard() {
  current_state().scope.context = std::move(previous_);
  entered_->entered.store(false);
}

std::shared_ptr<void> tcl_get(std::uint64_t key) {
  auto& tcl = current_state().tcl;
  auto it = tcl.find(key);
  return it == tcl.end() ? nullptr : it->second;
}

void tcl_set(std::uint64_t key, std::shared_ptr<void> value) { current_state().tcl[key] = std::move(value); }

void tcl_erase(std::uint64_t key) { current_state().tcl.erase(key); }

}  // namespace fiberbridge::detail

namespace fiberbridge {

Context::Context() : data_(std::make_shared<detail::ContextData>()) {}
Context::Context(const Context& other) : data_(other.data_->copy()) {}
Context& Context::operator=(const Context& other) {
  if (this != &other) data_ = other.data_->copy();
  return *this;
}
Context::~Context() = default;

Context copy_context() { return Context(detail::current_state().scope.context->copy()); }

}  // namespace fiberbridge
