#!/usr/bin/env bash
# compare_all.sh OUT_DIR — every speed comparison of docs/benchmarks.md in one
# run, on this machine, at one and two threads, the default kernel and the
# AVX2 kernel forced (MT_NATIVE_KERNEL=avx2; skipped where the CPU has no
# AVX2): bench_matmul (native against OpenBLAS), mnist_compare.py (against
# onnxruntime, NumPy), fashion_compare.py (against onnxruntime, TensorFlow)
# and startup.py. Writes each tool's table (.txt) and JSON into OUT_DIR.
#
# Builds build/ (release) if needed and makes the two pinned venvs the
# comparisons need (build-venv-bench-mnist, build-venv-bench-fashion, from
# benches/requirements-*.txt) unless MNIST_PY and FASHION_PY name pythons
# that have them. Run it on a quiet machine: the figures are wall-clock
# medians.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: benches/compare_all.sh OUT_DIR}
. scripts/deps.sh
mt_require_packages "${MT_APT_PACKAGES[@]}" python3 python3-venv
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
MNIST_PY=${MNIST_PY:-$(mt_python_venv "$PWD/build-venv-bench-mnist" benches/requirements-mnist.txt)}
FASHION_PY=${FASHION_PY:-$(mt_python_venv "$PWD/build-venv-bench-fashion" benches/requirements-fashion.txt)}
mkdir -p "$out"
# OpenBLAS against its best: a CPU newer than the OpenBLAS build gets a
# generic kernel set (0.3.21 on Emerald Rapids: Prescott, SSE3, a fifth of
# its AVX-512 speed), so name the set this CPU's ISA takes unless the caller
# chose one.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    core=$(python3 -c 'import ctypes; l = ctypes.CDLL("libopenblas.so.0")
l.openblas_get_corename.restype = ctypes.c_char_p; print(l.openblas_get_corename().decode())')
    case ${core,,} in
        haswell|zen|skylakex|cooperlake|sapphirerapids) ;;
        *) if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
           elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
           [ -n "${OPENBLAS_CORETYPE:-}" ] &&
               echo "OpenBLAS chose $core for this CPU: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE" ;;
    esac
fi
kernels=(auto)
grep -qw avx2 /proc/cpuinfo && kernels+=(avx2)
(date -u; uptime; grep -m1 "model name" /proc/cpuinfo
 echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}") | tee "$out/machine.txt"
for t in 1 2; do
    for k in "${kernels[@]}"; do
        force=()
        [ "$k" = auto ] || force=(--kernel "$k")
        build/benches/bench_matmul "$out/matmul-$k-$t.json" --threads "$t" "${force[@]}" \
            --min-size 256 --max-size 2048 --backends native,openblas > "$out/matmul-$k-$t.txt"
        env=()
        [ "$k" = auto ] || env=(MT_NATIVE_KERNEL="$k")
        env "${env[@]}" "$MNIST_PY" benches/mnist_compare.py --bench build/benches/bench_mnist \
            --threads "$t" --json "$out/mnist-$k-$t.json" > "$out/mnist-$k-$t.txt"
        env "${env[@]}" "$FASHION_PY" benches/fashion_compare.py \
            --bench build/benches/bench_fashion --threads "$t" \
            --json "$out/fashion-$k-$t.json" > "$out/fashion-$k-$t.txt"
    done
done
python3 benches/startup.py build/examples/mnist/mnist tests/mnist/seven.pgm -n 300 \
    --json "$out/startup.json" > "$out/startup.txt"
tail -n +1 "$out"/mnist-*.txt "$out"/fashion-*.txt "$out"/startup.txt | grep -vE '^\s*[][{}"]'
