#!/usr/bin/env bash
# bench/load/wrk_kv.sh — examples/kv_service under wrk on loopback: fiber vs coroutine variant.
#
# usage: bench/load/wrk_kv.sh OUT_DIR [KV_SERVICE_BINARY]
#   OUT_DIR            where the results go, created if needed; by convention next to the run of
#                      bench/run.sh they belong to: bench/results/<date>/wrk (render.py then adds the
#                      wrk targets to that run's summary.md).
#   KV_SERVICE_BINARY  default: the first of build-rel/, build/, build-bench/ examples/kv_service/kv_service
#                      (Release: cmake --build build-rel --target kv_service).
#   env: CONNECTIONS="10 50 200"  DURATION=10 (s per cell)  WARMUP=1 (s of wrk before each cell,
#        not recorded)  WRK_THREADS=2  THREADS=2 (kv_service --threads)  VARIANTS="fiber coro"
#
# example: cmake --build build-rel --target kv_service &&
#          bench/load/wrk_kv.sh bench/results/$(date +%F)/wrk build-rel/examples/kv_service/kv_service
#
# For each connection count, then each variant (interleaved, so drift hits both alike): start a
# fresh kv_service (port 0, :memory: database), store one key, warm up, then drive `GET /kv/key`
# (one SQLite read on the sync thread per request) for DURATION seconds with `wrk --latency`.
# Writes OUT_DIR/wrk_kv.md (table, targets: fiber req/s ≥ coroutine req/s and fiber p99 ≤ 1.2× the
# coroutine's at each count; the exact commands; nproc, uname -a, CPU model, date, commit),
# OUT_DIR/wrk_kv.json (the same as data) and OUT_DIR/raw/<variant>-c<N>.txt (wrk's own output).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 && "$1" != -h && "$1" != --help ]] || usage
out=$1
bin=${2:-}
if [[ -z "$bin" ]]; then
  for c in "$root"/build-rel "$root"/build "$root"/build-bench; do
    [[ -x "$c/examples/kv_service/kv_service" ]] && bin=$c/examples/kv_service/kv_service && break
  done
fi
[[ -n "$bin" && -x "$bin" && -f "$bin" ]] || { echo "wrk_kv.sh: no kv_service binary (build target kv_service, or pass its path)" >&2; usage; }
command -v wrk >/dev/null || { echo "wrk_kv.sh: wrk not found (apt-get install wrk)" >&2; exit 2; }
command -v curl >/dev/null || { echo "wrk_kv.sh: curl not found" >&2; exit 2; }
py=$(command -v /usr/bin/python3 || command -v python3)
conns=${CONNECTIONS:-"10 50 200"}
duration=${DURATION:-10}
warmup=${WARMUP:-1}
wrk_threads=${WRK_THREADS:-2}
threads=${THREADS:-2}
variants=${VARIANTS:-"fiber coro"}
mkdir -p "$out/raw"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
pid=""
cleanup() { [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

to_ms() {  # wrk latency like 1.23ms / 456.00us / 1.2s -> milliseconds
  awk -v v="$1" 'BEGIN { if (v == "") exit; n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
                         else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

stop_service() {
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
}

printf 'variant\tconnections\trps\tp50_ms\tp99_ms\terrors\tservice_cmd\twrk_cmd\n' >"$tmp/results.tsv"
for c in $conns; do
  for variant in $variants; do
    svc=("$bin" --variant "$variant" --port 0 --db :memory: --threads "$threads")
    "${svc[@]}" >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    for _ in $(seq 1 200); do head -n1 "$tmp/out" 2>/dev/null | grep -q '^listening' && break; sleep 0.05; done
    port=$(head -n1 "$tmp/out" | sed -n 's/^listening on .*://p')
    [[ -n "$port" ]] || { echo "kv_service ($variant) did not start: $(cat "$tmp/err")" >&2; exit 1; }
    url="http://127.0.0.1:$port/kv/key"
    curl -sf -m 5 -X PUT --data-binary 'some value of moderate size' "$url" >/dev/null
    [[ "$warmup" == 0 ]] || wrk -t "$wrk_threads" -c "$c" -d "${warmup}s" "$url" >/dev/null 2>&1 || true
    cmd=(wrk -t "$wrk_threads" -c "$c" -d "${duration}s" --timeout 5s --latency "$url")
    raw="$out/raw/$variant-c$c.txt"
    timeout $((duration + 30)) "${cmd[@]}" >"$raw" 2>&1 || true
    stop_service
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$raw")
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$raw")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$raw")")
    errors=$(grep -E "Non-2xx|Socket errors" "$raw" | tr -s ' \n' ' ' || true)
    [[ -n "$errors" ]] && echo "note ($variant, $c connections): $errors" >&2
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$variant" "$c" "$rps" "$p50" "$p99" "$errors" \
      "${svc[*]}" "${cmd[*]}" >>"$tmp/results.tsv"
    echo "$variant c=$c: ${rps:-?} req/s, p50 ${p50:-?} ms, p99 ${p99:-?} ms"
  done
done

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]] || commit="$commit (dirty)"
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n1)
[[ -n "$cpu" ]] || cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)
SELF="bench/load/wrk_kv.sh $*" NPROC=$(nproc) UNAME=$(uname -a) CPU=$cpu DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) \
COMMIT=$commit WRK_VERSION=$(wrk -v 2>&1 | head -n1) DURATION=$duration WARMUP=$warmup WRK_THREADS=$wrk_threads \
THREADS=$threads BIN=$bin "$py" - "$tmp/results.tsv" "$out" <<'EOF'
import csv, json, os, sys

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
out = sys.argv[2]
env = os.environ
num = lambda v: float(v) if v else None
results = [{"variant": r["variant"], "connections": int(r["connections"]), "requests_per_s": num(r["rps"]),
            "p50_ms": num(r["p50_ms"]), "p99_ms": num(r["p99_ms"]), "errors": r["errors"].strip(),
            "service_command": r["service_cmd"], "wrk_command": r["wrk_cmd"]} for r in rows]
