// scheduler/work_stealing.hpp — fiberbridge's Boost.Fiber scheduling algorithm.
//
// Owns: per-runtime scheduling state (`SchedulerGroup`): one ready queue and one parking spot per
// scheduler thread. The group lives in the Runtime, not in statics, so several runtimes (and
// runtimes created again and again) work — Boost's own work_stealing keeps static state.
//
// Invariants:
//  * A worker's queue is pushed only by its own thread (Boost calls `awakened` on the owning
//    thread; wake-ups from other threads arrive through `schedule_from_remote` + `notify`).
//  * Pick order on the owner: woken fibers FIFO (a fiber that yields lets the others run first),
//    then fibers not yet started LIFO, newest first. Finishing what was started before starting
//    more keeps a tree of spawns depth-first, so only one path of it is alive at a time
//    (skynet's 1,111,111 fibers need ~70 live stacks, not a million). Nothing starves: after
//    kBurst woken picks in a row an unstarted fiber runs, and an unstarted fiber that waited
//    kMaxWait picks runs before newer ones (a chain of spawns cannot bury an old one).
//  * The dispatcher context (timers, remote wake-ups, and Boost's release of finished fibers'
//    stacks) runs when nothing else is ready and at least every kDispatchEvery picks; in a FIFO
//    with everything else it ran once per round of the queue, and with a million queued fibers
//    finished stacks piled up.
//  * Thieves take the oldest unstarted fiber (the biggest subtree), else the newest woken one,
//    and never a pinned context (main/dispatcher fibers stay on their thread).
//  * A ready, unpinned context is detached while queued and attached by whoever picks it.
//  * An idle thread parks (no spinning forever). A `notify()` (remote wake-up) that races with
//    going to sleep is never lost (the Parker keeps it). When a worker queues a fiber while a
//    peer sleeps, it wakes one peer so the work can be stolen (Boost's work_stealing with
//    suspend=true never does, #327). No lost wake-up between the two, Dekker-style: the idle
//    thread announces itself (`idle`, then `parked`) and then looks at its peers' queues once
//    more; the pusher publishes the queue's stealable count and then reads the announcement.
//    All four are seq_cst, so at least one of the two sees the other.
//  * Queueing never allocates: the queues are intrusive lists over Boost's ready hook, and an
//    unstarted fiber's queue time lives in its FiberProps.
//  * Every switch the algorithm decides (pick_next) swaps the C++ exception-handling state
//    (scheduler/eh_state.hpp): a fiber resumes with its own caught exceptions and uncaught
//    count, whatever ran on the thread meanwhile and whichever thread it resumes on.
//  * Queues and parking spots outlive the threads (owned by the group), so a late thief never
//    touches a destroyed algorithm.
//  * A fiber that asked to park detached (scheduler/fiber_wake.hpp: use_fiber waits) is detached
//    from this thread in pick_next, before the switch; its waker adopts it. Fibers handed back
//    to this thread by other wakers are adopted by the dispatcher (`serve_sources`), and an
//    idle thread's last look includes them.
//  * Outside work and the reactor (scheduler/sources.hpp) are served from the dispatcher context
//    only: the inbox is drained whenever the dispatcher runs; the reactor is polled at the
//    dispatcher's first run after kPollEvery picks while the thread is busy, and an idle thread
//    that can take the drive token (one at a time, and not while a peer holds the claim:
//    drive_token.hpp) waits in the reactor instead of its futex. A thread
//    waiting in the reactor is parked for everybody else: `SchedulerGroup::unpark` sets its
//    Parker's permit and interrupts the reactor if it is in there. No lost wake-up: the thread
//    announces `in_reactor` and then takes the permit; the notifier sets the permit and then
//    reads `in_reactor` (all seq_cst).
#pragma once

#include <boost/fiber/algo/algorithm.hpp>
#include <boost/fiber/context.hpp>
#include <boost/fiber/scheduler.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "detail/parker.hpp"
#include "detail/spinlock.hpp"
#include "scheduler/drive_token.hpp"
#include "scheduler/sources.hpp"
#include "scheduler/eh_state.hpp"
#include "scheduler/stack_pool.hpp"
#include "scheduler/spread_policy.hpp"

