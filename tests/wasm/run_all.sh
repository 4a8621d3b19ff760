#!/usr/bin/env bash
# tests/wasm/run_all.sh — everything WebAssembly, green or not:
#   1. the wasm32 build (minitensor-mnist.wasm) and its meson tests in Node
#      (suite 'wasm': kernel vs naive, the model under WASI, the reactor
#      module raw and through bindings/js, the committed copy up to date,
#      and the native cmocka suites on tests/wasm/cmocka_shim);
#   2. native logits of the 1000 test digits (`mnist eval … --logits`), which
#      the Node, Go and browser tests must match (same predictions, 1e-4);
#   3. go vet and go test in bindings/go;
#   4. the demo page in headless Chromium (tests/wasm/browser_test.mjs).
#
#   tests/wasm/run_all.sh [--wasm DIR] [--native DIR]
#
# DIRs default to build-wasm-x and build-native-x (set up here if missing;
# CI may pass its existing native build). Needs: clang lld llvm wasi-libc
# libclang-rt-14-dev-wasm32 binaryen nodejs chromium, Go >= 1.25, and
# network access for `npm ci` / Go modules on the first run.
set -euo pipefail
cd "$(dirname "$0")/../.."
wasm=build-wasm-x native=build-native-x
while [ $# -gt 0 ]; do
    case $1 in
        --wasm) wasm=$2; shift 2 ;;
        --native) native=$2; shift 2 ;;
        *) echo "usage: $0 [--wasm DIR] [--native DIR]" >&2; exit 2 ;;
    esac
done
results=()
step() { echo; echo "==== $*"; }
record() { # name, status
    results+=("$1=$([ "$2" = 0 ] && echo ok || echo FAIL)")
}

step "wasm32 build ($wasm)"
[ -f "$wasm/build.ninja" ] || cross/setup-wasm.sh "$wasm" -Dbenches=false -Dtools=false
ninja -C "$wasm"
if [ ! -f "$wasm/wasm/minitensor-mnist.wasm" ]; then
    echo "The wasm/ and tests/wasm/ directories are not hooked into the build. Add"
    echo "  meson.build, before subdir('tests'):   if is_wasm"
    echo "                                           subdir('wasm')"
    echo "                                         endif"
    echo "  tests/meson.build, at the top:          if is_wasm"
    echo "                                           subdir('wasm')"
    echo "                                           subdir_done()"
    echo "                                         endif"
    exit 1
fi
ls -l "$wasm/wasm/minitensor-mnist.wasm"

step "native logits ($native)"
[ -f "$native/build.ninja" ] ||
    meson setup "$native" -Dtests=disabled -Dbenches=false -Dtools=false -Dfuzz=disabled
ninja -C "$native" examples/mnist/mnist
data=examples/mnist/data
export MT_NATIVE_LOGITS=$(cd "$wasm" && pwd)/native-logits.f32
"$native/examples/mnist/mnist" eval $data/test-images-idx3-ubyte $data/test-labels-idx1-ubyte \
    --logits "$MT_NATIVE_LOGITS" --json

step "meson test --suite wasm"
set +e
meson test -C "$wasm" --suite wasm --print-errorlogs
record meson_wasm $?

step "go vet, go test (bindings/go)"
(cd bindings/go && go vet ./... && go test -count=1 -v ./... 2>&1 | grep -v '^=== RUN')
record go_test $?

step "browser (tests/wasm/browser_test.mjs)"
if [ ! -d tests/wasm/node_modules/playwright-core ]; then
    npm ci --prefix tests/wasm --no-audit --no-fund
fi
node tests/wasm/browser_test.mjs
record browser $?
set -e

echo
echo "wasm: ${results[*]}"
[[ " ${results[*]} " != *FAIL* ]]
