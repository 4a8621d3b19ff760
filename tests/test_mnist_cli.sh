#!/bin/sh
# test_mnist_cli.sh — the `mnist` program end to end: the demo, predict and
# eval on good input (predictions and logits checked against TensorFlow's),
# PyTorch-layout weights, and every kind of bad input (exit status and the
# one-line message on stderr).
#
# usage: test_mnist_cli.sh MNIST FIXTURES DATA_DIR IMAGE_DIR png|no-png
set -u
MNIST=$1 FIX=$2 DATA=$3 IMG=$4 PNG=$5
IMAGES=$DATA/test-images-idx3-ubyte
LABELS=$DATA/test-labels-idx1-ubyte
. "$(dirname "$0")/cli_helpers.sh"

# ---- the demo -------------------------------------------------------------------
ok "demo runs" "$MNIST"
has "demo draws digits with predictions" "label 0 -> 0"
has "demo prints the accuracy" "accuracy on 1000 held-out digits:"
pct=$(sed -n 's/^accuracy on [0-9]* held-out digits: \([0-9.]*\)%.*/\1/p' "$TMP/out")
if awk -v p="${pct:-0}" 'BEGIN { exit !(p >= 92) }'; then pass "demo accuracy $pct% >= 92%"
else flunk "demo accuracy" "$pct% < 92%"; fi

# ---- eval, against TensorFlow ------------------------------------------------------
tf_accuracy=$(sed -n 's/.*"accuracy": \([0-9.]*\).*/\1/p' "$DATA/reference.json" | head -n 1)
ok "eval --json" "$MNIST" eval "$IMAGES" "$LABELS" --json
has "eval --json: n" "{\"n\": 1000, \"correct\": "
has "eval --json: accuracy $tf_accuracy" "\"accuracy\": $tf_accuracy}"
cp "$TMP/out" "$TMP/keras.json"
ok "eval report" "$MNIST" eval "$IMAGES" "$LABELS"
has "eval: per-class accuracy" "per-class accuracy:"
has "eval: confusion matrix" "confusion matrix (rows: label, columns: prediction):"
ok "eval --logits" "$MNIST" eval "$IMAGES" "$LABELS" --logits "$TMP/logits.f32"
ok "logits within 1e-4 of TensorFlow's" "$FIX" compare "$TMP/logits.f32" "$DATA/test-logits.f32" 1e-4
cat "$TMP/out"

# ---- PyTorch-layout weights (written by minitensor's safetensors writer) ------------
ok "make PyTorch-layout weights" "$FIX" torch "$DATA/mnist_mlp.safetensors" "$TMP/torch.safetensors"
ok "eval with PyTorch layout" "$MNIST" --weights "$TMP/torch.safetensors" eval "$IMAGES" "$LABELS" \
    --json --logits "$TMP/torch-logits.f32"
if cmp -s "$TMP/out" "$TMP/keras.json"; then pass "PyTorch layout: same predictions"
else flunk "PyTorch layout: same predictions" "$(cat "$TMP/out") vs $(cat "$TMP/keras.json")"; fi
ok "PyTorch layout: logits within 1e-4 of TensorFlow's" \
    "$FIX" compare "$TMP/torch-logits.f32" "$DATA/test-logits.f32" 1e-4
ok "demo with --weights" "$MNIST" --weights "$DATA/mnist_mlp.safetensors"

# ---- predict ------------------------------------------------------------------------
ok "predict PGM P5, P2, 16-bit" "$MNIST" predict "$IMG/seven.pgm" "$IMG/three-ascii.pgm" "$IMG/four-16bit.pgm"
has "predict: seven.pgm is a 7" "seven.pgm: 7"
has "predict: three-ascii.pgm is a 3" "three-ascii.pgm: 3"
has "predict: four-16bit.pgm is a 4" "four-16bit.pgm: 4"
has "predict: probabilities" "  0:0."
if [ "$PNG" = png ]; then
    ok "predict PNG" "$MNIST" predict "$IMG/nine-rgb.png"
    has "predict: nine-rgb.png is a 9" "nine-rgb.png: 9"
    ok "predict --invert PNG" "$MNIST" predict --invert "$IMG/two-inverted.png"
    has "predict: two-inverted.png is a 2" "two-inverted.png: 2"
    bad "PNG of the wrong size" 1 "big.png: image is 32x32, expected 28x28" \
        "$MNIST" predict "$IMG/big.png"
