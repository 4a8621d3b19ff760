#!/usr/bin/env bash
# check_up_to_date.sh BUILT COMMITTED wasm-opt|no-wasm-opt
# The committed minitensor-mnist.wasm (bindings/go/mnist/, embedded by Go)
# must be byte-identical to the one this build produced. It is built with
# Debian 12's clang 14, wasi-libc and binaryen's wasm-opt; a build without
# wasm-opt cannot match, so the check is skipped there (exit 77).
set -euo pipefail
built=$1 committed=$2 opt=$3
if [ "$opt" != wasm-opt ]; then
    echo "skipped: wasm-opt (apt-get install binaryen) not found, so this build's module cannot match the committed one"
    exit 77
fi
if cmp -s "$built" "$committed"; then
    echo "up to date: $committed ($(stat -c %s "$committed") bytes)"
    exit 0
fi
echo "FAIL: $committed differs from the build's $built"
echo "  ($(stat -c %s "$committed") vs $(stat -c %s "$built") bytes). Refresh it with"
echo "  ninja -C $(dirname "$(dirname "$built")") update-wasm-bindings"
echo "and commit it (Go's //go:embed and bindings/js use that copy)."
exit 1
