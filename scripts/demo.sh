#!/usr/bin/env bash
# Builds minitensor and runs the MNIST example on its embedded model.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
mt_require_packages "${MT_APT_PACKAGES[@]}"
[ -f build-demo/build.ninja ] || meson setup build-demo -Dtests=disabled -Dbenches=false >/dev/null
ninja -C build-demo examples/mnist/mnist >/dev/null
exec build-demo/examples/mnist/mnist "$@"
