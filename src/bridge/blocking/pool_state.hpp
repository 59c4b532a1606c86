// bridge/blocking/pool_state.hpp — the state the blocking pool shares with its detached
// threads, split the way tokio splits runtime/blocking/: pool.cpp (submit, claiming an idle
// worker, the public face), growth.cpp (the growth rule and the stall monitor), worker.cpp
// (a worker's loop, parking and retirement). The rules are in bridge/blocking_pool.hpp.
#pragma once

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <memory>
#include <thread>
#include <vector>

#include "bridge/blocking_pool.hpp"
#include "detail/parker.hpp"

namespace fiberbridge::detail {

// The pool lock is taken by submitters and workers on different CPUs for a few dozen
// instructions at a time. A plain std::mutex sleeps at the first collision, which cost about one
// futex wait + wake per job in a burst of short bodies; glibc's adaptive mutex spins briefly first.
class AdaptiveMutex {
 public:
  AdaptiveMutex() noexcept {
    pthread_mutexattr_t attr;
    ::pthread_mutexattr_init(&attr);
    ::pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    ::pthread_mutex_init(&m_, &attr);
    ::pthread_mutexattr_destroy(&attr);
  }
  ~AdaptiveMutex() { ::pthread_mutex_destroy(&m_); }
  AdaptiveMutex(const AdaptiveMutex&) = delete;
  AdaptiveMutex& operator=(const AdaptiveMutex&) = delete;
  void lock() noexcept { ::pthread_mutex_lock(&m_); }
  void unlock() noexcept { ::pthread_mutex_unlock(&m_); }

 private:
  pthread_mutex_t m_;
};

// One per worker thread. Whoever claims it holds a reference while waking it, so a worker that
// retires meanwhile never leaves a dangling Parker behind.
struct BlockingPool::Worker {
  Parker parker;
  unique_function job;              // written by the claimer (outside the lock) before `handed`
  std::atomic<bool> handed{false};  // publishes `job`; tells a hand-over from a stale wake-up
  bool idle = false;                // on the idle stack; guarded by Shared::m
};

struct BlockingPool::Shared : std::enable_shared_from_this<Shared> {
  using Clock = std::chrono::steady_clock;
  // A queue that moves, but too slowly for its load (short blocking bodies on too few threads),
  // still grows the pool once its oldest job has waited this many stall periods.
  static constexpr int kSlowQueueStalls = 8;

  struct Queued {
    unique_function work;
    Clock::time_point since;
  };
  // A claimed worker and the job to hand it once the lock is released.
  struct Handover {
    std::shared_ptr<Worker> to;
    unique_function job;
  };
  // What a growth decision asks for, carried out after the lock is released.
  struct Growth {
    std::vector<Handover> handovers;
    unsigned spawn = 0;
  };
  enum class Monitor { absent, awake, parked };
  enum class MonitorAction { none, start, wake };

  Shared(unsigned max, Clock::duration idle_for, Clock::duration stall)
      : max_threads(std::max(1u, max)),
        core_threads(std::min(max_threads, std::max(2u, std::thread::hardware_concurrency()))),
        idle_timeout(idle_for),
        stall_time(stall) {
    idle.reserve(max_threads);  // so that a worker going idle never allocates
  }

  const unsigned max_threads;
  const unsigned core_threads;  // also the most claimed workers still waking up at once
  const Clock::duration idle_timeout;
  const Clock::duration stall_time;

  AdaptiveMutex m;  // guards everything below
  std::deque<Queued> queue;
  std::vector<std::shared_ptr<Worker>> idle;  // LIFO: back() is the most recently idle
  unsigned threads = 0;   // workers running or being started (<= max_threads)
  unsigned starting = 0;  // of those, the ones that have not looked at the queue yet
  unsigned waking = 0;    // claimed idle workers that have not started their job yet
  Clock::time_point last_start{};  // when a worker last started a job: the queue's progress
  Monitor monitor = Monitor::absent;
  bool closed = false;  // the BlockingPool object is gone: the monitor may exit

  Parker monitor_parker{std::chrono::nanoseconds(0)};  // its wake-up latency does not matter: never spin

  // ---- decisions (lock held) ----

