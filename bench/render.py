#!/usr/bin/python3
"""Renders one results directory of bench/run.sh into summary.md (markdown tables: ours vs the
baselines of the same run, medians, ratios, the targets of issues 6 and 12, issue 12's first),
plot.png (every row vs its first baseline) and headline.png / headline_pinned.png (fiber and
coroutine variants vs asgiref, Asio and the raw limit: render_plot.py). The rows and targets are in
render_rows.py. Rows whose JSON is missing are reported as missing and left out of the plots.

Layout read:  <dir>/<mode>/<bench>.json   Google Benchmark JSON (aggregates: the median is used)
              <dir>/<mode>/memory.json     memory_bench    (P8)
              <dir>/<mode>/memory_1m.json  memory_bench --count 1000000 (optional)
              <dir>/<mode>/idle.json       idle_bench      (P9)
              <dir>/<mode>/asgiref.json    asgiref_bench.py
              <dir>/wrk/wrk_kv.json        bench/load/wrk_kv.sh <dir>/wrk (optional)
  where <mode> is `pinned` (taskset -c 0) or `unpinned`.

usage: render.py <dir> [--previous <older dir>]   (--previous: a plain median comparison, for when
       compare.py cannot run)
"""
import argparse
import json
import os
import re
import sys

from render_plot import headline, plot
from render_rows import (ASGIREF_PAIRS, ASGIREF_TARGET_MODE, ISSUE12_IDS, WRK_P99_MAX_RATIO, resolve,
                         rows_for)

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
        if ok is not None or (check is not None and rid in ISSUE12_IDS):  # issue 12's rows show up even when missing
            verdicts.append((rid, what, ok, f"{otext} vs {btexts[0]} ({rtexts[0]})"))
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
                verdicts.append(("P8", f"RSS/fiber {r['variant']}", ok, f"{r.get('rss_bytes_per_fiber', 0):,.0f} B"))
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
            verdicts.append(("P8", "1,000,000 suspended fibers run", ok, f"reached {r.get('reached', 0):,}"))
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
        verdicts.append(("P9", "idle CPU ≤ 1 % of a core", ok,
                         f"max {max(r['cpu_percent_of_core'] for r in idle['results']):.3f} %"))
        lines.append(f" — {verdict(ok)}")
    asg = mode.get("asgiref")
    if not asg and mode_name == ASGIREF_TARGET_MODE:
        verdicts += [("asgiref", f"{an}: ours ≥ {k}× faster than asgiref", None, "asgiref.json missing")
                     for an, _, k in ASGIREF_PAIRS if k is not None]
    if asg:
        lines.append(f"\n**asgiref {asg['asgiref']}** (Python {asg['python']}, median per call) vs ours, same mode:\n")
        lines.append("| asgiref | asgiref median | ours | ours median | asgiref / ours | target | verdict |")
        lines.append("|---|---|---|---|---|---|---|")
        by = {r["name"]: r for r in asg["results"]}
        for an, (ob, on, oper), k in ASGIREF_PAIRS:
            a = by.get(an)
            otext, ov = cell(resolve(mode, ob, on), oper)
            av = a["median_ns"] if a else None
            r = ratio(av, ov)
            target, ok = "", None
            if k is not None:
                target = f"≥ {k}× faster" + ("" if mode_name == ASGIREF_TARGET_MODE else f" ({ASGIREF_TARGET_MODE} target)")
                if mode_name == ASGIREF_TARGET_MODE and r is not None:
                    ok = r >= k
                    verdicts.append(("asgiref", f"{an}: ours ≥ {k}× faster than asgiref", ok,
                                     f"asgiref {fmt_ns(av)} / ours {otext} ({fr(r)})"))
            lines.append(f"| {an} | {fmt_ns(av)} | {on}{' per call' if oper else ''} | {otext} | {fr(r)} | {target} | {verdict(ok)} |")
    return verdicts