namespace fiberbridge::detail {

class FiberProps;

// A ready queue (pick order above). A mutex, not a lock-free deque: Boost's Chase-Lev deque
// pops everything LIFO (a yielding fiber would run again at once) and its stand-alone fences are
// invisible to TSan.
class ReadyQueue {
 public:
  static constexpr unsigned kBurst = 32;          // woken picks in a row while unstarted fibers wait
  static constexpr unsigned kDispatchEvery = 16;  // picks between two runs of the dispatcher
  static constexpr std::uint64_t kMaxWait = 8192;  // picks an unstarted fiber waits at most (about)

  // Queues `ctx`. While the queue is held (a LaunchGuard: the owner is constructing a fiber),
  // the push is that new fiber and goes to the unstarted side.
  void push(boost::fibers::context* ctx);
  boost::fibers::context* pop();
  boost::fibers::context* steal();  // never returns a pinned context
  bool empty() const noexcept { return size_.load(std::memory_order_relaxed) == 0; }
  // Runtime fibers queued (Boost's dispatcher and main contexts are not counted).
  std::size_t fibers() const noexcept { return stealable_.load(std::memory_order_relaxed); }
  // Whether a thief could take something (seq_cst: one side of the idle handshake).
  bool has_stealable() const noexcept { return stealable_.load(std::memory_order_seq_cst) != 0; }
  // While held, thieves skip this queue (see LaunchGuard) and it shows nothing stealable, so an
  // idle peer does not spin on work it cannot take; release_hold() publishes it again (seq_cst) and
  // returns how many fibers are stealable (the releaser then may wake an idle peer).
  void hold();
  std::size_t release_hold();  // the number of stealable fibers now queued
  bool held() const noexcept { return held_; }  // owner thread only

 private:
  boost::fibers::context* take_woken();
  boost::fibers::context* take_fresh();
  // After a push the stealable count is stored seq_cst (the pusher's side of the idle
  // handshake); after a take relaxed is enough (a thief that sees a stale count looks once more).
  void publish_size(std::memory_order order) noexcept {
    size_.store(woken_n_ + fresh_n_ + (dispatcher_ != nullptr), std::memory_order_relaxed);
    stealable_.store(held_ ? 0 : woken_unpinned_ + fresh_n_, order);
  }
  using List = boost::fibers::scheduler::ready_queue_type;  // intrusive, over context's ready hook

  mutable Spinlock m_;
  bool held_ = false;
  boost::fibers::context* dispatcher_ = nullptr;
  unsigned since_dispatch_ = 0;
  unsigned woken_streak_ = 0;  // woken picks in a row while unstarted fibers wait
  List woken_;  // front is the oldest
  List fresh_;  // back is the newest; queue time in FiberProps::queued_at
  std::size_t woken_n_ = 0;
  std::size_t woken_unpinned_ = 0;
  std::size_t fresh_n_ = 0;
  std::uint64_t picks_ = 0;
  std::uint64_t last_aged_ = 0;
  std::atomic<std::size_t> size_{0};
  std::atomic<std::size_t> stealable_{0};
};

// Where an idle scheduler thread waits (spin-then-park, see detail/parker.hpp).
// Going idle is announce(), a last look for work, then park_until() or withdraw().
class ParkingSpot {
 public:
  void announce() noexcept { parked_.store(true, std::memory_order_seq_cst); }
  void withdraw() noexcept { parked_.store(false, std::memory_order_relaxed); }
  bool park_until(std::chrono::steady_clock::time_point deadline);  // true if woken (not timed out)
  // Waits in `r` instead of the futex (the caller holds the drive token); true if woken.
  bool wait_in_reactor(Reactor& r, std::chrono::steady_clock::time_point deadline);
  void unpark() noexcept { parker_.unpark(); }
  bool parked() const noexcept { return parked_.load(std::memory_order_seq_cst); }
  bool in_reactor() const noexcept { return in_reactor_.load(std::memory_order_seq_cst); }
  void set_max_spin(std::chrono::nanoseconds max_spin) noexcept { parker_.set_max_spin(max_spin); }

