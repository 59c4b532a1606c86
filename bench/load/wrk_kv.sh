#!/usr/bin/env bash
# wrk_kv.sh [KV_SERVICE_BINARY] — load test of examples/kv_service, fiber vs coroutine variant,
# with wrk on loopback. For each variant and connection count: start the service (port 0,
# :memory: db, --threads 2), store one key, drive `GET /kv/key` (a SQLite read on the sync
# thread per request) for DURATION seconds, and record requests/s, p50 and p99 latency.
# Prints a side-by-side table; writes bench/results/wrk_kv.md and bench/results/wrk_kv.json.
#   env: CONNECTIONS="10 50 200"  DURATION=5  WRK_THREADS=2  THREADS=2
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-}
if [[ -z "$bin" ]]; then
  for c in "$root/../build-asio/kv/kv_service" "$root/build/examples/kv_service/kv_service" "$root/build/examples/kv_service"; do
    [[ -x "$c" && -f "$c" ]] && bin=$c && break
  done
fi
[[ -n "$bin" && -x "$bin" ]] || { echo "usage: wrk_kv.sh path/to/kv_service (build target kv_service first)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
conns=${CONNECTIONS:-"10 50 200"}
duration=${DURATION:-5}
wrk_threads=${WRK_THREADS:-2}
threads=${THREADS:-2}
out="$root/bench/results"
mkdir -p "$out"
tmp=$(mktemp -d)
pid=""
cleanup() { [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

to_ms() {  # wrk latency like 1.23ms / 456.00us / 1.2s -> milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

declare -A rps p50 p99
for variant in fiber coro; do
  for c in $conns; do
    "$bin" --variant "$variant" --port 0 --threads "$threads" >"$tmp/out" 2>"$tmp/err" &
    pid=$!
    for _ in $(seq 1 200); do head -n1 "$tmp/out" 2>/dev/null | grep -q '^listening' && break; sleep 0.05; done
    port=$(head -n1 "$tmp/out" | sed 's/.*://')
    [[ -n "$port" ]] || { echo "kv_service did not start: $(cat "$tmp/err")" >&2; exit 1; }
    curl -s -m 5 -X PUT --data-binary 'some value of moderate size' "http://127.0.0.1:$port/kv/key" >/dev/null
    timeout $((duration + 30)) wrk -t "$wrk_threads" -c "$c" -d "${duration}s" --timeout 5s --latency \
      "http://127.0.0.1:$port/kv/key" >"$tmp/wrk" 2>&1 || true
    kill -TERM "$pid"; wait "$pid" || true; pid=""
    rps[$variant,$c]=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk")
    p50[$variant,$c]=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$tmp/wrk")")
    p99[$variant,$c]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$tmp/wrk")")
    errors=$(grep -E "Non-2xx|Socket errors" "$tmp/wrk" || true)
    [[ -n "$errors" ]] && echo "note ($variant, $c connections): $errors" >&2
  done
done

{
  echo "# kv_service under wrk: fiber vs coroutine variant"
  echo
  echo "GET /kv/key (one SQLite read on the sync thread per request), loopback, ${duration}s per cell,"
  echo "wrk -t$wrk_threads, kv_service --threads $threads, $(nproc) vCPUs, $(date -u +%Y-%m-%dT%H:%MZ)."
  echo
  echo "| connections | fiber req/s | coro req/s | fiber p50 ms | coro p50 ms | fiber p99 ms | coro p99 ms |"
  echo "|---|---|---|---|---|---|---|"
  for c in $conns; do
    echo "| $c | ${rps[fiber,$c]} | ${rps[coro,$c]} | ${p50[fiber,$c]} | ${p50[coro,$c]} | ${p99[fiber,$c]} | ${p99[coro,$c]} |"
  done
} | tee "$out/wrk_kv.md"

{
  echo "{"
  echo "  \"benchmark\": \"kv_service GET /kv/key under wrk\", \"duration_s\": $duration, \"wrk_threads\": $wrk_threads, \"service_threads\": $threads,"
  echo "  \"results\": ["
  first=1
  for variant in fiber coro; do
    for c in $conns; do
      [[ $first -eq 1 ]] || echo ","
      first=0
      printf '    {"variant": "%s", "connections": %s, "requests_per_s": %s, "p50_ms": %s, "p99_ms": %s}' \
        "$variant" "$c" "${rps[$variant,$c]:-null}" "${p50[$variant,$c]:-null}" "${p99[$variant,$c]:-null}"
    done
  done
  echo
  echo "  ]"
  echo "}"
} >"$out/wrk_kv.json"
echo "wrote $out/wrk_kv.md and $out/wrk_kv.json"
