#!/usr/bin/env bash
# tests/package/check.sh <build-dir> <source-dir> — the package consumer test (CTest: package_consumer).
#
#  1. Install tree: `cmake --install` the build into a temporary prefix, build the consumer
#     (tests/package) against it with find_package, run it.
#  2. Debian package: `cpack -G DEB` from the build directory (the package lands in a temporary
#     directory), check its fields and contents, install it as a Debian user would, build and run
#     the consumer against it, remove it:
#       - as root: `dpkg -i`, find_package with no hints, then `dpkg -r` (also on failure), so the
#         machine is left as it was;
#       - otherwise (not root, FIBERBRIDGE_PACKAGE_EXTRACT=1, or the package is already installed
#         and must not be touched): `dpkg-deb -x` into a temporary root, CMAKE_PREFIX_PATH there.
#     cpack first brings the build tree up to date (target preinstall; a no-op after a full build).
#
# No network. Exit status 77 (CTest: skipped) after part 1 when dpkg-deb is missing (not Debian).
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
work=$(mktemp -d /tmp/fiberbridge-package.XXXXXX)
installed=  # the Debian package this script installed, removed on exit
cleanup() {
  if [[ -n $installed ]]; then
    dpkg -r "$installed" >/dev/null 2>&1 || echo "check.sh: dpkg -r $installed failed: remove it by hand" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "check.sh: $*" >&2
  exit 1
}
# quietly <log> <command...>: runs the command with its output in <log>, shown only on failure.
quietly() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 || { cat "$log" >&2; fail "failed: $*"; }
}
cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$2"; }

# consumer <name> <expected config dir> [cmake args...]: configures tests/package in $work/<name>,
# checks that find_package took fiberbridge from <expected config dir>, builds and runs it.
consumer() {
  local dir=$work/$1 expected=$2
  shift 2
  quietly "$dir.log" cmake -S "$src/tests/package" -B "$dir" \
    -DCMAKE_CXX_COMPILER="$(cache_value CMAKE_CXX_COMPILER "$build/CMakeCache.txt")" "$@"
  local found
  found=$(cache_value fiberbridge_DIR "$dir/CMakeCache.txt")
  [[ $(realpath -m "$found") == $(realpath -m "$expected") ]] ||
    fail "$1: find_package took fiberbridge from '$found', not from '$expected'"
  quietly "$dir.log" cmake --build "$dir" -j2
  "$dir/consumer"
}

# ---- 1. the install tree
quietly "$work/install.log" cmake --install "$build" --prefix "$work/prefix"
config=$(find "$work/prefix" -path '*/cmake/fiberbridge/fiberbridgeConfig.cmake' -printf '%h\n')
[[ -n $config ]] || fail "no fiberbridgeConfig.cmake installed under $work/prefix"
consumer tree "$config" -DCMAKE_PREFIX_PATH="$work/prefix"

# ---- 2. the Debian package
if ! command -v dpkg-deb >/dev/null; then
  echo "check.sh: dpkg-deb not found (not a Debian system): the .deb half is skipped" >&2
  exit 77
fi
quietly "$work/cpack.log" cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/deb"
debs=("$work"/deb/*.deb)
[[ ${#debs[@]} == 1 && -f ${debs[0]} ]] || fail "cpack made ${#debs[@]} .deb files: ${debs[*]}"
deb=${debs[0]}
pkg=$(dpkg-deb -f "$deb" Package)
version=$(cache_value CMAKE_PROJECT_VERSION "$build/CMakeCache.txt")
echo "check.sh: $(basename "$deb"): $(dpkg-deb -f "$deb" Package Version Architecture Depends | tr '\n' ' ')"
[[ $pkg == libfiberbridge-dev ]] || fail "package name '$pkg', expected libfiberbridge-dev"
[[ $(dpkg-deb -f "$deb" Version) == "$version" ]] || fail "package version is not the project's ($version)"
[[ -n $(dpkg-deb -f "$deb" Maintainer) && -n $(dpkg-deb -f "$deb" Description) ]] ||
  fail "the package has no Maintainer or Description"
for dep in libboost-fiber1.81-dev libboost-context1.81-dev libboost-fiber1.81.0 libboost-context1.81.0; do
  [[ ", $(dpkg-deb -f "$deb" Depends), " == *", $dep"[,\ ]* ]] || fail "the package does not depend on $dep"
done
dpkg-deb -c "$deb" | awk '{print substr($6, 2)}' >"$work/contents"
for want in /usr/include/fiberbridge/fiberbridge.hpp '/usr/lib/.*libfiberbridge\.(a|so)$' \
            '/cmake/fiberbridge/fiberbridgeConfig\.cmake$' '/cmake/fiberbridge/fiberbridgeConfigVersion\.cmake$' \
            '/cmake/fiberbridge/fiberbridgeTargets\.cmake$'; do
  grep -Eq "$want" "$work/contents" || fail "the package holds nothing matching $want"
done
config=$(dirname "$(grep -E '/cmake/fiberbridge/fiberbridgeConfig\.cmake$' "$work/contents")")

status() { dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true; }
why=
if [[ ${FIBERBRIDGE_PACKAGE_EXTRACT:-0} == 1 ]]; then
  why="FIBERBRIDGE_PACKAGE_EXTRACT=1"
elif [[ $(id -u) != 0 ]]; then
  why="not root"
elif ! { exec 9>/tmp/fiberbridge-package-test.lock && flock -w 300 9; }; then
  why="no lock on /tmp/fiberbridge-package-test.lock within 300 s"  # one dpkg -i ... dpkg -r at a time
elif [[ $(status) == installed ]]; then
  why="$pkg is already installed on this machine and is left as it is (if an interrupted run left it: dpkg -r $pkg)"
fi
if [[ -z $why ]]; then
  echo "check.sh: dpkg -i $(basename "$deb")"
  installed=$pkg  # from here on, removed on exit even if dpkg -i fails half-way
  quietly "$work/dpkg-i.log" dpkg -i "$deb"
  consumer deb "$config"
  quietly "$work/dpkg-r.log" dpkg -r "$pkg"
  installed=
  [[ $(status) != installed && ! -e /usr/include/fiberbridge ]] || fail "dpkg -r $pkg left the package behind"
  echo "check.sh: dpkg -r $pkg: removed"
else
  echo "check.sh: $why: dpkg-deb -x into a temporary root instead of dpkg -i, CMAKE_PREFIX_PATH=<root>/usr"
  dpkg-deb -x "$deb" "$work/root"
  consumer deb "$work/root$config" -DCMAKE_PREFIX_PATH="$work/root/usr"
fi
