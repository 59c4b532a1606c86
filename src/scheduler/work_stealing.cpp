// scheduler/work_stealing.cpp — see work_stealing.hpp for the invariants.
#include "scheduler/work_stealing.hpp"

#include <boost/fiber/type.hpp>

#include <algorithm>
#include <thread>
#include <utility>

#include "scheduler/fiber_props.hpp"
#include "scheduler/fiber_wake.hpp"

namespace fiberbridge::detail {

using boost::fibers::context;
using boost::fibers::type;

void ReadyQueue::push(context* ctx) {
  std::lock_guard g(m_);
  if (ctx->is_context(type::dispatcher_context)) {
    dispatcher_ = ctx;
  } else if (FiberProps* props = FiberProps::of(ctx); held_ && props != nullptr) {
    props->queued_at = picks_;
    fresh_.push_back(*ctx);
    ++fresh_n_;
  } else {
    woken_.push_back(*ctx);
    ++woken_n_;
    if (!ctx->is_context(type::pinned_context)) ++woken_unpinned_;
  }
  publish_size(std::memory_order_seq_cst);
}

context* ReadyQueue::take_woken() {
  context* ctx = &woken_.front();
  woken_.pop_front();
  --woken_n_;
  if (!ctx->is_context(type::pinned_context)) --woken_unpinned_;
  if (fresh_n_ != 0) ++woken_streak_;
  return ctx;
}

context* ReadyQueue::take_fresh() {
  woken_streak_ = 0;
  --fresh_n_;
  // Newest first, but one that waited kMaxWait picks goes first (at most one per kMaxWait picks,
  // so that a tree walk is not turned breadth-first by its own old siblings).
  context* oldest = &fresh_.front();
  if (picks_ - FiberProps::of(oldest)->queued_at > kMaxWait && picks_ - last_aged_ >= kMaxWait) {
    last_aged_ = picks_;
    fresh_.pop_front();
    return oldest;
  }
  context* ctx = &fresh_.back();
  fresh_.pop_back();
  return ctx;
}

context* ReadyQueue::pop() {
  if (empty()) return nullptr;
  std::lock_guard g(m_);
  ++picks_;
  context* ctx = nullptr;
  if (dispatcher_ != nullptr && (++since_dispatch_ >= kDispatchEvery || (woken_n_ == 0 && fresh_n_ == 0))) {
    ctx = std::exchange(dispatcher_, nullptr);
    since_dispatch_ = 0;
  } else if (woken_n_ != 0 && (fresh_n_ == 0 || woken_streak_ < kBurst)) {
    ctx = take_woken();
  } else if (fresh_n_ != 0) {
    ctx = take_fresh();
  }
  publish_size(std::memory_order_relaxed);
  return ctx;
}

void ReadyQueue::hold() {
  std::lock_guard g(m_);
  held_ = true;
  publish_size(std::memory_order_seq_cst);
}

std::size_t ReadyQueue::release_hold() {
  std::lock_guard g(m_);
  held_ = false;
  publish_size(std::memory_order_seq_cst);
  return woken_unpinned_ + fresh_n_;
}

context* ReadyQueue::steal() {
  if (empty()) return nullptr;
  std::lock_guard g(m_);
  if (held_) return nullptr;
  context* ctx = nullptr;
  if (fresh_n_ != 0) {  // unstarted fibers are never pinned
    ctx = &fresh_.front();
    fresh_.pop_front();
    --fresh_n_;
  } else if (woken_unpinned_ != 0) {
    for (auto it = woken_.rbegin(); it != woken_.rend(); ++it) {
      if (it->is_context(type::pinned_context)) continue;
      ctx = &*it;
      woken_.erase(std::next(it).base());
      --woken_n_;
      --woken_unpinned_;
      break;
    }
  }
  publish_size(std::memory_order_relaxed);
  return ctx;
}

bool ParkingSpot::park_until(std::chrono::steady_clock::time_point deadline) {
  const bool notified = parker_.park_until(deadline);
  parked_.store(false, std::memory_order_relaxed);
  return notified;
}

bool ParkingSpot::wait_in_reactor(Reactor& r, std::chrono::steady_clock::time_point deadline) {
  // No yield before this wait (Parker::yield_to_notifier): under load the CPU went to the load
  // generator sharing it, a slice at a time (kv_service under wrk, 2 threads: 52-61k -> 31-44k
  // req/s at 200 connections, pinned round trips of a runtime with a reactor 2x faster).
  r.prepare_wait();  // an interrupt from here on ends the wait below
  in_reactor_.store(true, std::memory_order_seq_cst);
  bool notified = parker_.take_notification();  // one that came before we announced
  if (!notified) r.wait_until(deadline);
  in_reactor_.store(false, std::memory_order_relaxed);
  parked_.store(false, std::memory_order_relaxed);
  // The permit of an unpark that interrupted us: consumed here, where the dispatcher is about to
  // look for work anyway (else the next futex park would return at once for nothing).
  return parker_.take_notification() || notified;
}

SchedulerGroup::SchedulerGroup(std::size_t threads, std::chrono::nanoseconds max_spin) {
  slots_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    slots_.push_back(std::make_unique<Slot>());
    slots_.back()->spot.set_max_spin(max_spin);
  }
}

