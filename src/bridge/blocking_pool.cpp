// bridge/blocking_pool.cpp — see blocking_pool.hpp.
#include "bridge/blocking_pool.hpp"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <deque>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "context/exec_state.hpp"
#include "detail/parker.hpp"

namespace fiberbridge::detail {

namespace {
using Clock = std::chrono::steady_clock;

// Pool workers run under SCHED_BATCH (best effort; no privilege needed): a woken worker then
// does not preempt the thread that woke it, so a scheduler thread goes on running its other
// fibers (queueing more jobs) instead of being switched out after every submission, and the
// worker later runs the queued jobs in one go. Measured (bench/throughput_bench, 64 fibers x 16
// calls, pinned to one vCPU): 1.74 -> 0.81 us per call; unpinned 2.5 -> 1.2 us. It changes
// nothing while a CPU is idle (a woken worker is placed there). Threads that a body starts
// inherit the policy.
void prefer_batch_scheduling() noexcept {
  sched_param param{};
  param.sched_priority = 0;
  (void)::pthread_setschedparam(::pthread_self(), SCHED_BATCH, &param);
}

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

// A queue that moves, but too slowly for its load (short blocking bodies on too few threads),
// still grows the pool once its oldest job has waited this many stall periods.
constexpr int kSlowQueueStalls = 8;
}  // namespace

// One per worker thread. Whoever claims it holds a reference while waking it, so a worker that
// retires meanwhile never leaves a dangling Parker behind.
struct BlockingPool::Worker {
  Parker parker;
  unique_function job;              // written by the claimer (outside the lock) before `handed`
  std::atomic<bool> handed{false};  // publishes `job`; tells a hand-over from a stale wake-up
  bool idle = false;                // on the idle stack; guarded by Shared::m
};

struct BlockingPool::Shared : std::enable_shared_from_this<Shared> {
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

  // Stalled: the oldest job has waited `stall_time` without any job starting meanwhile (the
  // busy workers are blocked, not just busy or warming up), or the queue moves too slowly.
  // Never while a thread is starting or a claimed worker waking: those are about to start jobs,
  // and a delay there is a CPU shortage (a busy machine, a spawning fiber on the waker's CPU),
  // which more threads would not cure.
  bool stalled(Clock::time_point now) const {
    if (queue.empty() || starting > 0 || waking > 0) return false;
    const Clock::time_point since = queue.front().since;
    return now - std::max(since, last_start) > stall_time || now - since > kSlowQueueStalls * stall_time;
  }

  // The growth rule, after a job was queued and on every monitor check. The stall is checked
  // first: jobs handed to idle workers within the wake limit count as progress and would hide
  // that the busy workers are blocked (the queue would then move two jobs per stall period).
  void plan_growth(Clock::time_point now, Growth& g) {
    if (stalled(now)) {  // wake every idle worker the queue needs, then start threads for the rest
      hand_queued_to_idle(g, queue.size());
      g.spawn = reserve(static_cast<unsigned>(std::min<std::size_t>(queue.size(), max_threads - threads)));
      return;
    }
    hand_queued_to_idle(g, free_wake_slots());  // free wake-up slots go to the oldest jobs
    if (!queue.empty() && idle.empty() && threads < core_threads) g.spawn = reserve(1);  // the core starts eagerly
  }

  // Hands up to `limit` of the oldest queued jobs to idle workers.
  void hand_queued_to_idle(Growth& g, std::size_t limit) {
    const std::size_t n = std::min({limit, queue.size(), idle.size()});
    if (n == 0) return;
    try {
      g.handovers.reserve(n);  // the only allocation; without memory the jobs stay queued for now
    } catch (const std::bad_alloc&) {
      return;
    }
    for (std::size_t i = 0; i < n; ++i) g.handovers.push_back({claim_idle(), pop_queued()});
  }

  unique_function pop_queued() {
    unique_function job = std::move(queue.front().work);
    queue.pop_front();
    return job;
  }

