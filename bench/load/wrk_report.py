#!/usr/bin/env python3
"""bench/load/wrk_report.py — the report of bench/load/wrk_kv.sh (run by it; not meant to be run alone).

usage: wrk_report.py RESULTS_TSV OUT_DIR   (the run's settings come in the environment, see wrk_kv.sh)

Reads one row per (variant, connection count, round) and writes OUT_DIR/wrk_kv.json and
OUT_DIR/wrk_kv.md. The figures of a variant at a connection count are medians over its rounds;
the verdict (fiber req/s ≥ coroutine req/s and fiber p99 ≤ 1.2× the coroutine's) compares those
medians, and the per-round ratios (each round ran both variants back to back) show how far one
round could have swung it. CPU per request is each service thread's utime + stime over the wrk
window divided by the requests wrk completed; threads are grouped by role: the runtime's
scheduler threads (kv-N), its sync thread (fb-sync) and everything else.
"""
import csv
import json
import os
import re
import statistics
import sys

P99_MAX_RATIO = 1.2


def ticks(field):
    """'name=ticks;name=ticks' -> {name: ticks}, names made unique by their order."""
    out, seen = {}, {}
    for part in filter(None, field.split(";")):
        name, _, t = part.rpartition("=")
        k = seen.get(name, 0)
        seen[name] = k + 1
        out[name if k == 0 else f"{name}#{k}"] = int(t)
    return out


def role(thread):
    if re.fullmatch(r"kv-\d+(#\d+)?", thread):
        return "scheduler"
    if thread.startswith("fb-sync"):
        return "sync"
    return "other"


