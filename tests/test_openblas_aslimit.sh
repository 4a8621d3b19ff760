#!/usr/bin/env bash
# test_openblas_aslimit.sh MNIST IMAGES LABELS
# MT_BACKEND=openblas MT_NUM_THREADS=64 under address-space limits
# (ulimit -v): OpenBLAS retries a failed buffer allocation forever, so
# without the thread cap and the reservation check in gemm_openblas.c
# `mnist eval` never returns. Each run must finish (timeout 60 s) with the
# bundled model's accuracy on the bundled digits (957 of 1000, TensorFlow's).
set -uo pipefail
mnist=$1 images=$2 labels=$3
status=0
for mb in 250 300 400 600 1024; do
    out=$(MT_BACKEND=openblas MT_NUM_THREADS=64 timeout 60 \
          prlimit --as=$((mb * 1048576)) "$mnist" eval "$images" "$labels" --json 2>&1)
    rc=$?
    if [ $rc -ne 0 ] || ! grep -q '"correct": 957' <<<"$out"; then
        echo "FAIL: --as=${mb}M: exit $rc${out:+: $out}"
        status=1
    else
        echo "ok: --as=${mb}M: $out"
    fi
done
exit $status
