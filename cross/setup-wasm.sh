#!/usr/bin/env bash
# meson setup for wasm32-wasi: cross/setup-wasm.sh BUILD_DIR [MESON_ARGS…]
# meson 1.0 has no @DIRNAME@ in machine files, so the cross file's paths to
# cross/ are filled in here (into BUILD_DIR.ini, beside the build dir).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1
shift
ini="$(dirname "$build")/$(basename "$build").ini"
sed "s|@DIRNAME@|$here|" "$here/wasm32-wasi.ini" > "$ini"
exec meson setup "$build" --cross-file "$ini" "$@"
