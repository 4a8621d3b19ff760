#!/bin/sh
# test_fashion_cli.sh — the `fashion` program end to end: the demo, predict
# and eval on good input (predictions and logits checked against Keras'),
# gzip-compressed IDX, PyTorch-layout dense weights, and every kind of bad
# input (exit status and the one-line message on stderr).
#
# usage: test_fashion_cli.sh FASHION FIXTURES DATA_DIR IMAGE_DIR MNIST_IMAGE_DIR \
#            png|no-png zlib|no-zlib
set -u
FASHION=$1 FIX=$2 DATA=$3 IMG=$4 MNIST_IMG=$5 PNG=$6 ZLIB=$7
IMAGES=$DATA/test-images-idx3-ubyte
LABELS=$DATA/test-labels-idx1-ubyte
. "$(dirname "$0")/cli_helpers.sh"

# ---- the demo -------------------------------------------------------------------
ok "demo runs" "$FASHION"
has "demo lists the layers" "conv2d conv1_w (3x3, 1->32 channels, Keras HWIO, relu)"
has "demo draws images with class names" "-> Ankle boot"
has "demo shows a mistake" "(wrong)"
has "demo prints the accuracy" "accuracy on 500 held-out images:"
pct=$(sed -n 's/^accuracy on [0-9]* held-out images: \([0-9.]*\)%.*/\1/p' "$TMP/out")
if awk -v p="${pct:-0}" 'BEGIN { exit !(p >= 90) }'; then pass "demo accuracy $pct% >= 90%"
else flunk "demo accuracy" "$pct% < 90%"; fi

# ---- eval, against Keras ------------------------------------------------------------
slice_accuracy=$(sed -n 's/.*"accuracy_slice": \([0-9.]*\).*/\1/p' "$DATA/reference.json")
ok "eval --json" "$FASHION" eval "$IMAGES" "$LABELS" --json
has "eval --json: n" "{\"n\": 500, \"correct\": "
has "eval --json: accuracy $slice_accuracy (Keras)" "\"accuracy\": $slice_accuracy}"
cp "$TMP/out" "$TMP/keras.json"
ok "eval report" "$FASHION" eval "$IMAGES" "$LABELS"
has "eval: per-class accuracy with class names" "  9 Ankle boot"
has "eval: T-shirt/top" "  0 T-shirt/top"
has "eval: confusion matrix" "confusion matrix (rows: label, columns: prediction):"
ok "eval --logits" "$FASHION" eval "$IMAGES" "$LABELS" --logits "$TMP/logits.f32"
ok "logits within 1e-4 of Keras'" "$FIX" compare "$TMP/logits.f32" "$DATA/test-logits.f32" 1e-4
cat "$TMP/out"

# ---- gzip-compressed IDX ------------------------------------------------------------
gzip -c "$IMAGES" >"$TMP/images.gz"
gzip -c "$LABELS" >"$TMP/labels.gz"
if [ "$ZLIB" = zlib ]; then
    ok "eval .gz" "$FASHION" eval "$TMP/images.gz" "$TMP/labels.gz" --json
    if cmp -s "$TMP/out" "$TMP/keras.json"; then pass "eval .gz: same result"
    else flunk "eval .gz: same result" "$(cat "$TMP/out")"; fi
    head -c 20000 "$TMP/images.gz" >"$TMP/cut.gz"
    bad "truncated .gz" 1 "cut.gz: truncated gzip stream (it ends after 20000 bytes)" \
        "$FASHION" eval "$TMP/cut.gz" "$LABELS"
    { cat "$TMP/labels.gz"; printf 'junk'; } >"$TMP/junk.gz"
    bad "trailing junk after .gz" 1 "junk.gz: 4 bytes of trailing data after the gzip stream" \
        "$FASHION" eval "$IMAGES" "$TMP/junk.gz"
else
    bad ".gz without zlib" 1 "images.gz: gzip-compressed, but minitensor was built without zlib" \
        "$FASHION" eval "$TMP/images.gz" "$TMP/labels.gz"
fi

# ---- other weights (written by minitensor's safetensors writer) ------------------------
ok "make PyTorch-layout dense weights" "$FIX" torch "$DATA/fashion_cnn.safetensors" "$TMP/torch.safetensors"
ok "eval with PyTorch-layout dense weights" "$FASHION" --weights "$TMP/torch.safetensors" \
    eval "$IMAGES" "$LABELS" --json --logits "$TMP/torch-logits.f32"
if cmp -s "$TMP/out" "$TMP/keras.json"; then pass "PyTorch layout: same predictions"
else flunk "PyTorch layout: same predictions" "$(cat "$TMP/out") vs $(cat "$TMP/keras.json")"; fi
ok "PyTorch layout: logits within 1e-4 of Keras'" \
    "$FIX" compare "$TMP/torch-logits.f32" "$DATA/test-logits.f32" 1e-4
ok "make a wrong conv kernel" "$FIX" reshape "$DATA/fashion_cnn.safetensors" "$TMP/wrong.safetensors" conv2_w 3 3 32 32
bad "wrong conv kernel shape" 1 "conv2d conv2_w: kernel conv2_w [3,3,32,32], expected [3,3,32,64] (Keras (kh,kw,in,out))" \
    "$FASHION" --weights "$TMP/wrong.safetensors"
ok "make a 2-D conv kernel" "$FIX" reshape "$DATA/fashion_cnn.safetensors" "$TMP/flat.safetensors" conv1_w 9 32
bad "conv kernel with the wrong rank" 1 "conv2d conv1_w: kernel conv1_w [9,32], expected 4 dims" \
    "$FASHION" --weights "$TMP/flat.safetensors" eval "$IMAGES" "$LABELS"
