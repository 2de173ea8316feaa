#!/usr/bin/env bash
# Makes (once) a Debian trixie root holding Swift 6 (swiftlang), Foundation
# and XCTest, for testing the Swift bindings on Linux. Debian 12 has no Swift
# toolchain; trixie packages one. About 2 minutes and 3.2 GB the first time;
# seconds when the root already holds /usr/bin/swift. Needs root (chroot).
set -euo pipefail
ROOT="${CAIRN_SWIFT_ROOT:-/var/cache/cairn/swift-root}"

# /usr/bin/swift is an absolute symlink inside the root: test the link.
if [ -L "$ROOT/usr/bin/swift" ] || [ -x "$ROOT/usr/bin/swift" ]; then
  echo "$ROOT"
  exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
command -v debootstrap >/dev/null || {
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}
$SUDO rm -rf "$ROOT.partial"
$SUDO mkdir -p "$ROOT.partial"
$SUDO debootstrap --variant=minbase trixie "$ROOT.partial" >/dev/null
$SUDO cp /etc/resolv.conf "$ROOT.partial/etc/resolv.conf"
$SUDO mount -t proc proc "$ROOT.partial/proc"
trap '$SUDO umount "$ROOT.partial/proc" 2>/dev/null || true' EXIT
$SUDO chroot "$ROOT.partial" apt-get update -qq
$SUDO chroot "$ROOT.partial" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
  --no-install-recommends swiftlang libc6-dev libstdc++-14-dev >/dev/null
$SUDO umount "$ROOT.partial/proc"
trap - EXIT
$SUDO mv "$ROOT.partial" "$ROOT"
echo "$ROOT"