else
    bad "PNG without libpng" 1 "built without PNG support" "$MNIST" predict "$IMG/nine-rgb.png"
fi

# ---- bad input: one line on stderr, exit 1, never a crash ----------------------------
bad "image of the wrong size" 1 "small.pgm: image is 27x28, expected 28x28" \
    "$MNIST" predict "$IMG/small.pgm"
bad "not an image" 1 "not-an-image.txt: not a PGM (P2/P5) or PNG image" \
    "$MNIST" predict "$IMG/not-an-image.txt"
bad "truncated PGM" 1 "truncated.pgm: truncated: a 28x28 PGM needs 784 bytes of pixels, 100 follow" \
    "$MNIST" predict "$IMG/truncated.pgm"
full "predict to a full disk" "mnist: writing to standard output: No space left on device" \
    "$MNIST" predict "$IMG/seven.pgm"
full "the demo to a full disk" "mnist: writing to standard output" "$MNIST"
bad "missing image" 1 "$TMP/nope.pgm: No such file or directory" "$MNIST" predict "$TMP/nope.pgm"

head -c 5000 "$IMAGES" >"$TMP/truncated-idx"
bad "truncated IDX" 1 "truncated-idx: truncated: the header announces 784000 bytes of data, 4984 follow" \
    "$MNIST" eval "$TMP/truncated-idx" "$LABELS"
bad "not an IDX file" 1 "not-an-image.txt: not an IDX file" \
    "$MNIST" eval "$IMG/not-an-image.txt" "$LABELS"
bad "labels and images swapped" 1 "an IDX file of rank 1, expected images [N,28,28]" \
    "$MNIST" eval "$LABELS" "$IMAGES"
{ printf '\000\000\010\001\000\000\001\364'; tail -c +9 "$LABELS" | head -c 500; } >"$TMP/labels500"
bad "fewer labels than images" 1 "labels500: 500 labels for 1000 images" \
    "$MNIST" eval "$IMAGES" "$TMP/labels500"
printf '\000\000\010\003\000\000\000\000\000\000\000\034\000\000\000\034' >"$TMP/images0"
printf '\000\000\010\001\000\000\000\000' >"$TMP/labels0"
bad "no images" 1 "images0: no images (an IDX file of [0,28,28])" \
    "$MNIST" eval "$TMP/images0" "$TMP/labels0" --json

ok "make wrong-shape weights" "$FIX" reshape "$DATA/mnist_mlp.safetensors" "$TMP/wrong.safetensors" d1_w 784 100
bad "wrong weight shape" 1 "linear d1_w: weight d1_w [784,100], expected [784,128] (Keras (in,out)) or [128,784] (PyTorch (out,in))" \
    "$MNIST" --weights "$TMP/wrong.safetensors"
ok "make 1-D d2_w" "$FIX" reshape "$DATA/mnist_mlp.safetensors" "$TMP/flat.safetensors" d2_w 1280
bad "weight with the wrong rank" 1 "linear d2_w: weight d2_w [1280], expected 2 dims" \
    "$MNIST" --weights "$TMP/flat.safetensors" eval "$IMAGES" "$LABELS"
ok "make weights without d2_b" "$FIX" drop "$DATA/mnist_mlp.safetensors" "$TMP/missing.safetensors" d2_b
bad "missing tensor" 1 "no tensor named 'd2_b'" "$MNIST" --weights "$TMP/missing.safetensors"
bad "weights that are not safetensors" 1 "safetensors: $IMG/not-an-image.txt" \
    "$MNIST" --weights "$IMG/not-an-image.txt"
