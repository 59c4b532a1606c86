"""The rows of summary.md and their targets (issues 6 and 12), kept apart from how render.py reads
and prints them. Names are Google Benchmark run names without /real_time and /process_time.

A row: (id, what, (bench, ours name, per), [(label, bench, name, per)...], target text, check)
where check(ours ns, [baseline ns...]) -> True/False/None (None: no target in this mode, or a
value is missing). Pinned = `taskset -c 0`; unpinned = no affinity. Every ratio is within one run.
"""


def get(mode, bench, name):
    return mode["gb"].get(bench, {}).get(name)


def within(k):
    """A check: ours ≤ k × the first baseline (None when either is missing)."""
    return lambda o, b: None if o is None or b[0] is None else o <= k * b[0]


def at_most_ns(limit):
    """A check: ours ≤ limit ns (None when missing)."""
    return lambda o, b: None if o is None else o <= limit


# Each row: id, what, (bench, ours name, per), [(label, bench, name, per)], target text, check(ours, baselines) -> bool|None
# check gets the ns values (None when missing).
def rows_for(mode_name):
    pinned = mode_name == "pinned"
    R = []

    def coro_row(claim, fiber, coro, more=()):
        """An (info) row of coro_bench: the fiber variant vs the coroutine variant, one binary."""
        return ("—", f"  {claim} in coro_bench: fiber variant vs coroutine variant", ("coro_bench", fiber, None),
                [("coroutine variant", "coro_bench", coro, None), *more], "(info)", None)

    def pinned_ratio(k, baseline):
        """(target text, check) of a ratio target that holds for the pinned run only."""
        return "≤ %g× %s%s" % (k, baseline, "" if pinned else " (pinned target)"), within(k) if pinned else None

    R.append(("P1" if pinned else "P2", "sync_to_async RT, thread-sensitive, trivial body (1-thread runtime)",
              ("sync_to_async_bench", "BM_S2A_ThreadSensitive/rt_threads:1", None),
              [("raw futex RT", "sync_to_async_bench", "BM_RawFutexRT/rts:1", None),
               ("pure spin RT", "sync_to_async_bench", "BM_SpinRT/rts:1", None),
               ("Asio offload", "sync_to_async_bench", "BM_AsioOffload", None)],
              "≤ 1.2× raw and ≤ Asio" if pinned else "≤ 2 µs",
              (lambda o, b: None if o is None or b[0] is None or b[2] is None else (o <= 1.2 * b[0] and o <= b[2]))
              if pinned else at_most_ns(2000)))
    R.append(coro_row("P1" if pinned else "P2", "P1_fiber_sync_to_async", "P1_coro_sync_to_async"))
    if not pinned:
        R.append(("P2", "  same, split forced: caller thread on CPU 0, sync thread on CPU 1",
                  ("sync_to_async_bench", "BM_S2A_ThreadSensitive_Split", None),
                  [("raw futex RT split", "sync_to_async_bench", "BM_RawFutexRT_Split", None),
                   ("pure spin RT split", "sync_to_async_bench", "BM_SpinRT_Split", None)],
                  "≤ 2 µs", at_most_ns(2000)))
    R.append(("—", "  same, 2-thread runtime", ("sync_to_async_bench", "BM_S2A_ThreadSensitive/rt_threads:2", None),
              [("raw futex RT", "sync_to_async_bench", "BM_RawFutexRT/rts:1", None)], "(info)", None))
    R.append(("—", "  same, non-sensitive (blocking pool)", ("sync_to_async_bench", "BM_S2A_NonSensitive/rt_threads:1", None),
              [("raw futex RT", "sync_to_async_bench", "BM_RawFutexRT/rts:1", None)], "(info)", None))
    R.append(("P3", "async_to_sync from a plain thread, trivial fiber (1-thread runtime)",
              ("async_to_sync_bench", "BM_A2S_Trivial/rt_threads:1", None),
              [("raw futex RT", "async_to_sync_bench", "BM_RawFutexRT/rts:1", None),
               ("Asio co_spawn use_future", "async_to_sync_bench", "BM_AsioCoSpawnFuture", None)],
              *(pinned_ratio(1.3, "raw") if pinned else ("≤ 5 µs", at_most_ns(5000)))))
    R.append(coro_row("P3", "P3_fiber_async_to_sync", "P3_coro_async_to_sync",
                      [("Asio co_spawn use_future", "coro_bench", "P3_asio_co_spawn_use_future", None)]))
    R.append(("P4", "nested: async_to_sync → one thread-sensitive sync_to_async back",
              ("nested_bench", "BM_Nested/rt_threads:1", None),
              [("2 raw futex RTs", "nested_bench", "BM_RawFutexRT/rts:2", None),
               ("2 pure spin RTs", "nested_bench", "BM_SpinRT/rts:2", None)],
              *pinned_ratio(1.3, "2 raw RTs")))
    R.append(coro_row("P4", "P4_fiber_nested", "P4_coro_nested"))
    for op, what, k in (("post", "one Asio `post` completion", 3),
                        ("tcp_pingpong", "64-byte TCP ping-pong round trip over loopback", 1.2)):
        for t in (1, 2):
            R.append(("IO", f"{what}, {t}-thread runtime: fiber (use_fiber) vs coroutine (use_awaitable)",
                      ("io_bench", f"IO_{op}/fiber/threads:{t}", None),
                      [("coroutine variant", "io_bench", f"IO_{op}/coro/threads:{t}", None),
                       (f"plain Asio, io_context on {t} thread(s)", "io_bench", f"IO_{op}/asio/threads:{t}", None)],
                      f"≤ {k:g}× coroutine", within(k)))
    R.append(("P5", "throughput 64 fibers × 16 non-sensitive calls, per call (1-thread runtime)",
              ("throughput_bench", "BM_S2A_Throughput/rt_threads:1/sensitive:0", "calls"),
              [("Asio 64 coroutines × 16 via pool(1)", "throughput_bench", "BM_AsioOffloadThroughput", "calls")],
              "≤ 300 ns/call", at_most_ns(300)))
    R.append(("—", "  same, 2-thread runtime", ("throughput_bench", "BM_S2A_Throughput/rt_threads:2/sensitive:0", "calls"),
              [("Asio", "throughput_bench", "BM_AsioOffloadThroughput", "calls")], "(info)", None))
    R.append(("—", "  same, thread-sensitive (sync thread)", ("throughput_bench", "BM_S2A_Throughput/rt_threads:1/sensitive:1", "calls"),
              [("Asio", "throughput_bench", "BM_AsioOffloadThroughput", "calls")], "(info)", None))
    le11 = within(1.1)
    R.append(("P6", "spawn+join, 1-thread runtime", ("fiber_ops_bench", "BM_Ours_SpawnJoin/rt_threads:1", None),
              [("raw round_robin", "fiber_ops_bench", "BM_Raw_SpawnJoin", None)], "≤ 1.1×", le11))
    R.append(("P6", "yield (one iteration = 2 switches), 1-thread runtime", ("fiber_ops_bench", "BM_Ours_Yield/rt_threads:1", None),
              [("raw round_robin", "fiber_ops_bench", "BM_Raw_Yield", None)], "≤ 1.1×", le11))
    # The cost of the per-switch bookkeeping and of the slow-fiber detector: ours vs ours without it.
    for op, bop, cost, suffix, label in (
            ("yield", "Yield", "per-switch bookkeeping (exception-state swap, watchdog stores)", "Bare",
             "same scheduler without it"),
            ("spawn+join", "SpawnJoin", "per-switch bookkeeping", "Bare", "same scheduler without it"),
            ("yield", "Yield", "slow-fiber detector on (default)", "DetectorOff", "detector off (threshold 0)"),
            ("spawn+join", "SpawnJoin", "slow-fiber detector on (default)", "DetectorOff", "detector off (threshold 0)")):
        R.append(("sw", f"{op}, 1-thread runtime: {cost}", ("fiber_ops_bench", f"BM_Ours_{bop}/rt_threads:1", None),
                  [(label, "fiber_ops_bench", f"BM_Ours_{bop}_{suffix}", None)], "≤ 1.05×", within(1.05)))
    R.append(("P6", "skynet (small), per fiber, 1-thread runtime", ("fiber_ops_bench", "@skynet/rt_threads:1", "fibers"),
              [("raw round_robin", "fiber_ops_bench", "@rawskynet", "fibers")], "≤ 1.1×", le11))
    R.append(("—", "spawn+join, 2-thread runtime", ("fiber_ops_bench", "BM_Ours_SpawnJoin/rt_threads:2", None),
              [("raw round_robin (1 thread)", "fiber_ops_bench", "BM_Raw_SpawnJoin", None)], "(info)", None))
    R.append(("—", "skynet (small), per fiber, 2-thread runtime", ("fiber_ops_bench", "@skynet/rt_threads:2", "fibers"),
              [("raw work_stealing(2)", "fiber_ops_bench", "@wsskynet", "fibers")], "(info)", None))
    R.append(("P7", "skynet 1,111,111, per fiber, 1-thread runtime", ("fiber_ops_bench", "@full/rt_threads:1", "fibers"),
              [("raw round_robin", "fiber_ops_bench", "@rawfull", "fibers")], "(reference for 2 threads)", None))
    R.append(("P7", "skynet 1,111,111, per fiber, 2-thread runtime", ("fiber_ops_bench", "@full/rt_threads:2", "fibers"),
              [("raw work_stealing(2)", "fiber_ops_bench", "@wsfull", "fibers"),
               ("ours 1 thread", "fiber_ops_bench", "@full/rt_threads:1", "fibers")],
              "≤ 0.5 µs/fiber and ≥ 1.6× faster than 1 thread" if not pinned
              else "(n/a pinned: two threads on one vCPU cannot beat one)",
              None if pinned else
              lambda o, b: None if o is None or b[1] is None else (o <= 500 and b[1] / o >= 1.6)))
    R.append(("ctx", "context: sync_to_async RT, 0 vars set", ("context_bench", "BM_S2A_Context/vars:0", None),
              [("raw futex RT", "context_bench", "BM_RawFutexRT/rts:1", None)], "(reference)", None))
    for k in (1, 16):
        R.append(("ctx", f"context: {k} var(s) set", ("context_bench", f"BM_S2A_Context/vars:{k}", None),
                  [("0 vars", "context_bench", "BM_S2A_Context/vars:0", None)], "cost = Δ vs 0 vars", None))
        R.append(("ctx", f"context: {k} var(s) set, body sets one", ("context_bench", f"BM_S2A_ContextWrite/vars:{k}", None),
                  [("0 vars", "context_bench", "BM_S2A_Context/vars:0", None)], "cost = Δ vs 0 vars", None))
    return R


