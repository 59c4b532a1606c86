// bridge/router.cpp — routing rules 1-5; see router.hpp.
#include "bridge/router.hpp"
#include "bridge/loop_owner.hpp"

#include "bridge/blocking_pool.hpp"
#include "bridge/dedicated_thread.hpp"
#include "fiberbridge/errors.hpp"
#include "runtime_impl.hpp"

namespace fiberbridge::detail {

namespace {

// Rule 4: is `target` held by a body of this call chain that is still running?
void check_hold(const RoutingState& routing, const SyncExecutor* target) {
  for (const Hold* h = routing.holds.get(); h != nullptr; h = h->next.get()) {
    if (h->target == target && h->active.load(std::memory_order_acquire)) throw WouldDeadlockError();
  }
}

// The process-wide blocking pool, borrowed: the shared_ptr does not own it. Made once (a
// non-owning shared_ptr with a deleter allocates its control block), then copied per call.
const std::shared_ptr<SyncExecutor>& borrowed_pool() {
  static const auto* pool =
      new std::shared_ptr<SyncExecutor>(&BlockingPool::instance(), [](SyncExecutor*) {});  // never destroyed, like the pool
  return *pool;
}

}  // namespace

Route choose_route(const SyncToAsyncOptions& options, const RoutingState& routing, Runtime* runtime) {
  Route r;
  if (!options.thread_sensitive) {
    if (options.executor != nullptr) {
      r.user = options.executor;
    } else {
      r.executor = borrowed_pool();
    }
    return r;
  }
  if (routing.frame && CurrentThreadExecutor::chain_open(routing.frame)) {  // rule 1
    r.frame = routing.frame;
    return r;
  }
  // Rule 2. A fiber that outlives its ThreadSensitiveContext keeps a reference to the retired
  // thread; like asgiref (whose executor map no longer has the context), it routes on.
  if (routing.sensitive && routing.sensitive->accepting()) {  // rule 2
    check_hold(routing, routing.sensitive.get());
    r.executor = routing.sensitive;
    return r;
  }
  if (runtime != nullptr) {  // rule 3
    if (auto owner = loop_owner(*runtime); owner && CurrentThreadExecutor::chain_open(owner)) {
      r.frame = std::move(owner);
      return r;
    }
  }
  auto sync = DedicatedThread::sync_thread();  // rules 4 and 5
  check_hold(routing, sync.get());
  r.executor = std::move(sync);
  return r;
}

bool submit(Route& route, unique_function& work) {
  if (route.frame) return CurrentThreadExecutor::submit_to_chain(route.frame, work);
  if (route.user != nullptr) {
    // std::function needs a copyable callable: share the move-only work. If the executor
    // destroys it unrun, the work's own destructor reports that to the caller.
    auto shared = std::make_shared<unique_function>(std::move(work));
    route.user->execute([shared] {
      unique_function w = std::move(*shared);
      if (w) w();
    });
    return true;
  }
  return route.executor->submit(work);  // false: retired meanwhile, choose again
}

}  // namespace fiberbridge::detail
