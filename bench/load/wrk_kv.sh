#!/usr/bin/env bash
# bench/load/wrk_kv.sh — examples/kv_service under wrk on loopback: fiber vs coroutine variant.
#
# usage: bench/load/wrk_kv.sh OUT_DIR [KV_SERVICE_BINARY]
#   OUT_DIR            where the results go, created if needed; by convention next to the run of
#                      bench/run.sh they belong to: bench/results/<date>/wrk (render.py then adds the
#                      wrk targets to that run's summary.md).
#   KV_SERVICE_BINARY  default: the first of build-rel/, build/, build-bench/ examples/kv_service/kv_service
#                      (Release: cmake --build build-rel --target kv_service).
#   env: CONNECTIONS="10 50 200"  ROUNDS=5  DURATION=5 (s per round)  WARMUP=1 (s of wrk before
#        each round, not recorded)  WRK_THREADS=2  THREADS=2 (kv_service --threads)
#        VARIANTS="fiber coro"
#
# example: cmake --build build-rel --target kv_service &&
#          bench/load/wrk_kv.sh bench/results/$(date +%F)/wrk build-rel/examples/kv_service/kv_service
#
# For each connection count, ROUNDS rounds; in each round every variant once, in an order that
# alternates between rounds (this VM drifts by ±15 % within a minute: one long cell per variant
# compared whichever ran in the better moment). Each run: a fresh kv_service (port 0, :memory:
# database), one key stored, warm-up, then `GET /kv/key` (one SQLite read on the sync thread per
# request) for DURATION seconds with `wrk --latency`, and the CPU time of each service thread
# over that window (/proc/PID/task/*/stat), per request. The figures per variant are medians
# over the rounds; wrk_report.py writes OUT_DIR/wrk_kv.md (table, targets: fiber req/s ≥
# coroutine req/s and fiber p99 ≤ 1.2× the coroutine's at each count, the per-round ratios,
# CPU per request by thread, the exact commands; nproc, uname -a, CPU model, date, commit),
# OUT_DIR/wrk_kv.json (the same as data) and OUT_DIR/raw/<variant>-c<N>-r<round>.txt (wrk's own
# output).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
usage() { sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
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
duration=${DURATION:-5}
rounds=${ROUNDS:-5}
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

# CPU ticks (utime + stime) of each thread of process $1, as "name=ticks" lines.
thread_ticks() {
  local t name rest
  for t in /proc/"$1"/task/*; do
    name=$(cat "$t/comm" 2>/dev/null) || continue
    rest=$(sed 's/^.*) //' "$t/stat" 2>/dev/null) || continue  # the fields after "pid (comm) "
    awk -v n="$name" '{ print n "=" ($12 + $13) }' <<<"$rest"
  done
}

printf 'variant\tconnections\tround\trps\tp50_ms\tp99_ms\trequests\terrors\tcpu_before\tcpu_after\tservice_cmd\twrk_cmd\n' >"$tmp/results.tsv"
read -r -a order <<<"$variants"
for c in $conns; do
  for round in $(seq 1 "$rounds"); do
    list=("${order[@]}")
    if (( round % 2 == 0 )); then  # the other order in every second round
      list=(); for (( i = ${#order[@]} - 1; i >= 0; i-- )); do list+=("${order[i]}"); done
    fi
    for variant in "${list[@]}"; do
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
      raw="$out/raw/$variant-c$c-r$round.txt"
      before=$(thread_ticks "$pid" | paste -sd';')
      timeout $((duration + 30)) "${cmd[@]}" >"$raw" 2>&1 || true
      after=$(thread_ticks "$pid" | paste -sd';')
      stop_service
      rps=$(awk '/^Requests\/sec:/ { print $2 }' "$raw")
      p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$raw")")
      p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$raw")")
      requests=$(awk '/requests in/ { print $1 }' "$raw")
      errors=$(grep -E "Non-2xx|Socket errors" "$raw" | tr -s ' \n' ' ' || true)
      [[ -n "$errors" ]] && echo "note ($variant, $c connections, round $round): $errors" >&2
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$variant" "$c" "$round" "$rps" "$p50" "$p99" \
        "$requests" "$errors" "$before" "$after" "${svc[*]}" "${cmd[*]}" >>"$tmp/results.tsv"
      echo "$variant c=$c round $round: ${rps:-?} req/s, p50 ${p50:-?} ms, p99 ${p99:-?} ms"
    done
  done
done

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]] || commit="$commit (dirty)"
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n1)
[[ -n "$cpu" ]] || cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)
SELF="bench/load/wrk_kv.sh $*" NPROC=$(nproc) UNAME=$(uname -a) CPU=$cpu DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) \
COMMIT=$commit WRK_VERSION=$(wrk -v 2>&1 | head -n1) DURATION=$duration WARMUP=$warmup WRK_THREADS=$wrk_threads \
THREADS=$threads ROUNDS=$rounds CLK_TCK=$(getconf CLK_TCK) BIN=$bin "$py" "$here/wrk_report.py" "$tmp/results.tsv" "$out"
echo "wrote $out/wrk_kv.md and $out/wrk_kv.json"
