#!/usr/bin/python3
"""Renders one results directory of bench/run.sh into summary.md (markdown tables: ours vs the
baselines of the same run, medians, ratios, targets of issue 6) and plot.png (matplotlib).

Layout read:  <dir>/<mode>/<bench>.json   Google Benchmark JSON (aggregates: the median is used)
              <dir>/<mode>/memory.json     memory_bench    (P8)
              <dir>/<mode>/memory_1m.json  memory_bench --count 1000000 (optional)
              <dir>/<mode>/idle.json       idle_bench      (P9)
              <dir>/<mode>/asgiref.json    asgiref_bench.py
  where <mode> is `pinned` (taskset -c 0) or `unpinned`.

usage: render.py <dir> [--previous <older dir>]   (--previous: a plain median comparison, for when
       compare.py cannot run)
"""
import argparse
import json
import os
import re
import sys

MODES = ["pinned", "unpinned"]
UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def norm(name):
    for suffix in ("/process_time", "/real_time", "/manual_time", "/iterations:1"):
        name = name.replace(suffix, "")
    return name


def load_gbench(path):
    """{normalized run name: {"ns": median real time in ns, "counters": {...}} or {"error": msg}}"""
    out = {}
    with open(path) as f:
        data = json.load(f)
    for b in data.get("benchmarks", []):
        key = norm(b.get("run_name", b["name"]))
        if b.get("error_occurred"):
            out[key] = {"error": b.get("error_message", "error")}
            continue
        agg = b.get("aggregate_name")
        if agg not in (None, "median"):
            continue
        if agg is None and key in out:  # a single-repetition run: keep the first
            continue
        ns = b["real_time"] * UNIT[b.get("time_unit", "ns")]
        cpu = b["cpu_time"] * UNIT[b.get("time_unit", "ns")]
        counters = {k: v for k, v in b.items() if k in ("calls", "fibers")}
        out[key] = {"ns": ns, "cpu_ns": cpu, "counters": counters}
    return out


def load_mode(d):
    res = {"gb": {}, "memory": None, "memory_1m": None, "idle": None, "asgiref": None, "alloc": None}
    if not os.path.isdir(d):
        return res
    for fn in sorted(os.listdir(d)):
        p = os.path.join(d, fn)
        if not fn.endswith(".json"):
            continue
        stem = fn[:-5]
        try:
            if stem in ("memory", "memory_1m", "idle", "asgiref", "alloc"):
                with open(p) as f:
                    res[stem] = json.load(f)
            else:
                res["gb"][stem] = load_gbench(p)
        except (ValueError, KeyError) as e:
            print(f"render.py: cannot read {p}: {e}", file=sys.stderr)
    return res


def get(mode, bench, name):
    return mode["gb"].get(bench, {}).get(name)


def fmt_ns(v):
    if v is None:
        return "n/a"
    if v >= 1e6:
        return f"{v / 1e6:.2f} ms"
    if v >= 1e3:
        return f"{v / 1e3:.2f} µs"
    return f"{v:.0f} ns"


def cell(entry, per=None):
    """(text, ns) of one benchmark entry, optionally divided by a counter (per call / per fiber)."""
    if entry is None:
        return "missing", None
    if "error" in entry:
        return "skipped: " + entry["error"][:60], None
    v = entry["ns"]
    if per:
        n = entry["counters"].get(per)
        if not n:
            return "no counter", None
        v = v / n
    return fmt_ns(v), v


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fr(r):
    return "n/a" if r is None else f"{r:.2f}×"


def verdict(ok):
    return "—" if ok is None else ("**met**" if ok else "**missed**")


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
              *pinned_ratio(1.3, "raw")))
    R.append(("P4", "nested: async_to_sync → one thread-sensitive sync_to_async back",
              ("nested_bench", "BM_Nested/rt_threads:1", None),
              [("2 raw futex RTs", "nested_bench", "BM_RawFutexRT/rts:2", None),
               ("2 pure spin RTs", "nested_bench", "BM_SpinRT/rts:2", None)],
              *pinned_ratio(1.3, "2 raw RTs")))
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


