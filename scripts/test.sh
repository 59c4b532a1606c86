#!/usr/bin/env bash
# scripts/test.sh — builds everything and runs every test (unit, stress smoke, bench smoke).
# Usage: scripts/test.sh [extra ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
build=${FIBERBRIDGE_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j2 --timeout 300 "$@"
