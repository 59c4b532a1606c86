#!/usr/bin/env bash
# kv_service_test.sh KV_SERVICE_BINARY — end to end, both variants: start on port 0, check
# PUT/GET/DELETE/404/400/405 with curl, SIGTERM, and (file db) that acknowledged writes survive
# a restart. Every step has a deadline; the service is killed on any exit.
set -euo pipefail
bin=${1:?usage: kv_service_test.sh path/to/kv_service}
work=$(mktemp -d)
pid=""
cleanup() { [[ -n "$pid" ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

start() {  # start VARIANT DB -> sets pid, port
  "$bin" --variant "$1" --port 0 --db "$2" --threads 2 >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 1 200); do  # up to 10 s for the first line
    # Only a whole line (ended by its newline): a read racing the write may see part of it.
    if [[ $(wc -l <"$work/out" 2>/dev/null || echo 0) -ge 1 ]] &&
       head -n1 "$work/out" | grep -qE '^listening on 127\.0\.0\.1:[0-9]+$'; then
      port=$(head -n1 "$work/out" | sed 's/.*://')
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || fail "kv_service exited early: $(cat "$work/err")"
    sleep 0.05
  done
  fail "no 'listening on' line within 10 s"
}

stop() {  # SIGTERM, then wait up to 10 s for a clean exit 0
  kill -TERM "$pid"
  for _ in $(seq 1 200); do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid" || fail "kv_service exited with status $? after SIGTERM: $(cat "$work/err")"
      pid=""
      return 0
    fi
    sleep 0.05
  done
  fail "kv_service did not stop within 10 s of SIGTERM"
}

req() {  # req METHOD PATH [DATA] -> "STATUS BODY"
  local args=(-s -m 10 -o "$work/body" -w '%{http_code}' -X "$1" "http://127.0.0.1:$port$2")
  [[ $# -ge 3 ]] && args+=(--data-binary "$3")
  local code
  code=$(curl "${args[@]}") || true
  echo "$code $(cat "$work/body" 2>/dev/null)"
}

expect() {  # expect "WANT" METHOD PATH [DATA]
  local want=$1; shift
  local got
  got=$(req "$@")
  [[ "$got" == "$want" ]] || fail "$variant: $* -> '$got', want '$want'"
}

for variant in fiber coro; do
  start "$variant" ":memory:"
  expect "200 ok" GET /health
  expect "404 no such key" GET /kv/alpha
  expect "204 " PUT /kv/alpha "one"
  expect "200 one" GET /kv/alpha
  expect "204 " PUT /kv/alpha "two"
  expect "200 two" GET /kv/alpha
  expect "204 " PUT /kv/with%20space "x y"
  expect "200 x y" GET /kv/with%20space
  expect "204 " DELETE /kv/alpha
  expect "404 no such key" DELETE /kv/alpha
  expect "404 no such key" GET /kv/alpha
  expect "400 bad key: 1-512 bytes, no '/', valid %-escapes" GET /kv/
  expect "400 bad key: 1-512 bytes, no '/', valid %-escapes" GET /kv/bad%zz
  expect "405 use GET, PUT or DELETE" POST /kv/alpha "x"
  expect "404 unknown path; use /kv/KEY or /health" GET /nope
  # A malformed request line gets 400, not a crash.
  raw=$(printf 'GARBAGE\r\n\r\n' | timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; cat >&3; cat <&3" || true)
  [[ "$raw" == "HTTP/1.1 400"* ]] || fail "$variant: malformed request -> '$raw'"
  expect "200 ok" GET /health
  # The runtime's metrics in the Prometheus text format (501 when built without prometheus-cpp).
  metrics=$(req GET /metrics)
  if [[ "$metrics" != "501 "* ]]; then
    [[ "$metrics" == "200 "* ]] || fail "$variant: GET /metrics -> '${metrics:0:80}'"
    for m in fiberbridge_live_fibers fiberbridge_spawned_total fiberbridge_io_completions_total fiberbridge_pool_threads; do
      grep -q "^$m" "$work/body" || fail "$variant: /metrics has no $m"
    done
  fi
  stop

  # File database: an acknowledged write survives SIGTERM and a restart.
  db="$work/$variant.sqlite"
  start "$variant" "$db"
  expect "204 " PUT /kv/kept "durable"
  stop
  start "$variant" "$db"
  expect "200 durable" GET /kv/kept
  stop
  echo "$variant: ok"
done
