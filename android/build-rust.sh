#!/usr/bin/env bash
# Builds libcairn_ffi.so for the Android ABIs into cairn/src/main/jniLibs,
# where the Gradle module packages it.
#
#   bash android/build-rust.sh            release build (what apps ship)
#   bash android/build-rust.sh --debug    debug build (faster, unoptimised)
#
# Needs: the Android NDK (ANDROID_NDK_HOME, r28 or newer: it links for 16 KB
# pages by default, which Google Play requires for Android 15+ devices), the
# Rust targets, and cargo-ndk:
#   rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
#   cargo install cargo-ndk
# The generated Kotlin (cairn/src/main/kotlin/app/cairn/cairn_ffi.kt) comes
# from scripts/bindings.sh, run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=(--release)
case "${1:-}" in
  --debug) profile=() ;;
  "") ;;
  *) echo "usage: android/build-rust.sh [--debug]" >&2; exit 2 ;;
esac

: "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME to an NDK (r28 or newer)}"
command -v cargo-ndk >/dev/null || { echo "cargo-ndk missing: cargo install cargo-ndk" >&2; exit 1; }

# NDK r27 and older link for 4 KB pages; ask for 16 KB explicitly there.
ndk_major=$(sed -n 's/^Pkg.Revision *= *\([0-9]*\).*/\1/p' "$ANDROID_NDK_HOME/source.properties" 2>/dev/null || true)
if [ -n "$ndk_major" ] && [ "$ndk_major" -lt 28 ]; then
  export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=-Wl,-z,max-page-size=16384"
fi

out=android/cairn/src/main/jniLibs
rm -rf "$out"
# -p cairn-ffi alone: building the workspace would pull the bindgen's features
# into the library (see scripts/bindings.sh).
cargo ndk -t arm64-v8a -t armeabi-v7a -t x86_64 -o "$out" \
  build "${profile[@]}" -p cairn-ffi
# Unstripped here; the Android Gradle plugin strips symbols when it packages
# an app (the bindings are generated from the host build, not from these).
find "$out" -name '*.so' -exec ls -l {} +
