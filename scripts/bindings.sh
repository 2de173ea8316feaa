#!/usr/bin/env bash
# Generates the Kotlin and Swift bindings from the cairn-ffi library with the
# workspace's own uniffi-bindgen. Generated files are committed and never
# edited by hand: scripts/bindings_post.py finishes them where uniffi's
# templates fall short (error messages and case names, Swift Task
# cancellation), and fails if an edit no longer applies.
#
#   scripts/bindings.sh            regenerate into android/ and ios/
#   scripts/bindings.sh --check    fail if the committed files are stale
#   scripts/bindings.sh --testing DIR
#                                  generate, with the test-only exports of
#                                  the `testing` feature, into DIR (for the
#                                  Kotlin and Swift tests; never committed);
#                                  the library is left in DIR/lib
set -euo pipefail
cd "$(dirname "$0")/.."

KOTLIN_OUT=android/cairn/src/main/kotlin
SWIFT_OUT=ios/Sources
mode="${1:-write}"

# Build the library alone (-p): building the workspace would unify the
# bindgen's `cli` feature into the library's uniffi.
build_lib() { # $1: target dir, $2...: extra cargo args
  local dir="$1"; shift
  CARGO_TARGET_DIR="$dir" cargo build -q -p cairn-ffi "$@"
}
bindgen() {
  cargo build -q -p cairn-uniffi-bindgen
  target/debug/uniffi-bindgen "$@"
}
generate() { # $1: library, $2: kotlin dir, $3: swift dir, [$4: kotlin config]
  local kconfig=()
  [ -n "${4:-}" ] && kconfig=(--config "$4")
  bindgen generate --library "$1" --language kotlin --no-format "${kconfig[@]}" --out-dir "$2" >/dev/null
  python3 scripts/bindings_post.py kotlin "$2/app/cairn/cairn_ffi.kt"
  mkdir -p "$3/Cairn" "$3/CairnFFI/include"
  local tmp; tmp=$(mktemp -d)
  bindgen generate --library "$1" --language swift --no-format --out-dir "$tmp" >/dev/null
  python3 scripts/bindings_post.py swift "$tmp/Cairn.swift"
  mv "$tmp/Cairn.swift" "$3/Cairn/Cairn.swift"
  mv "$tmp/CairnFFI.h" "$3/CairnFFI/include/CairnFFI.h"
  mv "$tmp/CairnFFI.modulemap" "$3/CairnFFI/CairnFFI.modulemap"
  rm -rf "$tmp"
}

case "$mode" in
  write)
    build_lib target
    generate target/debug/libcairn_ffi.so "$KOTLIN_OUT" "$SWIFT_OUT"
    echo "bindings written to $KOTLIN_OUT/app/cairn and $SWIFT_OUT/{Cairn,CairnFFI}"
    ;;
  --check)
    build_lib target
    out=$(mktemp -d)
    generate target/debug/libcairn_ffi.so "$out/kotlin" "$out/swift"
    status=0
    diff -u "$KOTLIN_OUT/app/cairn/cairn_ffi.kt" "$out/kotlin/app/cairn/cairn_ffi.kt" >/dev/null || status=1
    diff -u "$SWIFT_OUT/Cairn/Cairn.swift" "$out/swift/Cairn/Cairn.swift" >/dev/null || status=1
    diff -u "$SWIFT_OUT/CairnFFI/include/CairnFFI.h" "$out/swift/CairnFFI/include/CairnFFI.h" >/dev/null || status=1
    diff -u "$SWIFT_OUT/CairnFFI/CairnFFI.modulemap" "$out/swift/CairnFFI/CairnFFI.modulemap" >/dev/null || status=1
    rm -rf "$out"
    if [ $status -ne 0 ]; then
      echo "the committed bindings are stale: run scripts/bindings.sh and commit the result" >&2
      exit 1
    fi
    echo "committed bindings are up to date"
    ;;
  --testing)
    out="${2:?--testing needs an output folder}"
    build_lib target/ffi-testing --features testing
    mkdir -p "$out/lib"
    cp target/ffi-testing/debug/libcairn_ffi.so "$out/lib/"
    # The desktop JVM has no Android cleaner.
    generate "$out/lib/libcairn_ffi.so" "$out/kotlin" "$out/swift" bindings/uniffi-jvm.toml
    ;;
  *)
    echo "usage: scripts/bindings.sh [--check | --testing DIR]" >&2
    exit 2
    ;;
esac
