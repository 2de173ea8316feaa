#!/usr/bin/env bash
# Runs the Kotlin tests (android/cairn/src/test/kotlin) on the desktop JVM,
# against bindings generated from a `testing` build of cairn-ffi.
#
#   bash tests/kotlin.sh
#
# Installs what it needs when missing (Debian 12, as root): JNA and JUnit 4
# from apt, the Kotlin compiler from npm. Compiles the generated bindings, the
# Android layer (android/cairn/src/main/kotlin) and the tests into one jar,
# cached under build/kotlin-tests by a hash of those inputs, and runs every
# `*Test` class. The Android-only files are type-checked against hand-written
# stand-ins for the SDK (android/stand-ins: Java sources that kotlinc reads
# but does not compile, so no test can run them); files needing a library
# without stand-ins (WorkManager, coroutines) are left out. Ends with
# `N passed, N failed`; exits non-zero on any failure (a compile failure
# counts as one).
set -euo pipefail
cd "$(dirname "$0")/.."
# A deliberate panic (testingPanic) would otherwise print a backtrace.
unset RUST_BACKTRACE

KOTLIN_VERSION=2.4.20
KOTLIN_DIR=${CAIRN_KOTLIN_DIR:-/var/cache/cairn/kotlin}
KOTLIN_PKG="$KOTLIN_DIR/node_modules/kotlin-compiler"
KOTLINC="$KOTLIN_PKG/bin/kotlinc"
KLIB="$KOTLIN_PKG/lib"
JAVA_LIBS=/usr/share/java
BINDINGS=build/kotlin-bindings
WORK=build/kotlin-tests
TESTS=android/cairn/src/test/kotlin
MAIN=android/cairn/src/main/kotlin
STANDINS=android/stand-ins

step() { printf '== %s\n' "$*" >&2; }

# apt-get install, only for packages dpkg does not know, waiting for and
# retrying around other jobs' apt locks; refreshes the lists once if a package
# cannot be found (a fresh machine has none).
apt_install() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "installing ${missing[*]}"
  local attempt updated=0 opts=(-o DPkg::Lock::Timeout=120 -q)
  for attempt in 1 2 3 4 5 6; do
    if DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" install -y --no-install-recommends \
        "${missing[@]}" >&2; then
      return 0
    fi
    if [ $updated -eq 0 ]; then
      apt-get "${opts[@]}" update >&2 && updated=1 && continue
    fi
    sleep $((attempt * 5))
  done
  echo "could not install ${missing[*]} with apt-get" >&2
  return 1
}

installed_kotlin() {
  [ -x "$KOTLINC" ] && grep -q "\"version\": \"$KOTLIN_VERSION\"" "$KOTLIN_PKG/package.json" 2>/dev/null
}

# --- tools -------------------------------------------------------------------
command -v java >/dev/null || apt_install default-jre-headless
apt_install libjna-java junit4
if ! installed_kotlin; then
  command -v npm >/dev/null || apt_install npm
  step "installing kotlin-compiler@$KOTLIN_VERSION into $KOTLIN_DIR"
  npm install --prefix "$KOTLIN_DIR" --no-audit --no-fund --loglevel=error \
    "kotlin-compiler@$KOTLIN_VERSION" >&2
  installed_kotlin || { echo "kotlinc $KOTLIN_VERSION missing after npm install" >&2; exit 1; }
fi
HAMCREST=
for candidate in "$JAVA_LIBS"/hamcrest-core.jar "$JAVA_LIBS"/hamcrest.jar; do
  [ -f "$candidate" ] && { HAMCREST=$candidate; break; }
done
[ -n "$HAMCREST" ] || { echo "no hamcrest jar in $JAVA_LIBS (junit4 needs it)" >&2; exit 1; }
COMPILE_CP="$JAVA_LIBS/jna.jar:$JAVA_LIBS/junit4.jar:$HAMCREST:$KLIB/kotlin-test.jar:$KLIB/kotlin-test-junit.jar"
RUN_CP="$COMPILE_CP:$KLIB/kotlin-stdlib.jar"

# --- library and bindings ----------------------------------------------------
step "building cairn-ffi (testing) and generating bindings"
bash scripts/bindings.sh --testing "$BINDINGS"
[ -f "$BINDINGS/lib/libcairn_ffi.so" ] || { echo "no $BINDINGS/lib/libcairn_ffi.so" >&2; exit 1; }

