// bench/fixtures.hpp — the baselines several benchmarks measure side by side with fiberbridge,
// one header each under bench/baselines/:
//
//   * raw_futex.hpp — RawFutexPeer: a responder thread; a round trip is a 32-bit sequence number
//     each way, bare futex wait/wake by syscall, no lock held while waking (the floor any
//     blocking hand-off between two threads pays on this machine).
//   * spin.hpp — SpinPeer: the same protocol (thread_peer.hpp) with pure spinning (_mm_pause), no
//     syscalls. Needs two CPUs.
//   * asio.hpp — a coroutine on an io_context offloading to a thread_pool(1); co_spawn(use_future).get().
//   * raw_fiber.hpp — raw Boost.Fiber (round_robin on the calling thread): spawn+join, yield,
//     skynet the way Boost's own skynet runs (launch::dispatch, 16 KiB fixedsize stacks).
//   * raw_work_stealing.hpp — raw Boost.Fiber work_stealing skynet in a forked child
//     (work_stealing 1.81 keeps static state: one pool per process, never recreated).
//   * support.hpp — CPU pinning, sizes from the environment, the trivial body, the two-CPU skip.
//
// Every benchmark uses real time (UseRealTime) and whole-process CPU time (MeasureProcessCPUTime),
// so spinning shows up in cpu_time.
#pragma once

#include "baselines/asio.hpp"
#include "baselines/raw_fiber.hpp"
#include "baselines/raw_futex.hpp"
#include "baselines/raw_work_stealing.hpp"
#include "baselines/spin.hpp"
#include "baselines/support.hpp"
