#!/usr/bin/env bash
# scripts/deps.sh — installs what fiberbridge needs on Debian 12 (when run as root and missing).
# Boost must be 1.81: the plain libboost-*-dev packages of bookworm are 1.74.
set -euo pipefail
pkgs=(cmake g++ make libboost-fiber1.81-dev libboost-context1.81-dev libboost1.81-dev
      libgtest-dev libgmock-dev libbenchmark-dev libsqlite3-dev prometheus-cpp-dev curl ${FIBERBRIDGE_EXTRA_PKGS:-})
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "fiberbridge: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  # python3-matplotlib (bench plots) reaches python3-scipy -> python3-pythran -> libboost-dev,
  # which is 1.74 and conflicts with libboost1.81-dev; refusing pythran (and recommends) makes
  # apt take the alternatives.
  apt_extra=()
  [[ " ${missing[*]} " == *" python3-matplotlib "* ]] && apt_extra=(--no-install-recommends python3-pythran-)
  echo "fiberbridge: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" "${apt_extra[@]}" >/dev/null
fi
