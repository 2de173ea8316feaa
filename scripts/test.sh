#!/usr/bin/env bash
# Runs every check and test: formatting, lints, docs, the Rust tests (core,
# CLI end to end, kill -9), the generated bindings' freshness, the Kotlin
# tests on the JVM, the Swift tests on Linux, and the core's tests on aarch64
# and armv7 under qemu. Installs what it needs first (scripts/setup.sh; the
# Kotlin and Swift drivers install their own tools).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s (%d s in)\n' "$*" "$SECONDS"; }

step "setup"
bash scripts/setup.sh

step "format"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets -- -D warnings

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "tests (x86_64)"
cargo test --workspace
# The pool's cancellation and panic tests need the test-only exports.
cargo test -p cairn-ffi --features testing --test pool

step "generated bindings are up to date"
bash scripts/bindings.sh --check

step "Kotlin tests (desktop JVM)"
bash tests/kotlin.sh

step "Swift tests (Linux, in a Debian trixie root)"
bash tests/swift.sh

for target in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
  step "core tests on $target (qemu)"
  cargo test -p cairn-core --target "$target"
  step "FFI layer tests on $target (qemu): typed values, the journal's threads"
  cargo test -p cairn-ffi --features testing --target "$target" --lib --test pool
done