def render_mode(mode_name, mode, lines, plotdata):
    lines.append(f"\n### {mode_name} ({'taskset -c 0: every thread on one vCPU' if mode_name == 'pinned' else 'no pinning: the kernel places threads'})\n")
    lines.append("| # | measure | ours (median) | baselines (median, same run) | ours / baseline | target | verdict |")
    lines.append("|---|---|---|---|---|---|---|")
    verdicts = []
    for rid, what, (ob, on, oper), bases, target, check in rows_for(mode_name):
        oentry = resolve(mode, ob, on)
        otext, ov = cell(oentry, oper)
        if oper == "fibers":
            entries = [oentry] + [resolve(mode, bb, bn) for _, bb, bn, _ in bases]
            n = next((e["counters"]["fibers"] for e in entries if e and "counters" in e and e["counters"].get("fibers")), None)
            if n:
                what = re.sub(r"1,111,111|\(small\)", f"{int(n):,} fibers", what)
        btexts, bvals, rtexts = [], [], []
        for label, bb, bn, bper in bases:
            t, v = cell(resolve(mode, bb, bn), bper)
            btexts.append(f"{label}: {t}")
            bvals.append(v)
            rtexts.append(fr(ratio(ov, v)))
        ok = check(ov, bvals) if check else None
        if "context" in what and rid == "ctx" and ov is not None and bvals and bvals[0] is not None and "0 vars" in bases[0][0]:
            target = f"Δ = {ov - bvals[0]:+.0f} ns"
        lines.append(f"| {rid} | {what} | {otext} | {'<br>'.join(btexts)} | {'<br>'.join(rtexts)} | {target} | {verdict(ok)} |")
        if ok is not None:
            verdicts.append((rid, what, ok))
        if rid != "—" and ov is not None:
            plotdata.setdefault(mode_name, []).append((f"{rid} {what.strip()[:48]} | vs {bases[0][0]}", ov, [(l, v) for (l, *_), v in zip(bases, bvals)]))

    mem = mode.get("memory")
    if mem:
        lines.append("")
        lines.append(f"**P8 memory** ({mem['count']:,} fibers blocked in a bridge; target ≤ 4 KB RSS per fiber for ours):\n")
        lines.append("| variant | stack | reached | RSS B/fiber | of which stack pages (RSS − malloc'd) | malloc'd B/fiber | VSZ B/fiber | VMAs/fiber | note | verdict |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in mem["results"]:
            ok = None
            if r["variant"].startswith("ours"):
                ok = bool(r.get("ok")) and r.get("rss_bytes_per_fiber", 1e9) <= 4096
                verdicts.append(("P8", f"RSS/fiber {r['variant']}", ok))
            lines.append(f"| {r['variant']} | {r.get('stack_size', '?')} | {r.get('reached', 0):,} | "
                         f"{r.get('rss_bytes_per_fiber', float('nan')):,.0f} | "
                         f"{'n/a' if r.get('stack_rss_bytes_per_fiber', -1) < 0 else format(r['stack_rss_bytes_per_fiber'], ',.0f')} | "
                         f"{'n/a' if 'heap_bytes_per_fiber' not in r else format(r['heap_bytes_per_fiber'], ',.0f')} | "
                         f"{r.get('vsz_bytes_per_fiber', float('nan')):,.0f} | "
                         f"{r.get('vmas_per_fiber', float('nan')):.2f} | {r.get('error', '')[:80]} | {verdict(ok)} |")
    m1 = mode.get("memory_1m")
    if m1:
        for r in m1["results"]:
            ok = bool(r.get("ok"))
            verdicts.append(("P8", "1,000,000 suspended fibers run", ok))
            lines.append(f"\n1,000,000 suspended fibers ({r['variant']}): reached {r.get('reached', 0):,}, "
                         f"RSS {r.get('rss_bytes_per_fiber', float('nan')):,.0f} B/fiber, {r.get('error', '') or 'ok'} — {verdict(ok)}")
    alloc = mode.get("alloc")
    if alloc:
        lines.append("")
        lines.append(f"**Heap allocations per operation** (issue 13; malloc family counted over every thread, "
                     f"{alloc['ops']:,} operations; fiber stacks are pooled mmap slabs, not heap):\n")
        lines.append("| operation | allocations / op | bytes / op | target |")
        lines.append("|---|---|---|---|")
        for r in alloc["results"]:
            lines.append(f"| {r['op']} | {r['allocs_per_op']:.2f} | {r['bytes_per_op']:,.0f} | {r['target']} |")
    idle = mode.get("idle")
    if idle:
        lines.append(f"\n**P9 idle CPU** over {idle['seconds']} s (target ≤ 1 % of a core): " +
                     ", ".join(f"{r['name']} {r['cpu_percent_of_core']:.3f} %" for r in idle["results"]))
        ok = all(r["cpu_percent_of_core"] <= 1.0 for r in idle["results"])
        verdicts.append(("P9", "idle CPU", ok))
        lines.append(f" — {verdict(ok)}")
    asg = mode.get("asgiref")
    if asg:
        lines.append(f"\n**asgiref {asg['asgiref']}** (Python {asg['python']}, median per call) vs ours, same mode:\n")
        lines.append("| asgiref | asgiref median | ours | ours median | asgiref / ours |")
        lines.append("|---|---|---|---|---|")
        pairs = [("sync_to_async", ("sync_to_async_bench", "BM_S2A_ThreadSensitive/rt_threads:1", None)),
                 ("sync_to_async_ns", ("sync_to_async_bench", "BM_S2A_NonSensitive/rt_threads:1", None)),
                 ("async_to_sync", ("async_to_sync_bench", "BM_A2S_Trivial/rt_threads:1", None)),
                 ("nested", ("nested_bench", "BM_Nested/rt_threads:1", None)),
                 ("throughput_ns", ("throughput_bench", "BM_S2A_Throughput/rt_threads:1/sensitive:0", "calls"))]
        by = {r["name"]: r for r in asg["results"]}
        for an, (ob, on, oper) in pairs:
            a = by.get(an)
            otext, ov = cell(resolve(mode, ob, on), oper)
            av = a["median_ns"] if a else None
            lines.append(f"| {an} | {fmt_ns(av)} | {on}{' per call' if oper else ''} | {otext} | {fr(ratio(av, ov))} |")
    return verdicts


def plot(plotdata, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("render.py: matplotlib missing (FIBERBRIDGE_EXTRA_PKGS=python3-matplotlib scripts/deps.sh): no plot", file=sys.stderr)
        return False
    modes = [m for m in MODES if m in plotdata]
    if not modes:
        return False
    fig, axes = plt.subplots(1, len(modes), figsize=(11 * len(modes), 0.55 * max(len(plotdata[m]) for m in modes) + 2),
                             squeeze=False)
    for ax, m in zip(axes[0], modes):
        rows = plotdata[m]
        labels = [r[0] for r in rows]
        y = range(len(rows))
        ax.barh([i - 0.2 for i in y], [r[1] for r in rows], height=0.4, label="fiberbridge", color="tab:blue")
        first_base = [next((v for _, v in r[2] if v is not None), None) for r in rows]
        ax.barh([i + 0.2 for i in y], [v or 0 for v in first_base], height=0.4, label="first baseline", color="tab:gray")
        ax.set_yticks(list(y))
        ax.set_yticklabels(labels, fontsize=6)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlabel("ns (median; per call / per fiber where noted), log scale")
        ax.set_title(f"{m}: fiberbridge vs baseline")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def compare_previous(cur, prev, lines):
    lines.append("\n### change vs previous run (median real time; plain ratio, no U test)\n")
    lines.append("| mode | benchmark | previous | now | now / previous |")
    lines.append("|---|---|---|---|---|")
    for m in MODES:
        for bench, table in cur[m]["gb"].items():
            for name, e in table.items():
                p = prev[m]["gb"].get(bench, {}).get(name)
                if not p or "ns" not in p or "ns" not in e:
                    continue
                lines.append(f"| {m} | {bench}: {name} | {fmt_ns(p['ns'])} | {fmt_ns(e['ns'])} | {e['ns'] / p['ns']:.2f}× |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--previous")
    a = ap.parse_args()
    data = {m: load_mode(os.path.join(a.dir, m)) for m in MODES}
    lines = [f"# fiberbridge benchmark results: {os.path.basename(os.path.normpath(a.dir))}",
             "",
             "Medians over repetitions (Google Benchmark `--benchmark_repetitions`), real time per operation; each ratio",
             "is computed against a baseline measured in the same binary and the same run. See README.md for the machine."]
    plotdata = {}
    allv = []
    for m in MODES:
        if any(data[m].values()):
            allv += [(m,) + v for v in render_mode(m, data[m], lines, plotdata)]
    lines.append("\n### targets of issue 6\n")
    lines.append("| mode | # | measure | verdict |")
    lines.append("|---|---|---|---|")
    for m, rid, what, ok in allv:
        lines.append(f"| {m} | {rid} | {what.strip()} | {verdict(ok)} |")
    if a.previous:
        prev = {m: load_mode(os.path.join(a.previous, m)) for m in MODES}
        compare_previous(data, prev, lines)
    if plot(plotdata, os.path.join(a.dir, "plot.png")):
        lines.append("\n![ours vs baselines](plot.png)")
    out = os.path.join(a.dir, "summary.md")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(out)


if __name__ == "__main__":
    main()
