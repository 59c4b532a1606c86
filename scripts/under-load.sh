#!/usr/bin/env bash
# scripts/under-load.sh CMD [ARGS...] — runs CMD with one busy loop per CPU beside it, the way a
# shared CI machine is loaded by other work, and returns CMD's exit status. Tests must pass so:
# a bound that holds only on a quiet machine is a flaky test.
#
#   scripts/under-load.sh scripts/test.sh
#   scripts/under-load.sh scripts/ci-sanitizers.sh tsan
#
# Environment: FIBERBRIDGE_LOAD_CPUS (default: nproc) busy loops, at the default nice level.
set -uo pipefail
n=${FIBERBRIDGE_LOAD_CPUS:-$(nproc)}
((n >= 0)) || { echo "under-load: FIBERBRIDGE_LOAD_CPUS must be >= 0" >&2; exit 2; }
(($#)) || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }

pids=()
stop_load() {
  ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null
  wait "${pids[@]}" 2>/dev/null
  pids=()
}
trap stop_load EXIT
trap 'stop_load; exit 130' INT TERM
for ((i = 0; i < n; i++)); do
  bash -c 'while :; do :; done' &
  pids+=($!)
done
echo "under-load: $n busy loop(s) running beside: $*" >&2
"$@"
status=$?
stop_load
echo "under-load: done, exit status $status" >&2
exit "$status"
