#!/usr/bin/env bash
# Builds ios/CairnFFI.xcframework, the Rust library the Swift package links on
# Apple platforms, for every platform ios/Package.swift declares:
#   iOS devices     aarch64-apple-ios
#   iOS simulator   aarch64-apple-ios-sim + x86_64-apple-ios    (one lipo'd library)
#   macOS           aarch64-apple-darwin + x86_64-apple-darwin  (one lipo'd library)
# each a release static library (cairn-ffi), with the generated header and
# module map.
#
#   bash ios/build-xcframework.sh                  the XCFramework, for the local package
#   bash ios/build-xcframework.sh --release [URL]  also checks that the committed Swift
#                                                  bindings match the library, zips it into
#                                                  build/xcframework/CairnFFI.xcframework.zip
#                                                  and prints its checksum and the
#                                                  .binaryTarget(url:checksum:) to publish it
#                                                  under URL (where the zip will be uploaded)
#
# Needs macOS with Xcode and the Rust targets:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios \
#     aarch64-apple-darwin x86_64-apple-darwin
# The header and module map are the committed ones (scripts/bindings.sh);
# they must come from the same sources as the library.
set -euo pipefail
cd "$(dirname "$0")/.."

release=false
url=""
case "${1:-}" in
  "") ;;
  --release) release=true; url="${2:-}" ;;
  *) echo "usage: ios/build-xcframework.sh [--release [URL]]" >&2; exit 2 ;;
esac

# Fail early, one line each, before any build.
command -v xcodebuild >/dev/null || { echo "build-xcframework.sh needs Xcode (xcodebuild not found): run it on a Mac" >&2; exit 1; }
command -v lipo >/dev/null || { echo "build-xcframework.sh needs lipo (Xcode's command line tools)" >&2; exit 1; }
if $release; then
  command -v ditto >/dev/null || { echo "build-xcframework.sh --release needs ditto (macOS)" >&2; exit 1; }
fi

DEVICE=aarch64-apple-ios
SIMULATOR=(aarch64-apple-ios-sim x86_64-apple-ios)
MACOS=(aarch64-apple-darwin x86_64-apple-darwin)
TARGETS=("$DEVICE" "${SIMULATOR[@]}" "${MACOS[@]}")

if command -v rustup >/dev/null; then
  installed=$(rustup target list --installed)
  missing=()
  for target in "${TARGETS[@]}"; do
    grep -qx "$target" <<<"$installed" || missing+=("$target")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "missing Rust targets: rustup target add ${missing[*]}" >&2
    exit 1
  fi
fi

OUT=ios/CairnFFI.xcframework
WORK=target/xcframework
LIB=libcairn_ffi.a
# The package's minimums (Package.swift: .iOS(.v15), .macOS(.v12)); the C
# parts (SQLite, ring) follow them too. The simulator uses the iOS one.
export IPHONEOS_DEPLOYMENT_TARGET=15.0
export MACOSX_DEPLOYMENT_TARGET=12.0

for target in "${TARGETS[@]}"; do
  cargo build --release -p cairn-ffi --target "$target"
done

# A release ships the committed header and module map (and apps compile the
# committed Cairn.swift): they must be what this library's exports generate.
# scripts/bindings.sh --check does the same on Linux; here the bindings are
# generated from the macOS build (same exports, same checksums).
if $release; then
  generated=$(mktemp -d)
  cargo build -q -p cairn-uniffi-bindgen
  target/debug/uniffi-bindgen generate --library "target/${MACOS[0]}/release/libcairn_ffi.dylib" \
    --language swift --no-format --out-dir "$generated" >/dev/null
  stale=()
  cmp -s "$generated/Cairn.swift" ios/Sources/Cairn/Cairn.swift || stale+=(Cairn.swift)
  cmp -s "$generated/CairnFFI.h" ios/Sources/CairnFFI/include/CairnFFI.h || stale+=(CairnFFI.h)
  cmp -s "$generated/CairnFFI.modulemap" ios/Sources/CairnFFI/CairnFFI.modulemap || stale+=(CairnFFI.modulemap)
  rm -rf "$generated"
  if [ "${#stale[@]}" -gt 0 ]; then
    echo "stale Swift bindings (${stale[*]}): run scripts/bindings.sh, commit, then release" >&2
    exit 1
  fi
fi

rm -rf "$WORK" "$OUT"
# Headers go in a folder named for the module: Xcode copies every
# XCFramework's headers into one shared include/ folder, where a top-level
# module.modulemap would collide with another library's.
mkdir -p "$WORK/headers/CairnFFI" "$WORK/ios-simulator" "$WORK/macos"
cp ios/Sources/CairnFFI/include/CairnFFI.h "$WORK/headers/CairnFFI/"
cp ios/Sources/CairnFFI/CairnFFI.modulemap "$WORK/headers/CairnFFI/module.modulemap"

# One library per platform: the architectures of a platform go in one fat file.
fat() { # $1: output, $2...: Rust targets
  local out="$1"; shift
  local inputs=() target
  for target in "$@"; do inputs+=("target/$target/release/$LIB"); done
  lipo -create "${inputs[@]}" -output "$out"
}
fat "$WORK/ios-simulator/$LIB" "${SIMULATOR[@]}"
fat "$WORK/macos/$LIB" "${MACOS[@]}"

xcodebuild -create-xcframework \
  -library "target/$DEVICE/release/$LIB" -headers "$WORK/headers" \
  -library "$WORK/ios-simulator/$LIB" -headers "$WORK/headers" \
  -library "$WORK/macos/$LIB" -headers "$WORK/headers" \
  -output "$OUT"
echo "built $OUT"

$release || exit 0

# The zip SwiftPM downloads must hold CairnFFI.xcframework at its top level
# (--keepParent); ditto keeps the bundle's symlinks and leaves out the
# resource forks and ._ files (--sequesterRsrc) that Finder's zip would add.
ZIP_DIR=build/xcframework
ZIP="$ZIP_DIR/CairnFFI.xcframework.zip"
mkdir -p "$ZIP_DIR"
rm -f "$ZIP"
ditto -c -k --sequesterRsrc --keepParent "$OUT" "$ZIP"

# SwiftPM's checksum is the zip's SHA-256; compute-checksum is its own tool.
if command -v swift >/dev/null; then
  checksum=$(swift package compute-checksum "$ZIP")
else
  checksum=$(shasum -a 256 "$ZIP" | cut -d ' ' -f 1)
fi

echo "zipped $ZIP ($(wc -c <"$ZIP" | tr -d ' ') bytes)"
echo "checksum $checksum"
echo
echo "Upload the zip unchanged (any change changes the checksum), then use in the release Package.swift:"
echo
cat <<EOF
.binaryTarget(
    name: "CairnFFI",
    url: "${url:-https://<where the zip is uploaded>/CairnFFI.xcframework.zip}",
    checksum: "$checksum"
),
EOF
