#!/usr/bin/python3
"""asgiref itself on this machine (python3-asgiref from apt), for the ratio against fiberbridge.

Measures, per call of a trivial body (median over repetitions):
  sync_to_async      : `await sync_to_async(f)()` (thread-sensitive, asgiref's default)
  sync_to_async_ns   : the same with thread_sensitive=False (the executor pool)
  async_to_sync      : `async_to_sync(coro)()` from a plain thread
  nested             : async_to_sync of a coroutine that awaits one thread-sensitive sync_to_async
  throughput_ns      : 64 tasks x 16 `await sync_to_async(f, thread_sensitive=False)()`, ns per call
Prints one JSON object: {"kind": "asgiref", ..., "results": [{"name", "median_ns", "min_ns", "max_ns"}]}.

usage: asgiref_bench.py [--calls N] [--reps R]
"""
import argparse
import asyncio
import json
import platform
import statistics
import sys
import time

import asgiref
from asgiref.sync import async_to_sync, sync_to_async


def trivial():
    return 1


async def atrivial():
    return 1


def per_call(fn, calls, reps):
    samples = []
    fn(max(1, calls // 10))  # warm-up: threads, executors, loop
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        fn(calls)
        samples.append((time.perf_counter_ns() - t0) / calls)
    return samples


def bench_s2a(thread_sensitive):
    def run(n):
        async def main():
            f = sync_to_async(trivial, thread_sensitive=thread_sensitive)
            for _ in range(n):
                await f()
        asyncio.run(main())
    return run


def bench_a2s(n):
    f = async_to_sync(atrivial)
    for _ in range(n):
        f()


def bench_nested(n):
    s = sync_to_async(trivial)

    async def inner():
        return await s()

    f = async_to_sync(inner)
    for _ in range(n):
        f()


def bench_throughput(n):
    tasks, calls = 64, 16
    rounds = max(1, n // (tasks * calls))

    async def worker(f):
        for _ in range(calls):
            await f()

    async def main():
        f = sync_to_async(trivial, thread_sensitive=False)
        for _ in range(rounds):
            await asyncio.gather(*(worker(f) for _ in range(tasks)))
    asyncio.run(main())
    return rounds * tasks * calls


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    results = []

    def add(name, fn, calls):
        samples = per_call(fn, calls, a.reps)
        results.append({"name": name, "median_ns": statistics.median(samples), "min_ns": min(samples),
                        "max_ns": max(samples), "reps": len(samples), "calls": calls})

    # async_to_sync starts a fresh event loop per call (about 3 ms here): fewer calls.
    slow = max(10, a.calls // 10)
    add("sync_to_async", bench_s2a(True), a.calls)
    add("sync_to_async_ns", bench_s2a(False), a.calls)
    add("async_to_sync", bench_a2s, slow)
    add("nested", bench_nested, slow)
    add("throughput_ns", bench_throughput, max(1024, (a.calls * 4) // 1024 * 1024))
    print(json.dumps({"kind": "asgiref", "python": sys.version.split()[0], "asgiref": asgiref.__version__,
                      "machine": platform.platform(), "results": results}, indent=1))


if __name__ == "__main__":
    main()
