#!/usr/bin/env bash
# Installs the build into a scratch root, then compiles argmax_relu.c with
# nothing but `pkg-config --cflags --libs minitensor` and runs it.
set -euo pipefail
build=$1 src=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
meson install -C "$build" --destdir "$root" --no-rebuild --quiet >/dev/null
pcdir=$(dirname "$(find "$root" -name minitensor.pc | head -n 1)")
export PKG_CONFIG_PATH=$pcdir PKG_CONFIG_SYSROOT_DIR=$root
cc -std=c11 -Wall -Wextra -Werror "$src/argmax_relu.c" -o "$root/consumer" \
   $(pkg-config --cflags --libs minitensor)
libdir=$(pkg-config --variable=libdir minitensor)
# with PKG_CONFIG_SYSROOT_DIR set, libdir already points into $root
LD_LIBRARY_PATH=$libdir "$root/consumer"
