"""The pictures of a results directory (matplotlib, Agg), used by render.py:

  headline.png         unpinned; what the README shows: fiberbridge's fiber and coroutine variants
  headline_pinned.png  against asgiref, Boost.Asio alone and the raw limit on P1-P4, one `post`
                       completion and a 64-byte TCP ping-pong (1-thread runtimes). Few horizontal
                       bars with large labels, log scale, each bar labelled with its value; a
                       measurement missing from the run is left out (a group with none is dropped).
  plot.png             every summary row vs its first baseline, pinned and unpinned side by side.
"""
import os
import sys

# Series of the headline, in drawing order: key, legend label, colour.
SERIES = [
    ("fiber", "fiberbridge, fiber variant", "#1f77b4"),
    ("coro", "fiberbridge, coroutine variant", "#ff7f0e"),
    ("asio", "Boost.Asio coroutines alone", "#2ca02c"),
    ("asgiref", "asgiref (Python)", "#d62728"),
    ("raw", "raw limit: bare futex or spin hand-off (faster one)", "#7f7f7f"),
]

# Groups: label ({P12}: P1 pinned, P2 unpinned), {series: candidates}. A Google Benchmark candidate
# is (bench, run name); the first one present is used, except for "raw", which takes the fastest
# present. "asgiref" names a row of asgiref.json. The fiber variant comes from the binary that
# measures the coroutine variant (same binary, same sweep) when it ran, else from the claim's bench.
GROUPS = [
    ("sync_to_async\n({P12})", {
        "fiber": [("coro_bench", "P1_fiber_sync_to_async"), ("sync_to_async_bench", "BM_S2A_ThreadSensitive/rt_threads:1")],
        "coro": [("coro_bench", "P1_coro_sync_to_async")],
        "asio": [("sync_to_async_bench", "BM_AsioOffload")],
        "asgiref": "sync_to_async",
        "raw": [("sync_to_async_bench", "BM_RawFutexRT/rts:1"), ("sync_to_async_bench", "BM_SpinRT/rts:1")]}),
    ("async_to_sync\nfrom a thread (P3)", {
        "fiber": [("coro_bench", "P3_fiber_async_to_sync"), ("async_to_sync_bench", "BM_A2S_Trivial/rt_threads:1")],
        "coro": [("coro_bench", "P3_coro_async_to_sync")],
        "asio": [("async_to_sync_bench", "BM_AsioCoSpawnFuture"), ("coro_bench", "P3_asio_co_spawn_use_future")],
        "asgiref": "async_to_sync",
        "raw": [("async_to_sync_bench", "BM_RawFutexRT/rts:1"), ("async_to_sync_bench", "BM_SpinRT/rts:1")]}),
    ("nested\na2s → s2a (P4)", {
        "fiber": [("coro_bench", "P4_fiber_nested"), ("nested_bench", "BM_Nested/rt_threads:1")],
        "coro": [("coro_bench", "P4_coro_nested")],
        "asgiref": "nested",
        "raw": [("nested_bench", "BM_RawFutexRT/rts:2"), ("nested_bench", "BM_SpinRT/rts:2")]}),
    ("one Asio post\ncompletion", {
        "fiber": [("io_bench", "IO_post/fiber/threads:1")],
        "coro": [("io_bench", "IO_post/coro/threads:1")],
        "asio": [("io_bench", "IO_post/asio/threads:1")]}),
    ("TCP ping-pong\n64 B, loopback", {
        "fiber": [("io_bench", "IO_tcp_pingpong/fiber/threads:1")],
        "coro": [("io_bench", "IO_tcp_pingpong/coro/threads:1")],
        "asio": [("io_bench", "IO_tcp_pingpong/asio/threads:1")]}),
]


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        print("render.py: matplotlib missing (FIBERBRIDGE_EXTRA_PKGS=python3-matplotlib scripts/deps.sh): no plot",
              file=sys.stderr)
        return None


def _short_ns(v, _pos=None):
    for unit, scale in (("ms", 1e6), ("µs", 1e3)):
        if v >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v:.3g} ns"


def _gb_ns(mode, bench, name):
    e = mode["gb"].get(bench, {}).get(name)
    return e["ns"] if e and "ns" in e else None


