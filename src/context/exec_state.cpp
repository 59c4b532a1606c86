// context/exec_state.cpp — where ExecState lives: a runtime fiber's hangs off its scheduler
// record, a plain thread's is a thread_local, other fibers' are in fiber-specific storage.
#include "context/exec_state.hpp"

#include <boost/fiber/context.hpp>
#include <boost/fiber/fss.hpp>
#include <boost/fiber/type.hpp>

#include <algorithm>
#include <utility>

#include "scheduler/fiber_props.hpp"
#include "scheduler/work_stealing.hpp"

namespace fiberbridge::detail {

namespace {
// Fibers keep their state in fiber-specific storage (it follows them when they migrate).
// Leaked on purpose: fibers may still end during static destruction.
boost::fibers::fiber_specific_ptr<ExecState>& storage() {
  static auto* fss = new boost::fibers::fiber_specific_ptr<ExecState>([](ExecState* s) {
    if (s->owned_by_storage) delete s;
  });
  return *fss;
}

// A plain thread (its main context never migrates) keeps its state in a thread_local, which is
// freed when the thread exits (Boost does not free the main context's fiber-specific data).
thread_local std::unique_ptr<ExecState> tl_thread_state;

// A runtime fiber's state hangs off its scheduler record (FiberProps::exec_state); on a
// scheduler thread every context has one (or none yet), never somebody else's properties.
FiberProps* runtime_record(boost::fibers::context* ctx) noexcept {
  return scheduler_runs_here() ? FiberProps::of(ctx) : nullptr;
}

ExecState* make_state() {
  auto* s = new ExecState();
  s->owned_by_storage = true;
  s->scope.context = std::make_shared<ContextData>();
  return s;
}
}  // namespace

const std::shared_ptr<const void>* VarMap::find(std::uint64_t key) const {
  auto it = std::lower_bound(entries.begin(), entries.end(), key,
                             [](const auto& e, std::uint64_t k) { return e.first < k; });
  if (it == entries.end() || it->first != key) return nullptr;
  return &it->second;
}

std::shared_ptr<ContextData> ContextData::copy() const {
  auto c = std::make_shared<ContextData>();
  c->map = snapshot();
  return c;
}

ExecState& current_state() {
  boost::fibers::context* const ctx = boost::fibers::context::active();
  if (ctx->is_context(boost::fibers::type::main_context)) {
    if (!tl_thread_state) tl_thread_state.reset(make_state());
    return *tl_thread_state;
  }
  if (FiberProps* p = runtime_record(ctx); p != nullptr && p->exec_state != nullptr)
    return *static_cast<ExecState*>(p->exec_state);
  auto& fss = storage();
  ExecState* s = fss.get();
  if (s == nullptr) {
    s = make_state();
    fss.reset(s);
  }
  return *s;
}

ExecState* runtime_fiber_state() noexcept {
  if (!scheduler_runs_here()) return nullptr;
  ExecState& s = current_state();
  return s.runtime_slot != nullptr ? &s : nullptr;
}

void install_state(ExecState& state) {
  if (FiberProps* p = runtime_record(boost::fibers::context::active())) {
    p->exec_state = &state;
    return;
  }
  storage().reset(&state);
}

StateOverride::StateOverride(ExecState& state) noexcept : record_(nullptr), saved_(nullptr) {
  if (!scheduler_runs_here()) return;
  FiberProps* p = FiberProps::ensure(boost::fibers::context::active());
  if (p == nullptr) return;  // out of memory: handlers see the dispatcher's own state
  record_ = p;
  saved_ = std::exchange(p->exec_state, &state);
}

StateOverride::~StateOverride() {
  if (record_ != nullptr) static_cast<FiberProps*>(record_)->exec_state = saved_;
}

void drop_state() {
  if (FiberProps* p = runtime_record(boost::fibers::context::active()); p != nullptr && p->exec_state != nullptr) {
    p->exec_state = nullptr;
    return;
  }
  storage().reset(nullptr);
}

Scope inherit_scope() {
  const ExecState& s = current_state();
  Scope child;
  child.context = s.scope.context->copy();
  child.routing = s.scope.routing;
  return child;
}

Scope inherit_scope_into(TaskStateBase& task) {
  const ExecState& s = current_state();
  Scope child;
  seed_task_context(task, s.scope.context->snapshot());
  child.routing = s.scope.routing;
  return child;
}

void copy_back(const std::shared_ptr<const VarMap>& before, const std::shared_ptr<const VarMap>& after,
               ContextData& into) {
  if (!after || after == before) return;
  std::lock_guard g(into.m);
  std::shared_ptr<VarMap> next;
  for (const auto& [key, value] : after->entries) {
    const std::shared_ptr<const void>* old = before ? before->find(key) : nullptr;
    if (old != nullptr && *old == value) continue;  // unchanged by the callee
    const std::shared_ptr<const void>* cur = (next ? next.get() : into.map.get()) != nullptr
                                                 ? (next ? next->find(key) : into.map->find(key))
                                                 : nullptr;
    if (cur != nullptr && *cur == value) continue;
    if (!next) next = into.map ? std::make_shared<VarMap>(*into.map) : std::make_shared<VarMap>();
    auto it = std::lower_bound(next->entries.begin(), next->entries.end(), key,
                               [](const auto& e, std::uint64_t k) { return e.first < k; });
    if (it != next->entries.end() && it->first == key) {
      it->second = value;
    } else {
      next->entries.insert(it, {key, value});
    }
  }
  if (next) into.map = std::move(next);
}

}  // namespace fiberbridge::detail