void SchedulerGroup::wake_idle_peer(std::size_t self) {
  const std::size_t n = slots_.size();
  std::size_t in_reactor = n;
  for (std::size_t k = 1; k <= n; ++k) {
    const std::size_t i = (self + k) % n;
    if (i == self || !slots_[i]->spot.parked()) continue;
    if (slots_[i]->spot.in_reactor()) {
      in_reactor = i;
      continue;
    }
    unpark(i);
    return;
  }
  if (in_reactor != n) unpark(in_reactor);
}

void SchedulerGroup::wake_all() {
  for (std::size_t i = 0; i < slots_.size(); ++i) unpark(i);
}

void SchedulerGroup::unpark(std::size_t i) noexcept {
  ParkingSpot& spot = slots_[i]->spot;
  spot.unpark();
  if (spot.in_reactor()) drive_.interrupt();
}

void SchedulerGroup::attach_reactor(Reactor* r) noexcept {
  drive_.attach(r);
  // Threads that went idle before there was a reactor wait on their futex: one comes to drive it.
  if (idle.load(std::memory_order_seq_cst) != 0) wake_idle_peer(slots_.size());
}

bool SchedulerGroup::peer_has_stealable(std::size_t self) const noexcept {
  for (std::size_t i = 0; i < slots_.size(); ++i)
    if (i != self && slots_[i]->queue.has_stealable()) return true;
  return false;
}

namespace {
std::atomic<bool> bookkeeping_for_new_runtimes{true};
}  // namespace

void set_switch_bookkeeping_for_new_runtimes(bool on) noexcept { bookkeeping_for_new_runtimes.store(on); }

namespace {
// The queue of the algorithm running on this thread. Plain scheduler-thread state, read only in
// non-suspending code.
thread_local WorkStealing* tl_algo = nullptr;
}  // namespace

LaunchGuard::LaunchGuard(bool spawner_runs_on) noexcept : algo_(tl_algo), spawner_runs_on_(spawner_runs_on) {
  if (algo_ != nullptr) algo_->queue().hold();
}

LaunchGuard::~LaunchGuard() {
  if (algo_ == nullptr) return;
  const std::size_t queued = algo_->queue().release_hold();
  if (queued >= (spawner_runs_on_ ? 1u : 2u)) algo_->wake_peer_for_surplus();
}

bool scheduler_runs_here() noexcept { return tl_algo != nullptr; }
WorkStealing* WorkStealing::on_this_thread() noexcept { return tl_algo; }

ReadyQueue& WorkStealing::queue() noexcept { return group_.queue(index_); }

void WorkStealing::wake_peer_for_surplus() noexcept {
  if (group_.idle.load(std::memory_order_seq_cst) != 0) group_.wake_idle_peer(index_);
}

WorkStealing::WorkStealing(SchedulerGroup& group, std::size_t index)
    : group_(group),
      index_(index),
      next_victim_(index + 1),
      counters_(group.counters(index)),
      thread_eh_(thread_eh_state()),
      bookkeeping_(bookkeeping_for_new_runtimes.load()) {
  tl_algo = this;
}

WorkStealing::~WorkStealing() {
  if (tl_algo == this) tl_algo = nullptr;
}

