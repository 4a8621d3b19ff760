#!/bin/sh
# fuzz/run.sh SECONDS [TARGET] — build a fuzz target with
# clang -fsanitize=fuzzer,address,undefined and fuzz it for SECONDS.
#
#   TARGET      safetensors (default)  the safetensors reader and writer
#               idx                    IDX, parsed and streamed (plain, gzip)
#               gzip                   the streaming gzip reader
#               pgm                    the PGM decoder
#               png                    the PNG decoder (libpng + strictness pass)
#               loaders                the state_dict loaders (nn/) on hostile
#                                      weights, and a forward of each layer built
#   build dir   $BUILD (default: build-fuzz, in the repository root), one
#               instrumented static library for every target (with zlib and
#               libpng: those libraries themselves are not instrumented)
#   corpus      $BUILD/corpus (safetensors) or $BUILD/corpus-TARGET, kept
#               between runs; seeded by fuzz/make_corpus.py (safetensors) or
#               the committed fuzz/corpus/TARGET (fuzz/make_io_corpus.py),
#               and fuzz/regressions/ (safetensors) or fuzz/regressions-io/TARGET
#   crashes     $BUILD/artifacts/TARGET/ — copy each into the regressions
#               directory and add a test (see docs/io.md, "Fuzzing")
#   JOBS=N      run N fuzzing processes (-fork=N); default 1
#
# Exit status: 0 if the run was clean, non-zero if libFuzzer found a crash,
# a leak, undefined behaviour, a timeout or an out-of-memory.
set -eu

SECONDS_TO_RUN=${1:?usage: fuzz/run.sh SECONDS [safetensors|idx|gzip|pgm|png|loaders]}
TARGET=${2:-safetensors}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-fuzz}
CC=${CC:-clang}
JOBS=${JOBS:-1}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"

case "$TARGET" in
    safetensors|idx|gzip|pgm|png|loaders) ;;
    *) echo "fuzz/run.sh: unknown target '$TARGET' (safetensors, idx, gzip, pgm, png, loaders)" >&2
       exit 2 ;;
esac
case "$($CC --version 2>/dev/null | head -n 1)" in
    *clang*) ;;
    *) echo "fuzz/run.sh: needs clang (CC=$CC is not clang)" >&2; exit 2 ;;
esac

# 1. the library, instrumented (only the static library is needed), with
#    zlib and libpng so that the gzip and PNG paths are there to fuzz
if [ ! -f "$BUILD/build.ninja" ]; then
    CC="$CC" meson setup "$BUILD" "$ROOT" \
        --buildtype=debugoptimized -Ddefault_library=static \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=all -fno-omit-frame-pointer" \
        -Dblas=none -Dblis=disabled -Dpng=enabled -Dzlib=enabled -Dtests=disabled \
        -Dexamples=false -Dbenches=false -Dtools=false -Dfuzz=disabled
else
    # a build dir made by an older run.sh had them disabled
    meson configure "$BUILD" -Dpng=enabled -Dzlib=enabled >/dev/null
fi
ninja -C "$BUILD" libminitensor.a

# 2. the fuzz target
EXE="$BUILD/fuzz_$TARGET"
$CC -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer $SAN \
    -I"$ROOT/tensor/include" -I"$ROOT/io/include" -I"$ROOT/nn/include" -I"$ROOT/train/include" \
    -I"$ROOT/include" \
    -I"$BUILD/tensor/include" -I"$ROOT/fuzz" -I"$ROOT/io" \
    "$ROOT/fuzz/fuzz_$TARGET.c" "$BUILD/libminitensor.a" \
    $(pkg-config --libs libpng zlib) -lm -lpthread \
    -o "$EXE"

# 3. seeds, then fuzz
mkdir -p "$BUILD/artifacts/$TARGET"
if [ "$TARGET" = safetensors ]; then
    CORPUS="$BUILD/corpus"
    mkdir -p "$CORPUS" "$BUILD/seeds"
    python3 "$ROOT/fuzz/make_corpus.py" "$BUILD/seeds"
    SEEDS="$BUILD/seeds $ROOT/fuzz/regressions"
    DICT="-dict=$ROOT/fuzz/safetensors.dict"
else
    CORPUS="$BUILD/corpus-$TARGET"
    mkdir -p "$CORPUS"
    SEEDS="$ROOT/fuzz/corpus/$TARGET"
    if [ -d "$ROOT/fuzz/regressions-io/$TARGET" ]; then
        SEEDS="$SEEDS $ROOT/fuzz/regressions-io/$TARGET"
    fi
    DICT=""
fi
echo "fuzz/run.sh: fuzzing $TARGET for $SECONDS_TO_RUN s (JOBS=$JOBS)"
FORK=""
if [ "$JOBS" -gt 1 ]; then FORK="-fork=$JOBS"; fi
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
"$EXE" $FORK \
    -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 $DICT \
    -artifact_prefix="$BUILD/artifacts/$TARGET/" -print_final_stats=1 \
    "$CORPUS" $SEEDS