def render_wrk(path, lines):
    """The kv_service wrk table (bench/load/wrk_kv.sh) and its targets, if the run has one."""
    try:
        with open(path) as f:
            w = json.load(f)
    except (OSError, ValueError):
        return []
    cells = {(r["variant"], r["connections"]): r for r in w.get("results", [])}
    per_cell = (f"median of {w['rounds']} rounds of {w.get('duration_s', '?')} s" if w.get("rounds")
                else f"{w.get('duration_s', '?')} s per cell")
    lines.append(f"\n### kv_service under wrk ({os.path.relpath(path, os.path.dirname(os.path.dirname(path)))}; "
                 f"{per_cell}; commands, per-round ratios, CPU per request and machine in wrk_kv.md)\n")
    lines.append("| connections | fiber req/s | coro req/s | fiber p50 ms | coro p50 ms | fiber p99 ms | coro p99 ms | "
                 f"target: fiber req/s ≥ coro, fiber p99 ≤ {WRK_P99_MAX_RATIO}× coro | verdict |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    verdicts = []
    for c in sorted({c for _, c in cells}):
        f, k = cells.get(("fiber", c), {}), cells.get(("coro", c), {})
        vals = [f.get("requests_per_s"), k.get("requests_per_s"), f.get("p99_ms"), k.get("p99_ms")]
        ok = None if None in vals else (vals[0] >= vals[1] and vals[2] <= WRK_P99_MAX_RATIO * vals[3])
        detail = "n/a" if ok is None else f"req/s {vals[0] / vals[1]:.2f}× coro, p99 {vals[2] / vals[3]:.2f}× coro"
        lines.append(f"| {c} | {f.get('requests_per_s')} | {k.get('requests_per_s')} | {f.get('p50_ms')} | {k.get('p50_ms')} | "
                     f"{f.get('p99_ms')} | {k.get('p99_ms')} | {detail} | {verdict(ok)} |")
        if ok is not None:
            verdicts.append(("wrk", f"kv_service, {c} connections: fiber req/s ≥ coro, p99 ≤ {WRK_P99_MAX_RATIO}× coro", ok, detail))
    return verdicts


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
             "Medians over repetitions (Google Benchmark `--benchmark_repetitions`, interleaved at random with the",
             "binary's other benchmarks since 2026-12-03-5), real time per operation; each ratio is computed against a",
             "baseline measured in the same binary and the same run. See README.md for the machine."]
    plotdata = {}
    allv = []
    for m in MODES:
        if any(data[m].values()):
            allv += [(m,) + v for v in render_mode(m, data[m], lines, plotdata)]
    allv += [("unpinned",) + v for v in render_wrk(os.path.join(a.dir, "wrk", "wrk_kv.json"), lines)]
    # Issue 12's "Must show" rows first, right under the title.
    head = ["\n### issue 12: fiber I/O as cheap as coroutine I/O (targets, one run)\n",
            "| mode | # | measure | values (median, same run) | verdict |", "|---|---|---|---|---|"]
    head += [f"| {m} | {rid} | {what.strip()} | {detail} | {verdict(ok)} |"
             for m, rid, what, ok, detail in allv if rid in ISSUE12_IDS]
    lines[4:4] = head
    lines.append("\n### all targets (issues 6 and 12)\n")
    lines.append("| mode | # | measure | verdict |")
    lines.append("|---|---|---|---|")
    for m, rid, what, ok, _ in allv:
        lines.append(f"| {m} | {rid} | {what.strip()} | {verdict(ok)} |")
    if a.previous:
        prev = {m: load_mode(os.path.join(a.previous, m)) for m in MODES}
        compare_previous(data, prev, lines)
    if headline(data, a.dir):
        lines.insert(4 + len(head), "\n![fiberbridge at a glance (unpinned)](headline.png)")
    if plot(plotdata, os.path.join(a.dir, "plot.png")):
        lines.append("\n![ours vs baselines](plot.png)")
    out = os.path.join(a.dir, "summary.md")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(out)


if __name__ == "__main__":
    main()
