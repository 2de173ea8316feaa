#!/usr/bin/env bash
# Builds the shipped library alone (-p: no bindgen or testing features
# unified in) with the phone profile, prints its stripped size and a
# breakdown of what it holds (by component and by symbol, from the
# unstripped build's symbol table), and fails above the budget.
#
#   bash scripts/size.sh [TARGET]        STRIP=... NM=... for cross targets
#   CAIRN_SIZE_BUDGET=BYTES              default 3,500,000 (stripped; 2.4 MB until sync, 2.75 MB until the clinical issue; docs/native-api.md §8)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-}"
budget="${CAIRN_SIZE_BUDGET:-3500000}"
args=(-q --release -p cairn-ffi)
dir=target/release
if [ -n "$target" ]; then
  args+=(--target "$target")
  dir="target/$target/release"
fi
cargo build "${args[@]}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$dir/libcairn_ffi.so" "$tmp/"
"${NM:-nm}" -S -C --size-sort "$tmp/libcairn_ffi.so" > "$tmp/symbols" 2>/dev/null || : > "$tmp/symbols"
strip "$tmp/libcairn_ffi.so" 2>/dev/null || "${STRIP:-strip}" "$tmp/libcairn_ffi.so"
bytes=$(stat -c %s "$tmp/libcairn_ffi.so")
triple="${target:-$(rustc -vV | sed -n "s/^host: //p")}"

# The breakdown: symbol sizes grouped by where they come from (Rust symbols
# are demangled by the legacy scheme's path; C symbols by prefix).
python3 - "$tmp/symbols" <<'PY'
import collections, re, sys

def component(name: str) -> str:
    if name.startswith("uniffi_"):
        return "uniffi exports"
    if name.startswith("ring_core") or re.match(r"(GFp|LIMBS|CRYPTO)", name):
        return "ring (C, assembly)"
    m = re.match(r"^[<&*\[( ]*(?:dyn |impl )?([A-Za-z_][A-Za-z0-9_]*)::", name)
    if not m:
        # C without a crate path: SQLite's amalgamation (static functions
        # and tables included); ring's C is prefixed and caught above.
        return "SQLite (C)" if "::" not in name else "Rust (other)"
    first = m.group(1)
    return {
        "core": "Rust core",
        "alloc": "Rust alloc",
        "std": "Rust std",
        "gimli": "std backtraces",
        "addr2line": "std backtraces",
        "rustc_demangle": "std backtraces",
        "miniz_oxide": "std backtraces",
        "object": "std backtraces",
    }.get(first, first)


sizes = collections.Counter()
largest = []
for line in open(sys.argv[1]):
    parts = line.rstrip("\n").split(" ", 3)
    if len(parts) < 4 or parts[2].lower() not in ("t", "r", "d", "b", "w"):
        continue
    size = int(parts[1], 16)
    sizes[component(parts[3])] += size
    largest.append((size, parts[3]))
total = sum(sizes.values())
if total:
    print(f"what the library holds (symbol table, {total / 1000:.0f} KB before strip):")
    for name, size in sizes.most_common(12):
        print(f"  {size / 1000:8.1f} KB  {name}")
    print("largest symbols:")
    for size, name in sorted(largest, reverse=True)[:8]:
        print(f"  {size / 1000:8.1f} KB  {name[:90]}")
PY

awk -v b="$bytes" -v t="$triple" -v g="$budget" 'BEGIN { printf "{\"name\":\"cdylib_stripped_size\",\"target\":\"%s\",\"bytes\":%d,\"mb\":%.2f,\"budget_bytes\":%d}\n", t, b, b / 1000000, g }'
if [ "$bytes" -gt "$budget" ]; then
  echo "size: the stripped library is $bytes bytes, over the budget of $budget" >&2
  exit 1
fi