# --- sources -----------------------------------------------------------------
mapfile -t generated < <(find "$BINDINGS/kotlin" -name '*.kt' | sort)
# The committed bindings (cairn_ffi.kt) are replaced by the testing ones.
mapfile -t layer < <(find "$MAIN" -name '*.kt' ! -name cairn_ffi.kt -print0 | sort -z |
  xargs -0 -r grep -L -E '^import (androidx\.work|androidx\.appcompat|androidx\.lifecycle|kotlinx)\.')
mapfile -t tests < <(find "$TESTS" -name '*.kt' | sort)
[ ${#tests[@]} -gt 0 ] || { echo "no Kotlin tests under $TESTS" >&2; exit 1; }
mapfile -t standins < <(find "$STANDINS" -name '*.java' | sort)
[ ${#standins[@]} -gt 0 ] || { echo "no SDK stand-ins under $STANDINS" >&2; exit 1; }
sources=("${generated[@]}" "${layer[@]}" "${tests[@]}")

# One class per *Test.kt file, named like the file.
classes=()
for f in "${tests[@]}"; do
  case "$f" in *Test.kt) ;; *) continue ;; esac
  pkg=$(sed -n 's/^package \([A-Za-z0-9_.]*\).*/\1/p;T;q' "$f")
  classes+=("${pkg:+$pkg.}$(basename "$f" .kt)")
done

# --- compile (cached) --------------------------------------------------------
key=$({
  echo "kotlinc $KOTLIN_VERSION; cp $COMPILE_CP"
  java -version 2>&1 | sed -n 1p
  for f in "${sources[@]}" "${standins[@]}"; do echo "$f"; sha256sum <"$f"; done
} | sha256sum | cut -c1-16)
jar="$WORK/tests-$key.jar"
mkdir -p "$WORK"
if [ -f "$jar" ]; then
  step "compiled tests are cached ($jar)"
else
  step "compiling ${#sources[@]} Kotlin files (Android SDK calls against ${#standins[@]} stand-ins)"
  start=$(date +%s)
  # kotlinc writes a jar only to a name ending in .jar; move it into place
  # once complete so an interrupted compile never looks cached.
  partial="$WORK/partial-$$.jar"
  rm -rf "$partial"
  if ! "$KOTLINC" -nowarn -jvm-target 17 -cp "$COMPILE_CP" -d "$partial" "${sources[@]}" "$STANDINS" \
      2>"$WORK/kotlinc.log"; then
    # Errors in the generated bindings first: they cause the rest.
    { grep -A3 "^$BINDINGS/.*: error:" "$WORK/kotlinc.log" || true
      grep -v "^$BINDINGS/" "$WORK/kotlinc.log" | grep -v '^warning:' || true; } | sed -n 1,60p >&2
    rm -rf "$partial"
    if grep -q "^$BINDINGS/.*: error:" "$WORK/kotlinc.log"; then
      echo "the generated bindings do not compile (see android/README.md, \"Names that differ from Swift\")" >&2
    fi
    echo "the Kotlin tests did not compile (full log: $WORK/kotlinc.log)" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
  find "$WORK" -maxdepth 1 -name 'tests-*.jar' -exec rm -rf {} +
  mv "$partial" "$jar"
  step "compiled in $(($(date +%s) - start)) s"
fi

# --- run ---------------------------------------------------------------------
step "running ${#classes[@]} test classes"
status=0
timeout 900 java -Djna.library.path="$PWD/$BINDINGS/lib" -Dcairn.testing=true \
  -cp "$jar:$RUN_CP" app.cairn.DesktopTestRunnerKt "${classes[@]}" | tee "$WORK/run.log" || status=$?
if ! grep -Eq '^[0-9]+ passed, [0-9]+ failed$' "$WORK/run.log"; then
  # The JVM died or timed out before the runner's summary.
  [ $status -eq 124 ] && echo "the Kotlin tests timed out" >&2
  echo "the Kotlin test run ended without a summary (exit $status)" >&2
  echo "0 passed, 1 failed"
  [ $status -ne 0 ] || status=1
fi
exit $status