void WorkStealing::awakened(context* ctx) noexcept {
  // A switch that bypassed pick_next: Boost's launch::dispatch resumes a new fiber directly and
  // then queues its spawner from the new fiber. The thread still holds the spawner's exception
  // state; give it back to the spawner and start the new fiber with an empty one.
  if (bookkeeping_) {
    if (ctx == eh_owner_ && ctx != context::active()) on_switch(context::active());
    if (FiberProps* p = FiberProps::of(ctx)) p->sched.store(FiberProps::Sched::kReady, std::memory_order_relaxed);
  }
  const bool pinned = ctx->is_context(type::pinned_context);
  if (!pinned) ctx->detach();
  ReadyQueue& q = group_.queue(index_);
  const bool had_work = !q.empty();
  q.push(ctx);
  if (q.held()) return;  // a new fiber under a LaunchGuard: its release wakes a peer
  // Wake an idle peer only for surplus work: when the dispatcher queues the one fiber it is
  // about to run (a remote wake-up, a timer) or a fiber yields, nobody else is needed, and a
  // needless wake costs a futex call here and a trip through the peer's dispatcher. A batch
  // the dispatcher queues counts only once it lasts (spread_policy.hpp, checked in pick_next).
  if (pinned || group_.idle.load(std::memory_order_seq_cst) == 0) return;
  context* active = context::active();
  if (!active->is_context(type::dispatcher_context)) {
    if (active != ctx) group_.wake_idle_peer(index_);  // the waker runs on
  } else if (had_work) {
    surplus_.note();  // a batch: a peer only if it lasts (spread_policy.hpp)
  }
}

// Outside work and the reactor, served from the dispatcher context only (no fiber runs, none
// holds a Boost.Fiber lock: a fiber that suspends calls pick_next holding its wait queue's).
void WorkStealing::serve_sources() noexcept {
  if (group_.has_handed(index_)) adopt_handed(*this);
  if (group_.outside_pending()) group_.outside()->run_here();
  // Only while busy (other fibers queued) and not since kPollEvery picks: a thread about to idle
  // drives the reactor anyway, and one that just did needs no extra epoll_wait(0).
  if (!group_.has_reactor() || picks_since_poll_ < kPollEvery || group_.queue(index_).fibers() == 0) return;
  picks_since_poll_ = 0;
  if (Reactor* r = group_.drive().try_take(index_)) {
    driving_ = true;
    (void)r->poll(kPollLimit);
    driving_ = false;
    group_.drive().release();
    // We run on (fibers are queued): the reactor stays ours, to poll again or wait in when we
    // idle, rather than going to an idle peer (drive_token.hpp).
    group_.drive().claim(index_);
  }
}

context* WorkStealing::pick_next() noexcept {
  context* self = context::active();
  boost::fibers::scheduler* sched = self->get_scheduler();  // ours, even once `self` is detached
  if (self->is_context(type::dispatcher_context)) {
    serve_sources();
  } else {
    park_detached_if_asked(self, group_, index_);  // a fiber suspending in an I/O wait
  }
  context* ctx = group_.queue(index_).pop();
  if (ctx == nullptr) ctx = steal();
  if (ctx == nullptr) return nullptr;  // only the dispatcher gets none (it then suspends the thread)
  if (surplus_.pending() && surplus_.due(!group_.queue(index_).empty())) {
    group_.drive().drop_claim(index_);  // the backlog lasts: the peer may take I/O too
    wake_peer_for_surplus();
  }
  ++picks_since_poll_;
  if (!ctx->is_context(type::pinned_context)) sched->attach_worker_context(ctx);
  if (bookkeeping_) on_switch(ctx);
  return ctx;
}

// Every switch the algorithm decides: the exception state moves (see eh_state.hpp), and what
// the watchdog and dump read is updated (three relaxed stores, no clock read).
void WorkStealing::on_switch(context* to) noexcept {
  context* from = eh_owner_ != nullptr ? eh_owner_ : context::active();
  FiberProps* in = FiberProps::ensure(to);
  if (from != to) {
    FiberProps* out = FiberProps::ensure(from);
    swap_eh_state(thread_eh_, out != nullptr ? &out->eh : nullptr, in != nullptr ? &in->eh : nullptr);
  }
  eh_owner_ = to;
  ThreadCounters::bump(counters_.switches);
  const std::uint64_t id = in != nullptr ? in->fiber_id : 0;
  counters_.running_id.store(id, std::memory_order_relaxed);
  if (id != 0) in->sched.store(FiberProps::Sched::kPicked, std::memory_order_relaxed);
}

context* WorkStealing::steal() noexcept {
  const std::size_t n = group_.size();
  for (std::size_t k = 0; k + 1 < n; ++k) {
    std::size_t victim = next_victim_++ % n;
    if (victim == index_) victim = next_victim_++ % n;
    if (context* ctx = group_.queue(victim).steal()) {
      ThreadCounters::bump(counters_.steals);
      return ctx;
    }
  }
  return nullptr;
}

