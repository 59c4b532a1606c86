#!/usr/bin/env bash
# scripts/ci-sanitizers.sh asan|tsan [ctest args...] — the whole test suite under a sanitizer.
#
#   asan: AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer
#   tsan: ThreadSanitizer
#
# Builds (or reuses) Boost Context+Fiber for the sanitizer (scripts/sanitizer-boost.sh), configures
# and builds the CMake preset of the same name in build/<asan|tsan>, and runs ctest on it. Extra
# arguments go to ctest (for example `-L example` or `-E stress`). Environment: JOBS (default 2);
# ASAN_OPTIONS / UBSAN_OPTIONS / TSAN_OPTIONS given by the caller are appended to ours (the
# caller's settings win).
set -euo pipefail

kind=${1:-}
case "$kind" in
  asan | tsan) shift ;;
  *) echo "usage: $0 asan|tsan [ctest args...]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
jobs=${JOBS:-2}
t0=$SECONDS
step() { printf '== ci-sanitizers %s: %s (%ss so far)\n' "$kind" "$*" "$((SECONDS - t0))"; }

step "Boost Context+Fiber for $kind"
FIBERBRIDGE_SANITIZER_BOOST=$(scripts/sanitizer-boost.sh "$kind" | tail -n 1)
export FIBERBRIDGE_SANITIZER_BOOST
[[ -d $FIBERBRIDGE_SANITIZER_BOOST ]] || { echo "sanitizer-boost.sh gave no prefix" >&2; exit 1; }

step "configure (preset $kind, Boost from $FIBERBRIDGE_SANITIZER_BOOST)"
cmake --preset "$kind" >/dev/null
step "build"
cmake --build --preset "$kind" -j "$jobs"

# halt_on_error: the first report fails the test. detect_stack_use_after_return works across fiber
# switches here: Boost's ucontext backend hands ASan each fiber's fake stack (BOOST_USE_ASAN).
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="report_objects=1${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=4${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

step "ctest"
status=0
ctest --test-dir "build/$kind" --output-on-failure -j "$jobs" --timeout 600 "$@" || status=$?
step "done, ctest exit status $status"
exit "$status"
