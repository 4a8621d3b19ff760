#!/bin/sh
# fuzz/run.sh SECONDS — build the safetensors fuzz target with
# clang -fsanitize=fuzzer,address,undefined and fuzz it for SECONDS.
#
#   build dir   $BUILD (default: build-fuzz, in the repository root)
#   corpus      $BUILD/corpus (kept between runs), seeded by
#               fuzz/make_corpus.py and fuzz/regressions/
#   crashes     $BUILD/artifacts/ — copy each into fuzz/regressions/ and add
#               a test (see docs/io.md, "Fuzzing")
#   JOBS=N      run N fuzzing processes (-fork=N); default 1
#
# Exit status: 0 if the run was clean, non-zero if libFuzzer found a crash,
# a leak, undefined behaviour, a timeout or an out-of-memory.
set -eu

SECONDS_TO_RUN=${1:?usage: fuzz/run.sh SECONDS}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-fuzz}
CC=${CC:-clang}
JOBS=${JOBS:-1}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"

case "$($CC --version 2>/dev/null | head -n 1)" in
    *clang*) ;;
    *) echo "fuzz/run.sh: needs clang (CC=$CC is not clang)" >&2; exit 2 ;;
esac

# 1. the library, instrumented (only the static library is needed)
if [ ! -f "$BUILD/build.ninja" ]; then
    CC="$CC" meson setup "$BUILD" "$ROOT" \
        --buildtype=debugoptimized -Ddefault_library=static \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=all -fno-omit-frame-pointer" \
        -Dblas=none -Dblis=disabled -Dpng=disabled -Dzlib=disabled -Dtests=disabled \
        -Dexamples=false -Dbenches=false -Dtools=false -Dfuzz=disabled
fi
ninja -C "$BUILD" libminitensor.a

# 2. the fuzz target
$CC -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer $SAN \
    -I"$ROOT/tensor/include" -I"$ROOT/io/include" -I"$ROOT/include" \
    -I"$BUILD/tensor/include" -I"$ROOT/fuzz" \
    "$ROOT/fuzz/fuzz_safetensors.c" "$BUILD/libminitensor.a" -lm -lpthread \
    -o "$BUILD/fuzz_safetensors"

# 3. seeds, then fuzz
mkdir -p "$BUILD/corpus" "$BUILD/seeds" "$BUILD/artifacts"
python3 "$ROOT/fuzz/make_corpus.py" "$BUILD/seeds"
echo "fuzz/run.sh: fuzzing for $SECONDS_TO_RUN s (JOBS=$JOBS)"
FORK=""
if [ "$JOBS" -gt 1 ]; then FORK="-fork=$JOBS"; fi
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
"$BUILD/fuzz_safetensors" $FORK \
    -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -dict="$ROOT/fuzz/safetensors.dict" \
    -artifact_prefix="$BUILD/artifacts/" -print_final_stats=1 \
    "$BUILD/corpus" "$BUILD/seeds" "$ROOT/fuzz/regressions"