def cpu_per_request(row, clk_tck):
    """{role: µs of CPU per request} over one wrk window, or None without a request count."""
    requests = float(row["requests"]) if row["requests"] else 0.0
    if requests <= 0:
        return None
    before, after = ticks(row["cpu_before"]), ticks(row["cpu_after"])
    us = {"scheduler": 0.0, "sync": 0.0, "other": 0.0}
    for name, t in after.items():
        us[role(name)] += (t - before.get(name, 0)) * 1e6 / clk_tck / requests
    us["total"] = sum(us.values())
    return us


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main():
    rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
    out = sys.argv[2]
    env = os.environ
    clk_tck = int(env.get("CLK_TCK", "100"))
    num = lambda v: float(v) if v else None
    runs = []
    for r in rows:
        runs.append({"variant": r["variant"], "connections": int(r["connections"]), "round": int(r["round"]),
                     "requests_per_s": num(r["rps"]), "p50_ms": num(r["p50_ms"]), "p99_ms": num(r["p99_ms"]),
                     "requests": num(r["requests"]), "errors": r["errors"].strip(),
                     "cpu_us_per_request": cpu_per_request(r, clk_tck),
                     "service_command": r["service_cmd"], "wrk_command": r["wrk_cmd"]})
    results = []
    for key in sorted({(r["variant"], r["connections"]) for r in runs}, key=lambda k: (k[1], k[0])):
        mine = [r for r in runs if (r["variant"], r["connections"]) == key]
        cpu = {k: median([(r["cpu_us_per_request"] or {}).get(k) for r in mine])
               for k in ("scheduler", "sync", "other", "total")}
        results.append({"variant": key[0], "connections": key[1], "rounds": len(mine),
                        "requests_per_s": median([r["requests_per_s"] for r in mine]),
                        "p50_ms": median([r["p50_ms"] for r in mine]), "p99_ms": median([r["p99_ms"] for r in mine]),
                        "cpu_us_per_request": cpu, "errors": "; ".join(r["errors"] for r in mine if r["errors"]),
                        "service_command": mine[0]["service_command"], "wrk_command": mine[0]["wrk_command"]})
    machine = {"nproc": int(env["NPROC"]), "uname": env["UNAME"], "cpu_model": env["CPU"], "date_utc": env["DATE"],
               "commit": env["COMMIT"], "wrk": env["WRK_VERSION"]}
    doc = {"benchmark": "kv_service GET /kv/key under wrk", "script": env["SELF"], "duration_s": int(env["DURATION"]),
           "rounds": int(env["ROUNDS"]), "warmup_s": int(env["WARMUP"]), "wrk_threads": int(env["WRK_THREADS"]),
           "service_threads": int(env["THREADS"]), "kv_service": env["BIN"], "machine": machine,
           "statistic": "median over rounds", "results": results, "runs": runs}
    with open(os.path.join(out, "wrk_kv.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    lines = markdown(doc)
    with open(os.path.join(out, "wrk_kv.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines[:8 + len({r["connections"] for r in results})]))


def markdown(doc):
    results, runs = doc["results"], doc["runs"]
    cell = {(r["variant"], r["connections"]): r for r in results}
    conns = sorted({r["connections"] for r in results})
    fmt = lambda v: "n/a" if v is None else f"{v:,.0f}" if v >= 1000 else f"{v:.3f}"
    cpu = lambda r: "n/a" if not r or r["cpu_us_per_request"]["total"] is None else (
        f"{r['cpu_us_per_request']['total']:.1f} ({r['cpu_us_per_request']['scheduler']:.1f} + "
        f"{r['cpu_us_per_request']['sync']:.1f} + {r['cpu_us_per_request']['other']:.1f})")
    L = ["# kv_service under wrk: fiber vs coroutine variant", "",
         f"GET /kv/key (one SQLite read on the sync thread per request), loopback, wrk -t{doc['wrk_threads']}, "
         f"kv_service --threads {doc['service_threads']}. Each figure is the **median of {doc['rounds']} rounds** of "
         f"{doc['duration_s']} s (after {doc['warmup_s']} s of warm-up, a fresh service per run); in each round both "
         "variants ran back to back, in alternating order.", "",
         "| connections | fiber req/s | coro req/s | fiber p50 ms | coro p50 ms | fiber p99 ms | coro p99 ms | "
         f"fiber req/s ≥ coro and fiber p99 ≤ {P99_MAX_RATIO}× coro |", "|---|---|---|---|---|---|---|---|"]
    for c in conns:
        f, k = cell.get(("fiber", c), {}), cell.get(("coro", c), {})
        v = [f.get("requests_per_s"), k.get("requests_per_s"), f.get("p99_ms"), k.get("p99_ms")]
        ok = "n/a" if None in v else (f"**{'met' if v[0] >= v[1] and v[2] <= P99_MAX_RATIO * v[3] else 'missed'}** "
                                      f"(req/s {v[0] / v[1]:.2f}×, p99 {v[2] / v[3]:.2f}×)")
        L.append(f"| {c} | {fmt(v[0])} | {fmt(v[1])} | {fmt(f.get('p50_ms'))} | {fmt(k.get('p50_ms'))} | "
                 f"{fmt(v[2])} | {fmt(v[3])} | {ok} |")
    L += ["", "Per round, fiber / coro (the two ran back to back):", "",
          "| connections | req/s ratio per round | p99 ratio per round |", "|---|---|---|"]
    for c in conns:
        by_round = {}
        for r in runs:
            if r["connections"] == c:
                by_round.setdefault(r["round"], {})[r["variant"]] = r
        rps, p99 = [], []
        for _, pair in sorted(by_round.items()):
            f, k = pair.get("fiber"), pair.get("coro")
            if f and k and f["requests_per_s"] and k["requests_per_s"]:
                rps.append(f"{f['requests_per_s'] / k['requests_per_s']:.2f}")
            if f and k and f["p99_ms"] and k["p99_ms"]:
                p99.append(f"{f['p99_ms'] / k['p99_ms']:.2f}")
        L.append(f"| {c} | {' '.join(rps) or 'n/a'} | {' '.join(p99) or 'n/a'} |")
    L += ["", "CPU time of the service per request, µs (median over rounds): total (scheduler threads + sync "
          "thread + other threads). wrk shares the same vCPUs, so CPU the service spends is CPU wrk does not get.", "",
          "| connections | fiber | coro |", "|---|---|---|"]
    for c in conns:
        L.append(f"| {c} | {cpu(cell.get(('fiber', c)))} | {cpu(cell.get(('coro', c)))} |")
    errs = [f"{r['variant']}, {r['connections']} connections, round {r['round']}: {r['errors']}" for r in runs
            if r["errors"]]
    if errs:
        L += ["", "wrk reported errors:", ""] + [f"- {e}" for e in errs]
    m = doc["machine"]
    L += ["", "## Machine", "", f"- date (UTC): {m['date_utc']}", f"- commit: {m['commit']}", f"- nproc: {m['nproc']}",
          f"- CPU: {m['cpu_model']}", f"- uname -a: `{m['uname']}`", f"- {m['wrk']}", "", "## Commands", "", "```sh",
          doc["script"]]
    for r in results:
        L += [f"# {r['variant']}, {r['connections']} connections, each of {r['rounds']} rounds",
              r["service_command"] + " &",
              "curl -X PUT --data-binary 'some value of moderate size' http://127.0.0.1:PORT/kv/key",
              f"wrk -t{doc['wrk_threads']} -c{r['connections']} -d{doc['warmup_s']}s http://127.0.0.1:PORT/kv/key   # warm-up",
              r["wrk_command"]]
    L += ["```", "", "Raw wrk output: raw/<variant>-c<connections>-r<round>.txt."]
    return L


if __name__ == "__main__":
    main()