bad "missing weights file" 1 "$TMP/none.safetensors: cannot open" \
    "$MNIST" --weights "$TMP/none.safetensors"

# Non-finite weights are refused at load, naming the tensor and the index;
# finite weights whose outputs overflow float32 are refused after the run.
ok "make NaN weights" "$FIX" set "$DATA/mnist_mlp.safetensors" "$TMP/nan.safetensors" d1_w 389 nan
bad "NaN weight" 1 "linear d1_w: d1_w [784,128] holds NaN at flat index 389 ([3,5])" \
    "$MNIST" --weights "$TMP/nan.safetensors" predict "$IMG/seven.pgm"
ok "make Inf bias" "$FIX" set "$DATA/mnist_mlp.safetensors" "$TMP/inf.safetensors" d2_b 7 -inf
bad "Inf bias" 1 "linear d2_w: d2_b [10] holds -Inf at flat index 7 ([7])" \
    "$MNIST" --weights "$TMP/inf.safetensors" eval "$IMAGES" "$LABELS"
ok "make overflowing weights" "$FIX" set "$DATA/mnist_mlp.safetensors" "$TMP/huge.safetensors" d2_w -1 3e38
bad "overflowing logits (predict)" 1 "seven.pgm: the model's output is not finite (logit 0 is +Inf)" \
    "$MNIST" --weights "$TMP/huge.safetensors" predict "$IMG/seven.pgm"
bad "overflowing logits (eval)" 1 "image 0: the model's output is not finite (logit 0 is +Inf)" \
    "$MNIST" --weights "$TMP/huge.safetensors" eval "$IMAGES" "$LABELS" --json

# --logits is written atomically: a write that fails (here: a file-size limit,
# as a full disk would) leaves the existing file as it was and says why.
printf old >"$TMP/old.f32"
bad "failed --logits write keeps the old file" 1 "old.f32: write failed: File too large" \
    bash -c 'trap "" XFSZ; ulimit -f 1; exec "$@"' sh "$MNIST" eval "$IMAGES" "$LABELS" \
    --logits "$TMP/old.f32"
if [ "$(cat "$TMP/old.f32")" = old ]; then pass "--logits target unchanged"
else flunk "--logits target unchanged" "now $(wc -c <"$TMP/old.f32") bytes"; fi
bad "--logits to a device" 1 "/dev/full: not a regular file" \
    "$MNIST" eval "$IMAGES" "$LABELS" --logits /dev/full

# ---- the command line -----------------------------------------------------------------
bad "unknown command" 2 "unknown command frobnicate" "$MNIST" frobnicate
bad "empty command" 2 "unknown command ''" "$MNIST" ""
bad "unknown option" 2 "unknown option --fast" "$MNIST" --fast
bad "eval needs two files" 2 "eval needs IMAGES and LABELS" "$MNIST" eval "$IMAGES"
bad "predict needs an image" 2 "predict needs at least one IMAGE" "$MNIST" predict
bad "--json is for eval" 2 "--json applies to eval only" "$MNIST" predict --json "$IMG/seven.pgm"
bad "--weights needs a value" 2 "missing value for --weights" "$MNIST" --weights
bad "--weights twice" 2 "--weights given twice" "$MNIST" --weights a --weights b
bad "--logits twice" 2 "--logits given twice" "$MNIST" eval "$IMAGES" "$LABELS" --logits a --logits b
bad "bad MT_BACKEND, before any work" 1 "backend: MT_BACKEND=\"tpu\" is not a backend" \
    env MT_BACKEND=tpu "$MNIST" eval "$IMAGES" "$LABELS"
ok "--help" "$MNIST" --help
has "--help: usage" "usage: mnist"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
