#!/usr/bin/env bash
# bench/run.sh — the whole benchmark suite (issues 6 and 12) in one command.
#
#   bench/run.sh            build (Release), run every bench pinned (taskset -c 0) and unpinned,
#                           7 repetitions interleaved at random (medians), JSON into
#                           bench/results/<date>/, asgiref, compare with the previous run,
#                           render summary.md + plot.png.
#   bench/run.sh --smoke    CI: build, run each bench once with a tiny min time and tiny sizes,
#                           into a temporary directory; times nothing; fails if a bench fails.
#
# Environment: FIBERBRIDGE_BENCH_BUILD_DIR (default <repo>/build-bench), BENCH_REPETITIONS (7),
# BENCH_MIN_TIME (0.25 s per repetition),
# FB_SKYNET_LEAVES (10000), FB_SKYNET_FULL_LEAVES (1000000), BENCH_MEMORY_COUNT (100000),
# BENCH_MEMORY_1M (1: also check that 1,000,000 suspended fibers run, if memory allows).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${FIBERBRIDGE_BENCH_BUILD_DIR:-$root/build-bench}
smoke=0
for a in "$@"; do
  case "$a" in
    --smoke) smoke=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done

py=/usr/bin/python3   # Debian's python: python3-asgiref and python3-matplotlib live there
gbenches=(sync_to_async_bench async_to_sync_bench nested_bench throughput_bench fiber_ops_bench context_bench
          coro_bench io_bench)   # the last two: fiber vs coroutine variant (issues 7 and 12)

if [ "$smoke" = 0 ]; then
  # The asgiref baseline and the plot; without root this only reports what is missing.
  FIBERBRIDGE_EXTRA_PKGS="python3-asgiref python3-matplotlib" "$root/scripts/deps.sh" ||
    echo "run.sh: continuing without the missing packages (no asgiref row or no plot)" >&2
fi

echo "== build ($build)"
if [ "$smoke" = 1 ] && [ -f "$build/CMakeCache.txt" ]; then
  # CI may point FIBERBRIDGE_BENCH_BUILD_DIR at its own build: keep its type and options (smoke times nothing).
  cmake -S "$root" -B "$build" -DFIBERBRIDGE_BUILD_BENCH=ON >/dev/null || exit 1
else
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFIBERBRIDGE_BUILD_BENCH=ON \
        -DFIBERBRIDGE_BUILD_TESTS=OFF -DFIBERBRIDGE_BUILD_EXAMPLES=OFF >/dev/null || exit 1
fi
cmake --build "$build" -j"$(nproc)" --target "${gbenches[@]}" memory_bench idle_bench alloc_bench || exit 1
bin=$build/bench

if [ "$smoke" = 1 ]; then
  out=$(mktemp -d /tmp/fiberbridge-bench-smoke.XXXXXX)
  modes=(unpinned)
  gargs=(--benchmark_min_time=0.001 --benchmark_repetitions=1)
  export FB_SKYNET_LEAVES=100 FB_SKYNET_FULL_LEAVES=1000
  mem_count=1000; idle_s=0.05; asg_args=(--calls 20 --reps 1); per_bin_timeout=60; alloc_ops=20
else
  day=$(date +%Y-%m-%d)
  out=$here/results/$day
  n=2
  while [ -e "$out" ]; do out=$here/results/$day-$n; n=$((n + 1)); done
  modes=(pinned unpinned)
  # Repetitions interleaved at random with the other benchmarks of the binary: this VM drifts by
  # 10-20 % within a minute, and back-to-back repetitions of one benchmark measured whichever
  # moment it ran in (P6 spawn+join read 806 ns and its identical "bare" twin 566 ns in one run).
  # Shorter repetitions keep the total time as before.
  gargs=(--benchmark_repetitions="${BENCH_REPETITIONS:-7}" --benchmark_min_time="${BENCH_MIN_TIME:-0.25}"
         --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true)
  export FB_SKYNET_LEAVES=${FB_SKYNET_LEAVES:-10000} FB_SKYNET_FULL_LEAVES=${FB_SKYNET_FULL_LEAVES:-1000000}
  mem_count=${BENCH_MEMORY_COUNT:-100000}; idle_s=1; asg_args=(--calls 2000 --reps 5); per_bin_timeout=1800
  alloc_ops=2000
fi
mkdir -p "$out"
echo "== results: $out"
failed=()
t_start=$SECONDS