bool WorkStealing::has_ready_fibers() const noexcept { return !group_.queue(index_).empty(); }

void WorkStealing::suspend_until(std::chrono::steady_clock::time_point const& deadline) noexcept {
  ParkingSpot& spot = group_.spot(index_);
  // Announce, then look once more (see the idle handshake in the header): a fiber queued by a
  // peer after our last steal attempt either is seen here or sees us parked and wakes us.
  group_.idle.fetch_add(1, std::memory_order_seq_cst);
  spot.announce();
  if (group_.peer_has_stealable(index_) || group_.outside_pending() || group_.has_handed(index_)) {
    spot.withdraw();
    group_.idle.fetch_sub(1, std::memory_order_relaxed);
    return;  // Boost's dispatcher loops back to pick_next, which steals it
  }
  // Idle: give surplus stack memory back, waking up once more if the trim has to wait.
  const auto trim_at = group_.stacks() != nullptr ? group_.stacks()->trim() : deadline;
  ThreadCounters::bump(counters_.parks);
  counters_.running_id.store(0, std::memory_order_relaxed);
  const auto until = std::min(deadline, trim_at);
  bool woken = false;
  // One idle thread at a time serves I/O and timers, and not while a peer holds the claim (it
  // runs fibers its handlers readied and polls between them: drive_token.hpp). Not this one
  // either if its handlers just woke another thread's fiber (see notify): the claim and the
  // drive go to that thread, which drives at its next idle. The hand-over wakes it (no syscall
  // when it runs or is already woken): it may have found the token taken while our handlers ran
  // and parked on its futex, and with us parked too nobody would drive. (Driving anyway when
  // every thread counted as idle left two threads hopping across each other: the woken one
  // still counts as idle until it has woken up.)
  DriveToken& drive = group_.drive();
  Reactor* r = nullptr;
  if (yield_drive_) {
    yield_drive_ = false;
    drive.claim(yield_to_);
    group_.unpark(yield_to_);
  } else {
    r = drive.try_take(index_);
  }
  if (r != nullptr) {
    driving_ = true;
    picks_since_poll_ = 0;
    woken = spot.wait_in_reactor(*r, until);
    driving_ = false;
    drive.release();
    // Leaving with fibers to run (the handlers readied them, or work came in): keep the reactor.
    if (!group_.queue(index_).empty() || group_.has_handed(index_) || group_.outside_pending()) drive.claim(index_);
  } else {
    drive.drop_claim(index_);  // parked on the futex we poll nothing: let a peer drive
    woken = park_beside_claimant(until);
  }
  if (woken) ThreadCounters::bump(counters_.unparks);
  group_.idle.fetch_sub(1, std::memory_order_relaxed);
}

// Parks on the futex. While a peer holds the reactor's claim the park is cut into kClaimCheck
// slices: a claimant that has not switched during a whole slice (stuck in one fiber, or blocked)
// loses the claim, and this thread drives at its next idle, so I/O never waits for it. (The
// slow-fiber watchdog does the same, but it can be off.)
bool WorkStealing::park_beside_claimant(std::chrono::steady_clock::time_point until) noexcept {
  ParkingSpot& spot = group_.spot(index_);
  const std::size_t claimant = group_.drive().claimant();
  if (claimant == DriveToken::kNobody || claimant == index_) return spot.park_until(until);
  const std::uint64_t switches = group_.counters(claimant).switches.load(std::memory_order_relaxed);
  const auto slice_end = std::chrono::steady_clock::now() + kClaimCheck;
  if (spot.park_until(std::min(until, slice_end))) return true;
  if (std::chrono::steady_clock::now() >= slice_end &&
      group_.counters(claimant).switches.load(std::memory_order_relaxed) == switches)
    group_.drive().drop_claim(claimant);
  return false;
}

// A remote wake-up of one of our fibers; on the waking thread. When that thread is driving our
// reactor (an I/O handler woke the fiber), it leaves the next wait to us: we are about to run,
// and the fiber's next I/O completion then wakes it here, without a cross-thread hop.
void WorkStealing::notify() noexcept {
  WorkStealing* waker = tl_algo;
  if (waker != nullptr && waker != this && waker->driving_ && &waker->group_ == &group_) {
    waker->yield_drive_ = true;
    waker->yield_to_ = index_;
  }
  group_.unpark(index_);
}

}  // namespace fiberbridge::detail
