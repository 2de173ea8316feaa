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
  python3-venv                             # the FHIR validator's environment (below)
  chromium fonts-dejavu-core               # the report's browser test (tests/report.rs):
                                           # headless screenshots, axe-core through playwright-core
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

# The FHIR validator (tests/fhir_validate.py, docs/fhir.md): fhir.resources
# and its dependencies, pinned in tests/fhir-requirements.txt, in a virtual
# environment under build/ that the FHIR tests run. Made again only when the
# pins change.
root=$(cd "$(dirname "$0")/.." && pwd)
fhir_venv="$root/build/fhir-venv"
fhir_stamp="$fhir_venv/requirements.sha256"
fhir_want=$(sha256sum "$root/tests/fhir-requirements.txt" | cut -d' ' -f1)
if [ "$(cat "$fhir_stamp" 2>/dev/null)" != "$fhir_want" ] \
  || ! "$fhir_venv/bin/python3" -c 'import fhir.resources.R4B.bundle' 2>/dev/null; then
  echo "setup: installing the FHIR validator into $fhir_venv"
  rm -rf "$fhir_venv"
  python3 -m venv "$fhir_venv"
  "$fhir_venv/bin/python3" -m pip install -q --disable-pip-version-check --no-deps \
    -r "$root/tests/fhir-requirements.txt"
  "$fhir_venv/bin/python3" -c 'import fhir.resources.R4B.bundle'
  echo "$fhir_want" >"$fhir_stamp"
fi

# The report's browser test (tests/report.rs, docs/report.md): axe-core,
# playwright-core and pngjs, pinned in tests/report/package-lock.json, run by
# the machine's Node.js against Debian's chromium. Installed again only when
# the lock changes.
report_dir="$root/tests/report"
report_stamp="$report_dir/node_modules/.lock.sha256"
report_want=$(sha256sum "$report_dir/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$report_stamp" 2>/dev/null)" != "$report_want" ]; then
  echo "setup: installing the report's Node tools into $report_dir/node_modules"
  (cd "$report_dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$report_want" >"$report_stamp"
fi