def headline_values(mode, mode_name):
    """[(group label, [(series key, ns)...])] of one mode, missing values left out."""
    asg = {r["name"]: r["median_ns"] for r in (mode.get("asgiref") or {}).get("results", [])}
    out = []
    for label, spec in GROUPS:
        bars = []
        for key, _, _ in SERIES:
            src = spec.get(key)
            if src is None:
                continue
            if key == "asgiref":
                v = asg.get(src)
            else:
                vals = [v for v in (_gb_ns(mode, b, n) for b, n in src) if v is not None]
                v = (min(vals) if key == "raw" else vals[0]) if vals else None
            if v is not None:
                bars.append((key, v))
        if bars:
            out.append((label.replace("{P12}", "P1" if mode_name == "pinned" else "P2"), bars))
    return out


def headline_one(plt, groups, title, path):
    from matplotlib.ticker import FuncFormatter
    colors = {k: c for k, _, c in SERIES}
    y, ticks, ticklabels, drawn = 0.0, [], [], set()
    nbars = sum(len(b) for _, b in groups)
    fig, ax = plt.subplots(figsize=(12, 0.4 * nbars + 0.4 * len(groups) + 1.2))
    for label, bars in groups:
        start = y
        for key, v in bars:
            ax.barh(y, v, height=0.85, color=colors[key], label=None if key in drawn else key)
            drawn.add(key)
            ax.text(v * 1.08, y, _short_ns(v), va="center", fontsize=13)
            y += 1
        ticks.append((start + y - 1) / 2)
        ticklabels.append(label)
        y += 0.9
    ax.set_yticks(ticks)
    ax.set_yticklabels(ticklabels, fontsize=16)
    ax.invert_yaxis()
    ax.set_xscale("log")
    lo = min(v for _, b in groups for _, v in b)
    hi = max(v for _, b in groups for _, v in b)
    ax.set_xlim(lo / 2, hi * 6)  # room for the value labels
    ax.xaxis.set_major_formatter(FuncFormatter(_short_ns))
    ax.tick_params(axis="x", labelsize=14)
    io_note = "\nI/O rows: 1-thread runtime; both ends of the TCP connection on it"
    ax.set_xlabel("time per operation (median, log scale): shorter is better" +
                  (io_note if any("TCP" in g or "post" in g for g, _ in groups) else ""), fontsize=15)
    ax.set_title(title, fontsize=18)
    handles, keys = ax.get_legend_handles_labels()
    names = {k: n for k, n, _ in SERIES}
    order = [keys.index(k) for k, _, _ in SERIES if k in keys]
    ax.legend([handles[i] for i in order], [names[keys[i]] for i in order], fontsize=14, ncol=2,
              loc="upper center", frameon=False,
              bbox_to_anchor=(0.4, -1.15 / (ax.get_position().height * fig.get_figheight())))  # 1.15 in below
    ax.grid(axis="x", which="major", alpha=0.3)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def headline(data, out_dir):
    """Writes headline.png (unpinned) and headline_pinned.png; True if headline.png was written."""
    plt = _pyplot()
    if plt is None:
        return False
    wrote = False
    for mode_name, fn, where in (("unpinned", "headline.png", "no pinning, 2 vCPUs"),
                                 ("pinned", "headline_pinned.png", "every thread on one vCPU")):
        groups = headline_values(data.get(mode_name, {"gb": {}}), mode_name)
        if not groups:
            continue
        headline_one(plt, groups, f"fiberbridge vs asgiref, Asio and the raw limit ({where})",
                     os.path.join(out_dir, fn))
        wrote = wrote or mode_name == "unpinned"
    return wrote


def plot(plotdata, path):
    plt = _pyplot()
    if plt is None:
        return False
    modes = [m for m in ("pinned", "unpinned") if m in plotdata]
    if not modes:
        return False
    fig, axes = plt.subplots(1, len(modes), figsize=(13 * len(modes), 0.6 * max(len(plotdata[m]) for m in modes) + 2),
                             squeeze=False)
    for ax, m in zip(axes[0], modes):
        rows = plotdata[m]
        labels = [r[0] for r in rows]
        y = range(len(rows))
        ax.barh([i - 0.2 for i in y], [r[1] for r in rows], height=0.4, label="fiberbridge", color="tab:blue")
        first_base = [next((v for _, v in r[2] if v is not None), None) for r in rows]
        ax.barh([i + 0.2 for i in y], [v or 0 for v in first_base], height=0.4, label="first baseline", color="tab:gray")
        ax.set_yticks(list(y))
        ax.set_yticklabels(labels, fontsize=10)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.tick_params(axis="x", labelsize=11)
        ax.set_xlabel("ns (median; per call / per fiber where noted), log scale", fontsize=12)
        ax.set_title(f"{m}: fiberbridge vs baseline", fontsize=14)
        ax.legend(fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
