#!/usr/bin/env bash
# Builds ios/CairnFFI.xcframework, the Rust library the Swift package links on
# Apple platforms: release static libraries for iPhone (aarch64-apple-ios) and
# the simulator (aarch64-apple-ios-sim and x86_64-apple-ios, joined with
# lipo), with the generated header and module map.
#
# Needs macOS with Xcode and the Rust targets:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
# The header and module map are the committed ones (scripts/bindings.sh);
# they must come from the same sources as the library.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v xcodebuild >/dev/null || { echo "build-xcframework.sh needs Xcode (xcodebuild)" >&2; exit 1; }

OUT=ios/CairnFFI.xcframework
WORK=target/xcframework
LIB=libcairn_ffi.a
# The package's minimum (Package.swift); the C parts (SQLite, ring) follow it too.
export IPHONEOS_DEPLOYMENT_TARGET=15.0

for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
  cargo build --release -p cairn-ffi --target "$target"
done

rm -rf "$WORK" "$OUT"
# Headers go in a folder named for the module: Xcode copies every
# XCFramework's headers into one shared include/ folder, where a top-level
# module.modulemap would collide with another library's.
mkdir -p "$WORK/headers/CairnFFI" "$WORK/ios-simulator"
cp ios/Sources/CairnFFI/include/CairnFFI.h "$WORK/headers/CairnFFI/"
cp ios/Sources/CairnFFI/CairnFFI.modulemap "$WORK/headers/CairnFFI/module.modulemap"

lipo -create \
  "target/aarch64-apple-ios-sim/release/$LIB" \
  "target/x86_64-apple-ios/release/$LIB" \
  -output "$WORK/ios-simulator/$LIB"

xcodebuild -create-xcframework \
  -library "target/aarch64-apple-ios/release/$LIB" -headers "$WORK/headers" \
  -library "$WORK/ios-simulator/$LIB" -headers "$WORK/headers" \
  -output "$OUT"
echo "built $OUT"
