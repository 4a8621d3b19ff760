#!/usr/bin/env bash
# install.sh SRC_ROOT CONSUMER_DIR SAFETENSORS_FILE
# The README's install, for real: configure minitensor with a fresh
# --prefix, `meson install`, then
#   1. run the installed mt-inspect with no LD_LIBRARY_PATH (its rpath),
#   2. build argmax_relu.c with `pkg-config --cflags --libs minitensor` and
#      run it (LD_LIBRARY_PATH=$(pkg-config --variable=libdir minitensor)),
#   3. link it fully statically with `pkg-config --static --libs` (no BLAS
#      library in it: OpenBLAS/BLIS are dlopen'ed, -ldl) and run it,
#   4. compile every installed header alone as C11 and C++17 (headers.sh),
#   5. check that the shared library exports, and the static one defines,
#      mt_ names only.
set -euo pipefail
src=$1 consumer=$2 weights=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fail() { echo "FAIL: $*"; exit 1; }

meson setup "$work/build" "$src" --prefix="$prefix" -Dtests=disabled -Dexamples=false \
    -Dbenches=false -Dfuzz=disabled >/dev/null || fail "meson setup"
ninja -C "$work/build" >/dev/null || fail "build"
meson install -C "$work/build" --quiet >/dev/null || fail "meson install"
pc=$(find "$prefix" -name minitensor.pc)
[ -n "$pc" ] || fail "no minitensor.pc under $prefix"
echo "ok: installed; minitensor.pc in ${pc#"$prefix"/}"

out=$(env -u LD_LIBRARY_PATH "$prefix/bin/mt-inspect" "$weights") || fail "mt-inspect: $out"
grep -q "4 tensors" <<<"$out" || fail "mt-inspect output: $out"
echo "ok: installed mt-inspect runs (rpath)"

export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir minitensor)
cc -std=c11 -Wall -Wextra -Werror "$consumer/argmax_relu.c" -o "$work/dynamic" \
    $(pkg-config --cflags --libs minitensor) || fail "dynamic link"
LD_LIBRARY_PATH=$libdir "$work/dynamic" || fail "dynamic consumer"
# ldd's whole output first: `ldd | grep -q` under pipefail fails at random
# when grep exits before ldd has written everything (SIGPIPE)
libs=$(LD_LIBRARY_PATH=$libdir ldd "$work/dynamic")
grep -qF "$libdir/libminitensor.so" <<<"$libs" || fail "not linked to $libdir: $libs"
echo "ok: dynamic consumer"

# The linker warns that dlopen in a static program needs glibc's shared
# libraries at run time; the library refuses to dlopen there (below).
cc -std=c11 -Wall -Wextra -Werror -static "$consumer/argmax_relu.c" -o "$work/static" \
    $(pkg-config --cflags --static --libs minitensor) 2>"$work/static.log" ||
    fail "static link: $(cat "$work/static.log")"
env -u LD_LIBRARY_PATH "$work/static" || fail "static consumer"
if ldd "$work/static" >/dev/null 2>&1; then fail "the static consumer is dynamic"; fi
echo "ok: static consumer"
# OpenBLAS is opened at run time, which a static program cannot do safely
# (a second libc): asking for it is a clear error, not a crash.
set +e
err=$(MT_BACKEND=openblas env -u LD_LIBRARY_PATH "$work/static" 2>&1)
rc=$?
set -e
[ $rc -eq 1 ] || fail "static consumer with MT_BACKEND=openblas: exit $rc: $err"
grep -qE "statically linked program|not a backend this build has" <<<"$err" ||
    fail "static consumer with MT_BACKEND=openblas: $err"
echo "ok: static consumer refuses OpenBLAS clearly"

"$consumer/headers.sh" "$(pkg-config --variable=includedir minitensor)" "$libdir"

# An internal function exported under a plain name ("sum_to_shape") would be
# interposed by a consumer's own function of that name.
exported=$(nm -D --defined-only "$libdir/libminitensor.so" | awk '{print $3}')
others=$(grep -v '^mt_' <<<"$exported" || true)
[ -z "$others" ] || fail "libminitensor.so exports names without the mt_ prefix:" $others
echo "ok: the shared library exports $(wc -l <<<"$exported") names, all mt_"
# A static archive cannot hide its internal names: one of them under a plain
# name ("json_init") would clash with a consumer's or another library's.
globals=$(nm -g --defined-only "$libdir/libminitensor.a" | awk '$2 ~ /^[TDRBC]$/ {print $3}')
others=$(grep -v '^mt_' <<<"$globals" || true)
[ -z "$others" ] || fail "libminitensor.a defines globals without the mt_ prefix:" $others
echo "ok: the static library defines $(wc -l <<<"$globals") globals, all mt_"
