#!/usr/bin/env bash
# Builds the suite with AddressSanitizer + UndefinedBehaviorSanitizer (any
# report fails the test) and runs it. Options:
#   --valgrind  also the suite under valgrind (build-valgrind/)
#   --tsan      also the thread tests under ThreadSanitizer (build-tsan/,
#               `meson test --setup tsan --suite tsan`: concurrent forward
#               passes, matmuls on every backend, configuration changes)
#   --no-asan   skip the ASan/UBSan suite (e.g. `--no-asan --tsan`)
# Expects scripts/test.sh to have installed the packages.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
# the Python interop tests run in these builds too: the same venv as test.sh
MT_TEST_PYTHON=$(mt_python_venv "$PWD/build-venv")
export MT_TEST_PYTHON
MT_KERAS_PYTHON=$(mt_keras_venv "$PWD/build-venv-keras")
export MT_KERAS_PYTHON
asan=1 valgrind=0 tsan=0
for arg in "$@"; do
    case $arg in
        --valgrind) valgrind=1 ;;
        --tsan) tsan=1 ;;
        --no-asan) asan=0 ;;
        *) echo "usage: scripts/sanitize.sh [--valgrind] [--tsan] [--no-asan]" >&2; exit 2 ;;
    esac
done
status=0
if [ $asan = 1 ]; then
    if [ ! -f build-asan/build.ninja ]; then
        meson setup build-asan -Dtests=enabled -Dbuildtype=debugoptimized \
            -Db_sanitize=address,undefined -Db_lundef=false \
            -Dc_args=-fno-sanitize-recover=all -Dbenches=false >/dev/null
    fi
    ninja -C build-asan
    meson test -C build-asan --setup asan --print-errorlogs || status=1
fi
if [ $valgrind = 1 ]; then
    [ -f build-valgrind/build.ninja ] || meson setup build-valgrind -Dtests=enabled \
        -Dbuildtype=debugoptimized -Dbenches=false >/dev/null
    ninja -C build-valgrind
    meson test -C build-valgrind --setup valgrind --print-errorlogs --no-suite slow \
        --no-suite novalgrind || status=1
fi
if [ $tsan = 1 ]; then
    # Only the library and the thread tests: the examples and tools add
    # nothing here.
    [ -f build-tsan/build.ninja ] || meson setup build-tsan -Dtests=enabled \
        -Dbuildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false \
        -Dbenches=false -Dexamples=false -Dtools=false >/dev/null
    ninja -C build-tsan tests/test_threads
    meson test -C build-tsan --setup tsan --suite tsan --no-rebuild --print-errorlogs || status=1
fi
exit $status