ok "make a wrong conv bias" "$FIX" reshape "$DATA/fashion_cnn.safetensors" "$TMP/bias.safetensors" conv1_b 16
bad "wrong conv bias" 1 "conv2d conv1_w: bias conv1_b [16], expected [32]" \
    "$FASHION" --weights "$TMP/bias.safetensors"
ok "make a wrong dense weight" "$FIX" reshape "$DATA/fashion_cnn.safetensors" "$TMP/d1.safetensors" d1_w 1690 128
bad "dense weight for the wrong flatten size" 1 "linear d1_w: weight d1_w [1690,128], expected [1600,128] (Keras (in,out)) or [128,1600] (PyTorch (out,in))" \
    "$FASHION" --weights "$TMP/d1.safetensors"
ok "make weights without conv1_b" "$FIX" drop "$DATA/fashion_cnn.safetensors" "$TMP/missing.safetensors" conv1_b
bad "missing tensor" 1 "conv2d conv1_w: safetensors: " "$FASHION" --weights "$TMP/missing.safetensors"
bad "missing tensor: named" 1 "no tensor named 'conv1_b'" "$FASHION" --weights "$TMP/missing.safetensors"
bad "the MNIST weights" 1 "no tensor named 'conv1_w'" \
    "$FASHION" --weights "$DATA/../../mnist/data/mnist_mlp.safetensors"
bad "missing weights file" 1 "$TMP/none.safetensors: cannot open" \
    "$FASHION" --weights "$TMP/none.safetensors"

# ---- predict ------------------------------------------------------------------------
ok "predict PGM P5, P2" "$FASHION" predict "$IMG/ankle-boot.pgm" "$IMG/trouser-ascii.pgm"
has "predict: ankle-boot.pgm" "ankle-boot.pgm: 9 Ankle boot ("
has "predict: trouser-ascii.pgm" "trouser-ascii.pgm: 1 Trouser ("
has "predict: probabilities" "  0:0."
if [ "$PNG" = png ]; then
    ok "predict PNG" "$FASHION" predict "$IMG/pullover.png"
    has "predict: pullover.png" "pullover.png: 2 Pullover ("
    ok "predict --invert RGB PNG" "$FASHION" predict --invert "$IMG/sneaker-inverted.png"
    has "predict: sneaker-inverted.png" "sneaker-inverted.png: 7 Sneaker ("
    bad "PNG of the wrong size" 1 "bag-wide.png: image is 29x28, expected 28x28" \
        "$FASHION" predict "$IMG/bag-wide.png"
else
    bad "PNG without libpng" 1 "built without PNG support" "$FASHION" predict "$IMG/pullover.png"
fi
bad "image of the wrong size" 1 "small.pgm: image is 27x28, expected 28x28" \
    "$FASHION" predict "$MNIST_IMG/small.pgm"
bad "not an image" 1 "not-an-image.txt: not a PGM (P2/P5) or PNG image" \
    "$FASHION" predict "$MNIST_IMG/not-an-image.txt"
bad "truncated PGM" 1 "truncated.pgm: truncated: a 28x28 PGM needs 784 bytes of pixels, 100 follow" \
    "$FASHION" predict "$MNIST_IMG/truncated.pgm"
bad "missing image" 1 "$TMP/nope.pgm: No such file or directory" "$FASHION" predict "$TMP/nope.pgm"

# ---- bad IDX input ------------------------------------------------------------------
head -c 5000 "$IMAGES" >"$TMP/truncated-idx"
bad "truncated IDX" 1 "truncated-idx: truncated: the header announces 392000 bytes of data, 4984 follow" \
    "$FASHION" eval "$TMP/truncated-idx" "$LABELS"
bad "not an IDX file" 1 "not-an-image.txt: not an IDX file" \
    "$FASHION" eval "$MNIST_IMG/not-an-image.txt" "$LABELS"
bad "labels and images swapped" 1 "an IDX file of rank 1, expected images [N,28,28]" \
    "$FASHION" eval "$LABELS" "$IMAGES"
{ printf '\000\000\010\001\000\000\000\144'; tail -c +9 "$LABELS" | head -c 100; } >"$TMP/labels100"
bad "fewer labels than images" 1 "labels100: 100 labels for 500 images" \
    "$FASHION" eval "$IMAGES" "$TMP/labels100"
{ printf '\000\000\010\001\000\000\001\364'; head -c 499 /dev/zero; printf '\014'; } >"$TMP/label12"
bad "a label that is not a class" 1 "label12: label 12 at index 499 is not a class (0..9)" \
    "$FASHION" eval "$IMAGES" "$TMP/label12"
bad "missing IDX file" 1 "$TMP/none-idx: No such file or directory" \
    "$FASHION" eval "$TMP/none-idx" "$LABELS"

# ---- the command line -----------------------------------------------------------------
bad "unknown command" 2 "unknown command frobnicate" "$FASHION" frobnicate
bad "unknown option" 2 "unknown option --fast" "$FASHION" --fast
bad "eval needs two files" 2 "eval needs IMAGES and LABELS" "$FASHION" eval "$IMAGES"
bad "predict needs an image" 2 "predict needs at least one IMAGE" "$FASHION" predict
bad "--json is for eval" 2 "--json applies to eval only" "$FASHION" predict --json "$IMG/ankle-boot.pgm"
bad "--invert is for predict" 2 "--invert applies to predict only" "$FASHION" eval --invert "$IMAGES" "$LABELS"
bad "--weights needs a value" 2 "missing value for --weights" "$FASHION" --weights
ok "--help" "$FASHION" --help
has "--help: usage" "usage: fashion"
has "--help: class names" "9 Ankle boot"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
