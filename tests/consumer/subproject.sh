#!/usr/bin/env bash
# A separate Meson project that pulls minitensor in as a subproject and
# finds it with dependency('minitensor') (meson.override_dependency); a C
# and a C++ program.
set -euo pipefail
src=$1 repo=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$src/subproject/meson.build" "$src/argmax_relu.c" "$src/graph_layer.cpp" "$work/"
mkdir "$work/subprojects"
ln -s "$repo" "$work/subprojects/minitensor"
cd "$work"
meson setup b -Dminitensor:tests=disabled -Dminitensor:examples=false \
  -Dminitensor:benches=false -Dminitensor:tools=false -Dminitensor:fuzz=disabled >/dev/null
ninja -C b >/dev/null
b/consumer
b/consumer_cxx