 private:
  Parker parker_;
  std::atomic<bool> parked_{false};
  std::atomic<bool> in_reactor_{false};
};

// Counters of one scheduler thread: written only by that thread (relaxed load + store, no lock
// prefix), read by anyone (Runtime::metrics, the slow-fiber watchdog).
struct alignas(64) ThreadCounters {
  std::atomic<std::uint64_t> switches{0};
  std::atomic<std::uint64_t> steals{0};
  std::atomic<std::uint64_t> parks{0};
  std::atomic<std::uint64_t> unparks{0};     // parks that ended because work arrived
  std::atomic<std::uint64_t> launched{0};    // fibers created on this thread
  std::atomic<std::uint64_t> running_id{0};  // fiber id of what runs now (0: none of ours)
  std::atomic<std::int64_t> stalled_since_ns{0};  // set by the watchdog: no switch since then
  static void bump(std::atomic<std::uint64_t>& c) noexcept {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
};

class SchedulerGroup {
 public:
  SchedulerGroup(std::size_t threads, std::chrono::nanoseconds max_spin);
  std::size_t size() const noexcept { return slots_.size(); }
  ReadyQueue& queue(std::size_t i) { return slots_[i]->queue; }
  const ReadyQueue& queue(std::size_t i) const { return slots_[i]->queue; }
  ParkingSpot& spot(std::size_t i) { return slots_[i]->spot; }
  ThreadCounters& counters(std::size_t i) { return slots_[i]->counters; }
  const ThreadCounters& counters(std::size_t i) const { return slots_[i]->counters; }
  // Wakes one idle thread other than `self` (any, if `self` is size()): one parked on its futex
  // if there is one (the thread in the reactor keeps serving I/O), else the one in the reactor.
  void wake_idle_peer(std::size_t self);
  void wake_all();
  // Wakes thread `i` wherever it waits (its futex, or the reactor); remembered if it is awake.
  void unpark(std::size_t i) noexcept;
  // Whether a peer of `self` has work a thief could take (the idle thread's last look).
  bool peer_has_stealable(std::size_t self) const noexcept;
  // The runtime's stacks, trimmed by a thread about to park (set before the threads start).
  // Stacks returned from other threads (the last Task handle of a state kept in its stack)
  // wake an idle thread when they make a surplus, so that it is trimmed too.
  void set_stacks(StackPool* stacks) noexcept {
    stacks_ = stacks;
    stacks->set_on_surplus([](void* g) noexcept { static_cast<SchedulerGroup*>(g)->wake_idle_peer(static_cast<SchedulerGroup*>(g)->size()); }, this);
  }
  StackPool* stacks() const noexcept { return stacks_; }
  std::atomic<unsigned> idle{0};

  // The runtime's inbox of spawns from outside (set before the threads start, never changed).
  void set_outside(OutsideWork* w) noexcept { outside_ = w; }
  OutsideWork* outside() const noexcept { return outside_; }
  bool outside_pending() const noexcept { return outside_ != nullptr && outside_->pending(); }
  // The runtime's reactor: attached when its I/O service comes into being; detach_reactor
  // interrupts a thread waiting in it and returns once no thread drives it any more.
  void attach_reactor(Reactor* r) noexcept;
  void detach_reactor() noexcept { drive_.detach(); }
  bool has_reactor() const noexcept { return drive_.attached(); }
  // Who may run the reactor now, and which thread keeps it while it runs fibers (drive_token.hpp).
  DriveToken& drive() noexcept { return drive_; }

  // Fibers parked detached whose waker could not adopt them (scheduler/fiber_wake.hpp), for
  // thread `i` to adopt from its dispatcher: push (any thread, then unpark(i)), take all.
  void hand_over(std::size_t i, FiberProps* fiber) noexcept;
  bool has_handed(std::size_t i) const noexcept {
    return slots_[i]->handed.load(std::memory_order_seq_cst) != nullptr;
  }
  FiberProps* take_handed(std::size_t i) noexcept {
    return slots_[i]->handed.exchange(nullptr, std::memory_order_acquire);
  }

 private:
  struct Slot {
    ReadyQueue queue;
    ParkingSpot spot;
    ThreadCounters counters;
    std::atomic<FiberProps*> handed{nullptr};  // a stack linked through FiberProps::handed_next
  };
  std::vector<std::unique_ptr<Slot>> slots_;
  StackPool* stacks_ = nullptr;
  OutsideWork* outside_ = nullptr;
  DriveToken drive_;
};

// Spawning a fiber in place: boost::fibers::fiber's constructor queues the new fiber before the
// spawner can detach it. If a thief ran it to completion meanwhile, two threads would drop the
// last two references to its context at once, synchronised inside Boost only by a stand-alone
// fence that ThreadSanitizer cannot see. Holding the spawner's queue closes that window (the
// new fiber cannot run before it is detached) and keeps TSan reports meaningful.
class WorkStealing;

class LaunchGuard {
 public:
  // On a scheduler thread of a fiberbridge runtime. `spawner_runs_on`: the code creating the
  // fiber keeps running (a spawn from a fiber), so the new fiber is surplus work for an idle
  // peer; the worker's own inbox loop is about to wait instead, so a single new fiber is not.
  explicit LaunchGuard(bool spawner_runs_on) noexcept;
  ~LaunchGuard();  // unholds, then wakes an idle peer if there is surplus work
  LaunchGuard(const LaunchGuard&) = delete;
  LaunchGuard& operator=(const LaunchGuard&) = delete;

