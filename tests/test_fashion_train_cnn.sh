#!/bin/sh
# test_fashion_train_cnn.sh — `fashion train --model cnn` end to end on a
# small set: the 500 embedded test images serve as both training and test
# data (plain IDX files under the .gz names train.c looks for: the reader
# sniffs the gzip magic). Three epochs from seed 0 must learn (a broken
# gradient stays near 10 %), and `fashion eval --weights` must read the
# result, Keras layouts and names included. A constant learning rate: the
# default cosine decay halves the mean rate, too little for 24 steps.
#
# usage: test_fashion_train_cnn.sh FASHION DATA_DIR
set -u
FASHION=$1 DATA=$2
TMP=$(mktemp -d) || exit 1
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/data"
for set in train t10k; do
    cp "$DATA/test-images-idx3-ubyte" "$TMP/data/$set-images-idx3-ubyte.gz" || exit 1
    cp "$DATA/test-labels-idx1-ubyte" "$TMP/data/$set-labels-idx1-ubyte.gz" || exit 1
done

if ! "$FASHION" train --model cnn --out "$TMP/cnn.safetensors" --epochs 3 \
        --schedule constant --data "$TMP/data" >"$TMP/out" 2>"$TMP/err"; then
    echo "FAIL - train exited non-zero"; cat "$TMP/out" "$TMP/err"; exit 1
fi
cat "$TMP/out"
grep -q "^epoch 3/3 " "$TMP/out" || { echo "FAIL - no epoch 3/3 line"; exit 1; }
[ -s "$TMP/cnn.safetensors" ] && [ -s "$TMP/cnn.safetensors.ckpt" ] ||
    { echo "FAIL - weights or checkpoint missing"; exit 1; }

if ! "$FASHION" --weights "$TMP/cnn.safetensors" eval "$DATA/test-images-idx3-ubyte" \
        "$DATA/test-labels-idx1-ubyte" --json >"$TMP/eval" 2>"$TMP/err"; then
    echo "FAIL - eval of the trained weights"; cat "$TMP/err"; exit 1
fi
cat "$TMP/eval"
# {"n": 500, "correct": C, ...}: at least 45 % (seed 0 reaches 60 %)
correct=$(sed -n 's/.*"correct": *\([0-9]*\).*/\1/p' "$TMP/eval")
[ -n "$correct" ] && [ "$correct" -ge 225 ] ||
    { echo "FAIL - eval: $correct of 500 correct, expected >= 225"; exit 1; }
# the test accuracy train printed after epoch 3 is what eval finds
pct=$(sed -n 's/^epoch 3\/3 .* test \([0-9.]*\)%.*/\1/p' "$TMP/out")
want=$(awk -v c="$correct" 'BEGIN { printf "%.2f", c / 5 }')
[ "$pct" = "$want" ] || { echo "FAIL - train says test $pct %, eval $want %"; exit 1; }
echo "ok - fashion train --model cnn, then fashion eval --weights"
