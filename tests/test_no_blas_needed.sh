#!/usr/bin/env bash
# test_no_blas_needed.sh FILE...
# OpenBLAS and BLIS are opened at run time (tensor/dynlib.c), so no program
# or library of ours may name them, or what they drag in (libgfortran,
# libgomp, libquadmath), in its dynamic section: each would be loaded by
# every program at start-up (`mnist predict` took 10 ms instead of 1.5).
set -uo pipefail
status=0
for f in "$@"; do
    dyn=$(readelf -d "$f" 2>&1) || { echo "FAIL: readelf -d $f: $dyn"; status=1; continue; }
    needed=$(grep NEEDED <<<"$dyn")
    [ -n "$needed" ] || { echo "FAIL: $f: no NEEDED entries (not a dynamic file?)"; status=1; continue; }
    bad=$(grep -E 'lib(openblas|blis|gfortran|gomp|quadmath)' <<<"$needed")
    if [ -n "$bad" ]; then
        echo "FAIL: $f needs:"; echo "$bad"; status=1
    else
        echo "ok: $f needs only:" $(sed -n 's/.*\[\(.*\)\]/\1/p' <<<"$needed")
    fi
done
exit $status