machine = {"nproc": int(env["NPROC"]), "uname": env["UNAME"], "cpu_model": env["CPU"], "date_utc": env["DATE"],
           "commit": env["COMMIT"], "wrk": env["WRK_VERSION"]}
doc = {"benchmark": "kv_service GET /kv/key under wrk", "script": env["SELF"], "duration_s": int(env["DURATION"]),
       "warmup_s": int(env["WARMUP"]), "wrk_threads": int(env["WRK_THREADS"]), "service_threads": int(env["THREADS"]),
       "kv_service": env["BIN"], "machine": machine, "results": results}
with open(os.path.join(out, "wrk_kv.json"), "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")

cell = {(r["variant"], r["connections"]): r for r in results}
fmt = lambda v: "n/a" if v is None else f"{v:,.2f}" if v >= 1000 else f"{v:.3f}"
L = ["# kv_service under wrk: fiber vs coroutine variant", "",
     f"GET /kv/key (one SQLite read on the sync thread per request), loopback, {doc['duration_s']} s per cell after "
     f"{doc['warmup_s']} s of warm-up, a fresh service per cell, wrk -t{doc['wrk_threads']}, "
     f"kv_service --threads {doc['service_threads']}.", "",
     "| connections | fiber req/s | coro req/s | fiber p50 ms | coro p50 ms | fiber p99 ms | coro p99 ms | "
     "fiber req/s ≥ coro and fiber p99 ≤ 1.2× coro |", "|---|---|---|---|---|---|---|---|"]
for c in sorted({r["connections"] for r in results}):
    f, k = cell.get(("fiber", c), {}), cell.get(("coro", c), {})
    v = [f.get("requests_per_s"), k.get("requests_per_s"), f.get("p99_ms"), k.get("p99_ms")]
    ok = "n/a" if None in v else (f"**{'met' if v[0] >= v[1] and v[2] <= 1.2 * v[3] else 'missed'}** "
                                  f"(req/s {v[0] / v[1]:.2f}×, p99 {v[2] / v[3]:.2f}×)")
    L.append(f"| {c} | {fmt(v[0])} | {fmt(v[1])} | {fmt(f.get('p50_ms'))} | {fmt(k.get('p50_ms'))} | "
             f"{fmt(v[2])} | {fmt(v[3])} | {ok} |")
errs = [f"{r['variant']}, {r['connections']} connections: {r['errors']}" for r in results if r["errors"]]
if errs:
    L += ["", "wrk reported errors:", ""] + [f"- {e}" for e in errs]
L += ["", "## Machine", "", f"- date (UTC): {machine['date_utc']}", f"- commit: {machine['commit']}",
      f"- nproc: {machine['nproc']}", f"- CPU: {machine['cpu_model']}", f"- uname -a: `{machine['uname']}`",
      f"- {machine['wrk']}", "", "## Commands", "", "```sh", doc["script"]]
for r in results:
    L += [f"# {r['variant']}, {r['connections']} connections", r["service_command"] + " &",
          "curl -X PUT --data-binary 'some value of moderate size' http://127.0.0.1:PORT/kv/key",
          f"wrk -t{doc['wrk_threads']} -c{r['connections']} -d{doc['warmup_s']}s http://127.0.0.1:PORT/kv/key   # warm-up",
          r["wrk_command"]]
L += ["```", "", "Raw wrk output: raw/<variant>-c<connections>.txt."]
with open(os.path.join(out, "wrk_kv.md"), "w") as f:
    f.write("\n".join(L) + "\n")
print("\n".join(L[:6 + len({r['connections'] for r in results})]))
EOF
echo "wrote $out/wrk_kv.md and $out/wrk_kv.json"