def resolve(mode, bench, name):
    """Names starting with @ pick the skynet entries whatever their size."""
    if not name.startswith("@"):
        return get(mode, bench, name)
    table = mode["gb"].get(bench, {})
    kind, _, rest = name[1:].partition("/")
    prefix = {"skynet": "BM_Ours_Skynet/", "full": "BM_Ours_SkynetFull/", "rawskynet": "BM_Raw_Skynet/",
              "rawfull": "BM_Raw_SkynetFull/", "wsskynet": "BM_RawWS_Skynet/", "wsfull": "BM_RawWS_SkynetFull/"}[kind]
    for key, v in table.items():
        if key.startswith(prefix) and (not rest or key.endswith("/" + rest)):
            return v
    return None


# asgiref_bench.py rows vs ours, and the issue 12 targets (unpinned): asgiref / ours ≥ k.
# (asgiref name, (bench, ours name, per), minimum ratio or None)
ASGIREF_PAIRS = [
    ("sync_to_async", ("sync_to_async_bench", "BM_S2A_ThreadSensitive/rt_threads:1", None), None),
    ("sync_to_async_ns", ("sync_to_async_bench", "BM_S2A_NonSensitive/rt_threads:1", None), None),
    ("async_to_sync", ("async_to_sync_bench", "BM_A2S_Trivial/rt_threads:1", None), 50),
    ("nested", ("nested_bench", "BM_Nested/rt_threads:1", None), 40),
    ("throughput_ns", ("throughput_bench", "BM_S2A_Throughput/rt_threads:1/sensitive:0", "calls"), None),
]
ASGIREF_TARGET_MODE = "unpinned"

# The ids whose verdicts issue 12 asks to see together ("Must show").
ISSUE12_IDS = ("IO", "P3", "asgiref", "P2", "P9", "wrk")

# wrk (bench/load/wrk_kv.sh, <dir>/wrk/wrk_kv.json): at each connection count, fiber req/s ≥ coroutine
# req/s and fiber p99 ≤ 1.2× the coroutine's.
WRK_P99_MAX_RATIO = 1.2
