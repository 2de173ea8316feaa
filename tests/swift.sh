#!/usr/bin/env bash
# Runs the Swift tests (ios/Tests/CairnTests) on Linux, against a debug
# libcairn_ffi.so built with the `testing` feature, inside the Debian trixie
# root of scripts/swift-root.sh (Debian 12 has no Swift). Needs root (chroot,
# mount). Run from anywhere; the XCTest summary is the last line on stdout.
# ClinicSyncTests run the real cairn-clinic server, built here with cargo and
# copied into the root (CAIRN_CLINIC_BIN names the copy).
#
# The package is copied to a fixed folder inside the root, changed files only,
# so SwiftPM's .build is reused: the first run builds everything (about 20 s
# once the root and the Rust build exist), later runs only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
unset RUST_BACKTRACE  # the deliberate panic test would print a backtrace

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

# Reuse the root when swift runs inside it. (scripts/swift-root.sh's own test,
# [ -x "$ROOT/usr/bin/swift" ], follows that absolute symlink on the host, so
# it never sees a finished root and would build a new one each time.)
ROOT="${CAIRN_SWIFT_ROOT:-/var/cache/cairn/swift-root}"
if ! { [ -d "$ROOT" ] && $SUDO chroot "$ROOT" test -x /usr/bin/swift 2>/dev/null; }; then
  ROOT=$(bash scripts/swift-root.sh | tail -n 1)
fi
OUT=build/swift-bindings
bash scripts/bindings.sh --testing "$OUT"
# The clinic's reference server, which ClinicSyncTests start (one per test,
# on 127.0.0.1: the root shares the host's network). Built on the host like
# the library, copied into the root, named by CAIRN_CLINIC_BIN.
cargo build -q -p cairn-clinic
export CAIRN_CLINIC_BIN="$PWD/target/debug/cairn-clinic"
[ -x "$CAIRN_CLINIC_BIN" ] || { echo "no $CAIRN_CLINIC_BIN" >&2; exit 1; }

IN_ROOT=/cairn-swift-tests  # the work folder, as the chroot sees it
WORK="$ROOT$IN_ROOT"
$SUDO mkdir -p "$WORK"
$SUDO chown "$(id -u):$(id -g)" "$WORK"
mkdir -p "$WORK/pkg" "$WORK/lib" "$WORK/bin" "$WORK/home"

# One run at a time per root: each mounts and unmounts its /proc.
exec 9>"$WORK/.lock"
flock 9

stage=$(mktemp -d)
cleanup() {
  $SUDO umount "$ROOT/proc" 2>/dev/null || true
  rm -rf "$stage"
}
trap cleanup EXIT
mountpoint -q "$ROOT/proc" || $SUDO mount -t proc proc "$ROOT/proc"

# The tests use real zones; a minbase root may lack the tz database.
if [ ! -f "$ROOT/usr/share/zoneinfo/Europe/Paris" ]; then
  if [ -f /usr/share/zoneinfo/Europe/Paris ]; then
    $SUDO mkdir -p "$ROOT/usr/share/zoneinfo"
    $SUDO cp -a /usr/share/zoneinfo/. "$ROOT/usr/share/zoneinfo/"
  else
    $SUDO chroot "$ROOT" apt-get update -qq
    $SUDO chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tzdata >/dev/null
  fi
fi

# Copies $1 to $2 unless they are identical: unchanged files keep their
# mtime, so SwiftPM does not rebuild them.
sync_file() {
  cmp -s "$1" "$2" 2>/dev/null && return 0
  mkdir -p "$(dirname "$2")"
  cp "$1" "$2"
}
# Makes tree $2 (but its .build) hold what tree $1 holds.
sync_tree() {
  local f
  (cd "$1" && find . -type f) | while IFS= read -r f; do sync_file "$1/$f" "$2/$f"; done
  (cd "$2" && find . -path ./.build -prune -o -type f -print) | while IFS= read -r f; do
    [ -e "$1/$f" ] || rm -f "$2/$f"
  done
}

# The package, with the testing build's bindings (they add testingPanic)
# in place of the committed ones.
cp -r ios/Package.swift ios/Sources ios/Tests "$stage/"
cp "$OUT/swift/Cairn/Cairn.swift" "$stage/Sources/Cairn/Cairn.swift"
cp "$OUT/swift/CairnFFI/include/CairnFFI.h" "$stage/Sources/CairnFFI/include/CairnFFI.h"
cp "$OUT/swift/CairnFFI/CairnFFI.modulemap" "$stage/Sources/CairnFFI/CairnFFI.modulemap"
sync_tree "$stage" "$WORK/pkg"
sync_file "$OUT/lib/libcairn_ffi.so" "$WORK/lib/libcairn_ffi.so"
sync_file "$CAIRN_CLINIC_BIN" "$WORK/bin/cairn-clinic"

# Runs a command in the package folder inside the root. Temporary files (the
# tests' and swift's own) go to a folder emptied at each run.
rm -rf "$WORK/tmp"
mkdir -p "$WORK/tmp"
in_root() {
  $SUDO chroot "$ROOT" env -i \
    PATH=/usr/local/bin:/usr/bin:/bin \
    HOME="$IN_ROOT/home" \
    TMPDIR="$IN_ROOT/tmp" \
    LANG=C.UTF-8 \
    CAIRN_LIB_DIR="$IN_ROOT/lib" \
    CAIRN_CLINIC_BIN="$IN_ROOT/bin/cairn-clinic" \
    LD_LIBRARY_PATH="$IN_ROOT/lib" \
    bash -c "cd $IN_ROOT/pkg && $1"
}

# A build made by another toolchain is thrown away, with its module cache.
toolchain=$(in_root "swift --version 2>&1 | head -n 1")
if [ "$(cat "$WORK/toolchain" 2>/dev/null)" != "$toolchain" ]; then
  rm -rf "$WORK/pkg/.build" "$WORK/module-cache"
  echo "$toolchain" >"$WORK/toolchain"
fi

log="$WORK/swift-test.log"
status=0
in_root "swift test --disable-swift-testing -Xswiftc -DCAIRN_TESTING \
  -Xswiftc -module-cache-path -Xswiftc $IN_ROOT/module-cache" 2>&1 | tee "$log" || status=$?

summary=$(grep -E "Executed [0-9]+ tests?, with" "$log" | tail -n 1 | sed 's/^[[:space:]]*//' || true)
if [ "$status" -ne 0 ]; then
  echo "swift tests FAILED (exit $status)${summary:+: $summary}"
  exit 1
fi
echo "swift tests passed: ${summary:-no XCTest summary found}"
