// detail/batch_scheduling.hpp — the threads fiberbridge starts to run sync bodies (blocking-pool
// workers, the sync thread, each ThreadSensitiveContext's thread) run under SCHED_BATCH.
//
// Why: a thread under SCHED_BATCH that is woken does not preempt the thread that woke it. A
// scheduler thread that hands a body to such a thread goes on running its other fibers (which
// queue more bodies) instead of being switched out after every submission, and the body thread
// then runs the queued bodies in one go when it gets a CPU. When the scheduler thread runs out of
// fibers it yields its CPU before it sleeps (detail/parker.cpp), so a lone call is not delayed.
// It changes nothing while a CPU is idle: the woken thread is placed there.
// Measured, one vCPU shared by the scheduler thread and the body thread:
//  * pool workers (bench/throughput_bench, 64 fibers x 16 calls): 1.74 -> 0.81 µs per call;
//  * the sync thread (2026-12-03, kv_service under wrk, both variants, 200 connections): 50-58k
//    -> 78-87k req/s for the fiber variant, 68-69k -> 82-88k for the coroutine variant.
// Best effort (no privilege needed); threads that a body starts inherit the policy. A thread of
// the caller's (one parked in async_to_sync, serving its thread-sensitive bodies) keeps its own.
#pragma once

#include <pthread.h>
#include <sched.h>

namespace fiberbridge::detail {

inline void prefer_batch_scheduling() noexcept {
  sched_param param{};
  param.sched_priority = 0;
  (void)::pthread_setschedparam(::pthread_self(), SCHED_BATCH, &param);
}

}  // namespace fiberbridge::detail
