#!/usr/bin/env bash
# benches/wasm/run.sh — the MNIST model, one thread, everywhere it runs:
#   native      BUILD/benches/bench_mnist (per backend; AVX2/AVX-512 kernel)
#   wasm WASI   the same program built for wasm32, under Node's WASI
#   wasm Node   minitensor-mnist.wasm through bindings/js, beside
#               TensorFlow.js (wasm backend) and ONNX Runtime Web
#               (bench_node.mjs; npm ci here on first use)
#   wasm Go     bindings/go through wazero (go test -bench, median of 5)
# Every program validates its logits against TensorFlow's before timing and
# reports medians. Results (JSON) go to OUT (default WASM-DIR/bench-results).
#
#   benches/wasm/run.sh [--wasm DIR] [--native DIR] [--out DIR]
#
# DIRs default to build-wasm-bench-x (wasm32, benches on) and build-native-x.
# Node measures the module committed in bindings/go/mnist (what users get).
set -euo pipefail
cd "$(dirname "$0")/../.."
wasm=build-wasm-bench-x native=build-native-x out=
while [ $# -gt 0 ]; do
    case $1 in
        --wasm) wasm=$2; shift 2 ;;
        --native) native=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "usage: $0 [--wasm DIR] [--native DIR] [--out DIR]" >&2; exit 2 ;;
    esac
done
out=${out:-$wasm/bench-results}
mkdir -p "$out"
out=$(cd "$out" && pwd)
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs," \
     "load $(cut -d' ' -f1-3 /proc/loadavg); node $(node --version), $(go version | cut -d' ' -f3)"

echo; echo "==== native ($native/benches/bench_mnist)"
[ -f "$native/build.ninja" ] || meson setup "$native" -Dtests=disabled -Dfuzz=disabled
meson configure "$native" -Dbenches=true >/dev/null
ninja -C "$native" benches/bench_mnist >/dev/null
"$native/benches/bench_mnist" "$out/native.json"

echo; echo "==== wasm32 under Node's WASI ($wasm/benches/bench_mnist)"
# its own build dir: only these two targets are built (not every bench
# builds for wasm32)
[ -f "$wasm/build.ninja" ] || cross/setup-wasm.sh "$wasm" -Dbenches=true >/dev/null
ninja -C "$wasm" benches/bench_mnist wasm/minitensor-mnist.wasm >/dev/null
node --no-warnings cross/wasi-run.mjs "$wasm/benches/bench_mnist" "$out/wasm-wasi.json"

echo; echo "==== minitensor-mnist.wasm in Node, beside TensorFlow.js and ONNX Runtime Web"
[ -d benches/wasm/node_modules/onnxruntime-web ] || npm ci --prefix benches/wasm --no-audit --no-fund
node benches/wasm/bench_node.mjs --json "$out/node.json"

echo; echo "==== minitensor-mnist.wasm in Go (wazero), go test -bench, 5 runs"
(cd bindings/go && go test -run '^$' -bench . -benchtime 2s -count 5 ./mnist) | tee "$out/go.txt" |
    grep -E '^Benchmark'
python3 - "$out/go.txt" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r'(Benchmark\S+?)(-\d+)?\s+\d+\s+([\d.]+) ns/op', line)
    if m:
        runs.setdefault(m.group(1), []).append(float(m.group(3)))
for name, v in sorted(runs.items()):
    print(f"{name:30s} median {statistics.median(v):,.0f} ns/op over {len(v)} runs")
PY
