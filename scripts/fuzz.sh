#!/usr/bin/env bash
# Fuzzes every decoder of untrusted bytes (fuzz/fuzz_targets/: the envelope,
# each record body, the KDF parameters, Android's tzdata, TZif, the paging
# cursor, tags and durations) for SECONDS_PER_TARGET seconds each (default
# 20) and fails on any crash, timeout (10 s) or allocation over 256 MB.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]
#
# Corpora grow in fuzz/corpus/<target> (not committed) from the committed
# seeds in fuzz/seeds/<target>; a crash leaves its input in
# fuzz/artifacts/<target>/ (reproduce: cargo fuzz run <target> <file>).
# FUZZ_JOBS targets run at once (default: the number of cores, at most 2).
# Installs cargo-fuzz if missing; runs on the stable toolchain
# (RUSTC_BOOTSTRAP=1 allows cargo-fuzz's -Z flags).
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-20}"
jobs="${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}"
((jobs > 2)) && jobs=2
export RUSTC_BOOTSTRAP=1
# Release with debug assertions and overflow checks, AddressSanitizer;
# 16 codegen units build in about half the time of cargo-fuzz's default 1.
build_flags=(--release --debug-assertions --codegen-units 16)

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

start=$(date +%s)
cargo fuzz build "${build_flags[@]}"
printf 'fuzz targets built in %d s\n' $(($(date +%s) - start))

mapfile -t targets < <(cargo fuzz list)
logs=fuzz/target/logs
mkdir -p "$logs"

run() {
  local t=$1
  mkdir -p "fuzz/corpus/$t"
  # The first corpus directory receives new inputs; the seeds are only read.
  if cargo fuzz run "${build_flags[@]}" "$t" "$PWD/fuzz/corpus/$t" "$PWD/fuzz/seeds/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 \
    -print_final_stats=1 >"$logs/$t.log" 2>&1; then
    local runs
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
    printf '%-16s ok: %s runs in %s s, corpus %s inputs\n' "$t" "${runs:-?}" "$secs" \
      "$(find "fuzz/corpus/$t" -type f | wc -l)"
  else
    printf '%-16s FAILED (log: %s)\n' "$t" "$logs/$t.log"
    grep -E 'panicked|ERROR|SUMMARY|Test unit written|Base64' "$logs/$t.log" | head -20 || true
    return 1
  fi
}

failed=0
running=0
for t in "${targets[@]}"; do
  if ((running >= jobs)); then
    wait -n || failed=1
    running=$((running - 1))
  fi
  run "$t" &
  running=$((running + 1))
done
while ((running > 0)); do
  wait -n || failed=1
  running=$((running - 1))
done

if ((failed)); then
  echo "fuzzing found a crash: see above; add the input as a regression test" >&2
  exit 1
fi
printf 'fuzzed %d targets, %s s each, in %d s overall\n' "${#targets[@]}" "$secs" $(($(date +%s) - start))