 private:
  WorkStealing* algo_;
  bool spawner_runs_on_;
};

// For bench/fiber_ops_bench only (the cost of the per-switch bookkeeping, side by side): runtimes
// created after set_switch_bookkeeping_for_new_runtimes(false) neither swap the exception state
// nor update what the watchdog and dump read. Never for real use: a fiber suspending in a catch
// block would then see another fiber's exception.
void set_switch_bookkeeping_for_new_runtimes(bool on) noexcept;

// True on a scheduler thread of a fiberbridge runtime (its algorithm is a WorkStealing), where
// every context's properties record is a FiberProps (see fiber_props.hpp).
bool scheduler_runs_here() noexcept;

class WorkStealing final : public boost::fibers::algo::algorithm {
 public:
  WorkStealing(SchedulerGroup& group, std::size_t index);
  ~WorkStealing() override;
  void awakened(boost::fibers::context* ctx) noexcept override;
  boost::fibers::context* pick_next() noexcept override;
  bool has_ready_fibers() const noexcept override;
  void suspend_until(std::chrono::steady_clock::time_point const& deadline) noexcept override;
  void notify() noexcept override;

  // After a LaunchGuard: the new fiber is surplus work (its spawner runs on), wake a peer for it.
  void wake_peer_for_surplus() noexcept;
  ReadyQueue& queue() noexcept;
  SchedulerGroup& group() noexcept { return group_; }
  std::size_t index() const noexcept { return index_; }
  // The algorithm of the calling thread, if it is a scheduler thread of a runtime (else null).
  static WorkStealing* on_this_thread() noexcept;

  // Picks between two looks at the reactor while the thread is busy (tokio's event interval: 61
  // ticks); a wait in the reactor counts as a look. The poll itself happens at the dispatcher's
  // next run (at least every kDispatchEvery picks). A poll with nothing ready is an
  // epoll_wait(0) syscall: polling every 4 dispatcher runs cost one extra per TCP round trip.
  static constexpr unsigned kPollEvery = 61;
  static constexpr std::size_t kPollLimit = 64;  // handlers one poll runs at most

 private:
  // How long an idle thread waits before it checks that the claimant of the reactor still
  // switches (park_beside_claimant): the worst delay of I/O behind a fiber that does not yield.
  static constexpr std::chrono::milliseconds kClaimCheck{1};
  void serve_sources() noexcept;  // in the dispatcher context: the inbox, a bounded poll
  bool park_beside_claimant(std::chrono::steady_clock::time_point until) noexcept;
  boost::fibers::context* steal() noexcept;
  void on_switch(boost::fibers::context* to) noexcept;
  SchedulerGroup& group_;
  std::size_t index_;
  std::size_t next_victim_;
  ThreadCounters& counters_;
  EhState* const thread_eh_;  // this thread's C++ exception-handling record
  const bool bookkeeping_;    // always true, except in the benchmark that measures its cost
  // The context whose exception state the thread holds now: the one the last switch went to
  // (null before the first switch: then it is the active one).
  boost::fibers::context* eh_owner_ = nullptr;
  unsigned picks_since_poll_ = 0;  // since this thread last polled or waited in the reactor
  SurplusClock surplus_;           // a batch the dispatcher queued, until it lasts or drains
  bool driving_ = false;      // this thread runs the reactor's handlers now
  // A handler run here woke a fiber of another thread of this runtime: that thread drives next
  // (its fibers wait for I/O; our own next wait goes to the futex) and gets the claim.
  bool yield_drive_ = false;
  std::size_t yield_to_ = 0;  // with yield_drive_: the thread whose fiber our handler woke
};

}  // namespace fiberbridge::detail