  // Waking a parked worker costs the submitter a syscall and the job a wake-up latency. While
  // `core_threads` claimed workers are still waking, a job waits in the queue instead: each
  // woken worker wakes the next one if jobs are left (see on_woken), so a pool that once grew
  // does not wake a different thread for every job of a burst of short bodies.
  std::size_t free_wake_slots() const { return waking < core_threads ? core_threads - waking : 0; }
  bool may_claim() const { return !idle.empty() && free_wake_slots() > 0; }

  std::shared_ptr<Worker> claim_idle() {
    std::shared_ptr<Worker> w = std::move(idle.back());
    idle.pop_back();
    w->idle = false;
    ++waking;
    return w;
  }

  unsigned reserve(unsigned n) {
    threads += n;
    starting += n;
    return n;
  }
  void unreserve(unsigned n) {
    threads -= n;
    starting -= n;
  }

  unique_function pop_queued() {
    unique_function job = std::move(queue.front().work);
    queue.pop_front();
    return job;
  }

  // A job was queued: the monitor must watch it (start it the first time, wake it if it sleeps).
  MonitorAction monitor_action() {
    const Monitor before = monitor;
    monitor = Monitor::awake;
    if (before == Monitor::absent) return MonitorAction::start;
    return before == Monitor::parked ? MonitorAction::wake : MonitorAction::none;
  }

  // ---- actions (lock NOT held) ----

  // The claimed worker is ours alone until it sees `handed`.
  static void hand_over(Handover& h) {
    h.to->job = std::move(h.job);
    h.to->handed.store(true, std::memory_order_release);
    h.to->parker.unpark();
  }

  // ---- starting threads and the monitor (pool.cpp) ----

  // With no thread at all, a queued job would have nobody to run it: start one before accepting
  // the job, under the lock, and let a failure reach the submitter.
  void start_first_worker();

  // Starts or wakes the monitor as monitor_action() said.
  void apply(MonitorAction action);

  // ---- growth and the stall monitor (growth.cpp) ----

  // Stalled: the oldest job has waited `stall_time` without any job starting meanwhile (the
  // busy workers are blocked, not just busy or warming up), or the queue moves too slowly.
  // Never while a thread is starting or a claimed worker waking: those are about to start jobs,
  // and a delay there is a CPU shortage (a busy machine, a spawning fiber on the waker's CPU),
  // which more threads would not cure.
  bool stalled(Clock::time_point now) const;

  // The growth rule, after a job was queued and on every monitor check. The stall is checked
  // first: jobs handed to idle workers within the wake limit count as progress and would hide
  // that the busy workers are blocked (the queue would then move two jobs per stall period).
  void plan_growth(Clock::time_point now, Growth& g);

  // Hands up to `limit` of the oldest queued jobs to idle workers.
  void hand_queued_to_idle(Growth& g, std::size_t limit);

  // Hands the claimed workers their jobs and starts the planned threads.
  void carry_out(Growth& g);

  // Never throws: it runs after the job was accepted, and a thread existed when these were
  // reserved, so the queue is served even if they all fail.
  void start_workers(unsigned n);

  // The monitor thread: checks for stalls while jobs wait and no submit comes; sleeps while
  // nothing waits; exits once the pool object is gone and the queue is empty.
  void watch();

  // When `stalled` would next turn true if nothing changes; one stall period on if it already is.
  Clock::time_point next_check(Clock::time_point now) const;

  // ---- workers (worker.cpp) ----

  // Starts one detached worker thread (throws std::system_error).
  void spawn_worker();

  // A worker's loop: takes queued jobs without parking, else parks on the idle stack.
  void serve(const std::shared_ptr<Worker>& self);

  // A claimed worker is running: it no longer counts as waking, and if jobs wait and idle
  // workers are left, it wakes the next one before running its own job (so bodies that block
  // get their threads one wake-up latency apart, without waiting for a stall).
  Handover on_woken();

  // Parks until a submit hands over a job; returns an empty function after retiring on the
  // idle timeout.
  unique_function wait_for_handover(Worker& self);

  // The last worker that reached the queue stays while others are still starting: if their
  // creation fails, a job queued meanwhile would have no thread.
  bool may_retire() const;

  // Leaves the idle stack for good (lock held).
  void retire(Worker& self);
};

}  // namespace fiberbridge::detail
