#!/usr/bin/env bash
# Builds the suite with AddressSanitizer + UndefinedBehaviorSanitizer (any
# report fails the test) and runs it; with --valgrind, also runs the suite
# under valgrind. Expects scripts/test.sh to have installed the packages.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan -Dtests=enabled -Dbuildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=-fno-sanitize-recover=all -Dbenches=false >/dev/null
fi
ninja -C build-asan
meson test -C build-asan --setup asan --print-errorlogs
if [ "${1:-}" = "--valgrind" ]; then
    [ -f build-valgrind/build.ninja ] || meson setup build-valgrind -Dtests=enabled \
        -Dbuildtype=debugoptimized -Dbenches=false >/dev/null
    ninja -C build-valgrind
    meson test -C build-valgrind --setup valgrind --print-errorlogs --no-suite slow \
        --no-suite novalgrind
fi