run() {  # run <name> <logfile> <cmd...>: records a failure instead of stopping the suite
  local name=$1 log=$2; shift 2
  local t0=$SECONDS
  if timeout "$per_bin_timeout" "$@" >"$log" 2>&1; then
    echo "   ok   $name ($((SECONDS - t0)) s)"
  else
    echo "   FAIL $name (exit $?, $((SECONDS - t0)) s): see $log"
    failed+=("$name")
  fi
}

for mode in "${modes[@]}"; do
  echo "== $mode"
  d=$out/$mode
  mkdir -p "$d"
  pin=()
  [ "$mode" = pinned ] && pin=(taskset -c 0)
  for b in "${gbenches[@]}"; do
    run "$mode/$b" "$d/$b.log" "${pin[@]}" "$bin/$b" "${gargs[@]}" --benchmark_format=json \
        --benchmark_out="$d/$b.json" --benchmark_out_format=json
  done
  run "$mode/idle_bench" "$d/idle.log" "${pin[@]}" "$bin/idle_bench" --seconds "$idle_s"
  [ -s "$d/idle.log" ] && grep '^{' "$d/idle.log" >"$d/idle.json"
  # Memory does not depend on placement: measured once, in the unpinned run.
  if [ "$mode" = unpinned ]; then
    run "alloc_bench" "$d/alloc.json" "$bin/alloc_bench" --ops "$alloc_ops"
    run "memory_bench" "$d/memory.log" "$bin/memory_bench" --count "$mem_count"
    [ -s "$d/memory.log" ] && sed -n '/^{"kind":"memory"/,$p' "$d/memory.log" >"$d/memory.json"
    if [ "$smoke" = 0 ] && [ "${BENCH_MEMORY_1M:-1}" = 1 ]; then
      # 1,000,000 suspended fibers must run: only if MemAvailable covers 1.5x the 100k estimate.
      need=$("$py" - "$d/memory.json" <<'EOF'
import json, sys
try:
    r = [x for x in json.load(open(sys.argv[1]))["results"] if x["variant"] == "ours"][0]
    per = r["rss_bytes_per_fiber"] if r.get("reached", 0) > 0 else 16384
except Exception:
    per = 16384
print(int(max(per, 4096) * 1_000_000 * 1.5))
EOF
)
      avail=$(( $(awk '/MemAvailable/ {print $2}' /proc/meminfo) * 1024 ))
      if [ "$need" -lt "$avail" ]; then
        run "memory_bench 1M" "$d/memory_1m.log" "$bin/memory_bench" --count 1000000 --variants ours --timeout-s 300
        [ -s "$d/memory_1m.log" ] && sed -n '/^{"kind":"memory"/,$p' "$d/memory_1m.log" >"$d/memory_1m.json"
      else
        echo "   skip memory_bench 1M: needs about $((need >> 20)) MiB, $((avail >> 20)) MiB available"
      fi
    fi
  fi
  run "$mode/asgiref_bench.py" "$d/asgiref.json" "${pin[@]}" "$py" "$here/asgiref_bench.py" "${asg_args[@]}"
done
echo "== suite took $((SECONDS - t_start)) s"

if [ "$smoke" = 0 ]; then
  prev=$(ls -d "$here"/results/20*/ 2>/dev/null | sed 's:/$::' | grep -v "^$out\$" | sort | tail -n 1)
  if [ -n "$prev" ]; then
    echo "== compare with $prev"
    if "$py" -c 'import scipy' 2>/dev/null; then
      for mode in "${modes[@]}"; do
        for b in "${gbenches[@]}"; do
          [ -f "$prev/$mode/$b.json" ] && [ -f "$out/$mode/$b.json" ] &&
            "$py" /usr/share/benchmark/compare.py benchmarks "$prev/$mode/$b.json" "$out/$mode/$b.json" \
              >"$out/$mode/compare_$b.txt" 2>&1
        done
      done
      "$py" "$here/render.py" "$out" || failed+=(render)
    else
      echo "   compare.py needs python3-scipy (not installable next to libboost1.81-dev on Debian 12):"
      echo "   render.py prints a plain median comparison instead"
      "$py" "$here/render.py" "$out" --previous "$prev" || failed+=(render)
    fi
  else
    "$py" "$here/render.py" "$out" || failed+=(render)
  fi
  echo "== $out/summary.md"
else
  "$py" "$here/render.py" "$out" >/dev/null || failed+=(render)
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "== FAILED: ${failed[*]}"
  exit 1
fi
echo "== all benches ran"
