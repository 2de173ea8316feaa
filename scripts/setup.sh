#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine; quick when it is
# all there already. Called by scripts/test.sh (and so by .ci/run).
set -euo pipefail

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

apt_pkgs=(
  tzdata                                   # IANA zones for the tests
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross   # 64-bit ARM cross build
  gcc-arm-linux-gnueabihf libc6-dev-armhf-cross # 32-bit ARM cross build
  qemu-user                                # run the ARM test binaries here
  postgresql-15                            # the clinic server's PostgreSQL tests: initdb,
                                           # pg_ctl, pg_dump (a private cluster per test run)
)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

targets=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)
installed=$(rustup target list --installed)
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$installed" || rustup target add "$t"
done
components=$(rustup component list --installed)
for c in clippy rustfmt; do
  grep -q "^$c" <<<"$components" || rustup component add "$c"
done
