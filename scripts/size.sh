#!/usr/bin/env bash
# Builds the shipped library alone (-p: no bindgen features unified in) with
# the phone profile and prints its stripped size. Goal: at most 2.0 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-}"
args=(-q --release -p cairn-ffi)
dir=target/release
if [ -n "$target" ]; then
  args+=(--target "$target")
  dir="target/$target/release"
fi
cargo build "${args[@]}"
tmp=$(mktemp -d)
cp "$dir/libcairn_ffi.so" "$tmp/"
strip "$tmp/libcairn_ffi.so" 2>/dev/null || "${STRIP:-strip}" "$tmp/libcairn_ffi.so"
bytes=$(stat -c %s "$tmp/libcairn_ffi.so")
rm -rf "$tmp"
awk -v b="$bytes" -v t="${target:-$(rustc -vV | sed -n "s/^host: //p")}" 'BEGIN { printf "{\"name\":\"cdylib_stripped_size\",\"target\":\"%s\",\"bytes\":%d,\"mb\":%.2f,\"goal_mb\":2.0}\n", t, b, b / 1000000 }'