  // With no thread at all, a queued job would have nobody to run it: start one before accepting
  // the job, under the lock, and let a failure reach the submitter.
  void start_first_worker() {
    reserve(1);
    try {
      spawn_worker();
    } catch (...) {
      unreserve(1);
      throw;
    }
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

  void carry_out(Growth& g) {
    for (Handover& h : g.handovers) hand_over(h);
    start_workers(g.spawn);
  }

  // Never throws: it runs after the job was accepted, and a thread existed when these were
  // reserved, so the queue is served even if they all fail.
  void start_workers(unsigned n) {
    for (unsigned i = 0; i < n; ++i) {
      try {
        spawn_worker();
      } catch (...) {  // no thread or no memory now; a later stall check tries again
        std::lock_guard g(m);
        unreserve(n - i);
        return;
      }
    }
  }

  void spawn_worker() {
    auto w = std::make_shared<Worker>();
    std::thread([s = shared_from_this(), w] { s->serve(w); }).detach();
  }

  void apply(MonitorAction action) {
    if (action == MonitorAction::wake) monitor_parker.unpark();
    if (action != MonitorAction::start) return;
    try {
      std::thread([s = shared_from_this()] { s->watch(); }).detach();
    } catch (...) {  // submits still check for stalls; the next queued job retries
      std::lock_guard g(m);
      monitor = Monitor::absent;
    }
  }

  // ---- workers ----

  void serve(const std::shared_ptr<Worker>& self) {
    ::pthread_setname_np(::pthread_self(), "fb-pool");
    prefer_batch_scheduling();
    // Set up the per-thread state every body swaps its scope into (Boost.Fiber's thread context
    // among it: 50-300 µs on a fresh thread) while still counted as starting, so the warm-up
    // is not taken for a stall.
    (void)current_state();
    std::unique_lock lk(m);
    --starting;
    for (;;) {
      unique_function job;
      if (!queue.empty()) {  // finished or just started: take the next job without parking
        job = pop_queued();
        last_start = Clock::now();
        lk.unlock();
      } else {
        self->idle = true;
        idle.push_back(self);
        lk.unlock();
        job = wait_for_handover(*self);
        if (!job) return;  // retired
        Handover next = on_woken();
        if (next.to) hand_over(next);
      }
      job();
      job = {};
      lk.lock();
    }
  }

  // A claimed worker is running: it no longer counts as waking, and if jobs wait and idle
  // workers are left, it wakes the next one before running its own job (so bodies that block
  // get their threads one wake-up latency apart, without waiting for a stall).
  Handover on_woken() {
    std::lock_guard g(m);
    --waking;
    last_start = Clock::now();
    if (queue.empty() || !may_claim()) return {};
    return {claim_idle(), pop_queued()};
  }

  // Parks until a submit hands over a job; returns an empty function after retiring on the
  // idle timeout.
  unique_function wait_for_handover(Worker& self) {
    Clock::time_point deadline = Clock::now() + idle_timeout;
    for (;;) {
      (void)self.parker.park_until(deadline);
      if (self.handed.load(std::memory_order_acquire)) {
        self.handed.store(false, std::memory_order_relaxed);
        return std::move(self.job);
      }
      // A notification left over from a hand-over already taken after a timeout: park again.
      if (Clock::now() < deadline) continue;
      std::lock_guard g(m);
      if (!self.idle) {
        deadline = Clock::time_point::max();  // claimed just now: the job is on its way
      } else if (may_retire()) {
        retire(self);
        return {};
      } else {
        deadline = Clock::now() + idle_timeout;
      }
    }
  }

  // The last worker that reached the queue stays while others are still starting: if their
  // creation fails, a job queued meanwhile would have no thread.
  bool may_retire() const { return starting == 0 || threads - starting > 1; }

  void retire(Worker& self) {
    idle.erase(std::find_if(idle.begin(), idle.end(), [&](const auto& w) { return w.get() == &self; }));
    self.idle = false;
    --threads;
  }

  // ---- the monitor: stall checks when no submit comes ----

  void watch() {
    ::pthread_setname_np(::pthread_self(), "fb-pool-monitor");
    std::unique_lock lk(m);
    for (;;) {
      if (queue.empty()) {
        if (closed) {
          monitor = Monitor::absent;
          return;
        }
        monitor = Monitor::parked;  // the next queued job wakes us
        lk.unlock();
        monitor_parker.park();
        lk.lock();
        continue;
      }
      monitor = Monitor::awake;  // also after a stale wake-up that found jobs
      const Clock::time_point now = Clock::now();
      Growth growth;
      plan_growth(now, growth);
      const Clock::time_point next = next_check(now);
      lk.unlock();
      carry_out(growth);
      (void)monitor_parker.park_until(next);
      lk.lock();
    }
  }

  // When `stalled` would next turn true if nothing changes; one stall period on if it already is.
  Clock::time_point next_check(Clock::time_point now) const {
    if (queue.empty()) return now + stall_time;
    const Clock::time_point since = queue.front().since;
    const Clock::time_point due = std::min(std::max(since, last_start) + stall_time, since + kSlowQueueStalls * stall_time);
    return due > now ? due : now + stall_time;
  }
};

BlockingPool::BlockingPool(unsigned max_threads, std::chrono::milliseconds idle_timeout,
                           std::chrono::microseconds stall_time)
    : s_(std::make_shared<Shared>(max_threads, idle_timeout, stall_time)) {}

BlockingPool::~BlockingPool() {
  bool wake = false;
  {
    std::lock_guard g(s_->m);
    s_->closed = true;
    wake = s_->monitor == Shared::Monitor::parked;
  }
  if (wake) s_->monitor_parker.unpark();
}

bool BlockingPool::submit(unique_function& work) {
  Shared& s = *s_;
  std::unique_lock lk(s.m);
  if (s.may_claim() && s.queue.empty()) {  // jobs that wait keep their turn (plan_growth)
    Shared::Handover h{s.claim_idle(), std::move(work)};
    lk.unlock();
    Shared::hand_over(h);
    return true;
  }
  const bool had_threads = s.threads > 0;
  if (!had_threads) s.start_first_worker();  // throws std::system_error, leaving `work` untouched
  const Clock::time_point now = Clock::now();
  s.queue.emplace_back(std::move(work), now);  // allocates before moving `work`
  Shared::Growth growth;
  if (had_threads) s.plan_growth(now, growth);
  const Shared::MonitorAction monitor = s.monitor_action();
  lk.unlock();
  s.carry_out(growth);
  s.apply(monitor);
  return true;
}

BlockingPool::Stats BlockingPool::stats() const {
  std::lock_guard g(s_->m);
  Stats st;
  st.threads = s_->threads;
  st.idle = s_->idle.size();
  st.busy = st.threads > st.idle ? st.threads - st.idle : 0;
  st.queued = s_->queue.size();
  return st;
}

BlockingPool& BlockingPool::instance() {
  static auto* pool = new BlockingPool(256, std::chrono::seconds(10));
  return *pool;
}

}  // namespace fiberbridge::detail
