#!/usr/bin/env bash
# scripts/docs.sh — the API reference: Doxygen over include/fiberbridge (docs/Doxyfile) into
# build/docs/html, and the check that each header's example is its compiled file's region
# (scripts/check-header-examples.sh). Fails on any Doxygen warning (an undocumented public
# item, a broken doc command) and prints every warning.
# Needs doxygen and graphviz (Debian: apt-get install doxygen graphviz).
# Usage: scripts/docs.sh        (then open build/docs/html/index.html)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v doxygen >/dev/null; then
  echo "scripts/docs.sh needs doxygen (Debian: apt-get install doxygen graphviz)" >&2
  exit 1
fi
mkdir -p build/docs
warnings=build/docs/warnings.log
status=0
doxygen docs/Doxyfile 2>"$warnings" || status=$?
if [[ -s $warnings ]]; then
  cat "$warnings" >&2
  echo "== API reference: $(grep -c ': warning:\|: error:' "$warnings" || true) Doxygen warning(s) (all listed above)" >&2
  status=1
fi
scripts/check-header-examples.sh || status=1
(( status == 0 )) && echo "== API reference: no warnings; build/docs/html/index.html"
exit $status
