#!/usr/bin/env bash
# Builds minitensor and runs the whole test suite (meson test). Extra
# arguments go to `meson test`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
mt_require_packages "${MT_APT_PACKAGES[@]}" "${MT_TEST_APT_PACKAGES[@]}"
MT_TEST_PYTHON=$(mt_python_venv "$PWD/build-venv")
export MT_TEST_PYTHON
MT_KERAS_PYTHON=$(mt_keras_venv "$PWD/build-venv-keras")
export MT_KERAS_PYTHON
[ -f build/build.ninja ] || meson setup build -Dtests=enabled >/dev/null
ninja -C build
meson test -C build --print-errorlogs "$@"
