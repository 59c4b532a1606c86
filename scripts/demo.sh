#!/usr/bin/env bash
# scripts/demo.sh — builds and runs the SQLite demo. Extra arguments go to the demo
# (e.g. --requests 500 --db /tmp/demo.sqlite).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
build=${FIBERBRIDGE_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target demo
exec "$build"/examples/demo "$@"
