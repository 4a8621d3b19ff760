#!/bin/sh
# test_train_cli.sh — `fashion train` end to end on a small slice of
# Fashion-MNIST: two runs with one seed write identical files; a run resumed
# after epoch 1 ends byte-identical to the uninterrupted run; corrupt and
# mismatched checkpoints are refused before training starts; a NaN loss stops
# training and keeps the last good checkpoint; a missing dataset names the
# Debian package.
#
# usage: test_train_cli.sh FASHION DATA_DIR
set -u
FASHION=$1 DATA=$2
. "$(dirname "$0")/../cli_helpers.sh"
# train ARGS... — a run on 640 images (batches of 64, seed $SEED or 7); output in
# $TMP/out, $TMP/err
train() {
    "$FASHION" train --model mlp --data "$DATA" --limit 640 --seed "${SEED:-7}" "$@" \
        >"$TMP/out" 2>"$TMP/err"
}
# trains NAME ARGS... — a run that exits 0 (what it writes to stderr is not checked)
trains() {
    name=$1; shift
    train "$@"; status=$?
    if [ $status -ne 0 ]; then flunk "$name" "exit $status, expected 0"; else pass "$name"; fi
}
# refused NAME MESSAGE ARGS... — exit 1, MESSAGE on stderr, no epoch trained
refused() {
    name=$1 message=$2; shift 2
    train "$@"; status=$?
    if [ $status -ne 1 ]; then flunk "$name" "exit $status, expected 1"
    elif ! grep -qF -- "$message" "$TMP/err"; then flunk "$name" "stderr lacks: $message"
    elif grep -q "^epoch" "$TMP/out"; then flunk "$name" "an epoch was trained"
    else pass "$name"; fi
}
same() {
    if cmp -s "$2" "$3"; then pass "$1"; else flunk "$1" "$2 and $3 differ"; fi
}

# ---- determinism and resume ---------------------------------------------------------
trains "run A, 2 epochs" --epochs 2 --out "$TMP/a.st"
trains "run B, same seed" --epochs 2 --out "$TMP/b.st"
same "same seed: same weights" "$TMP/a.st" "$TMP/b.st"
same "same seed: same checkpoint" "$TMP/a.st.ckpt" "$TMP/b.st.ckpt"
SEED=8; trains "run with another seed" --epochs 2 --out "$TMP/s.st"; SEED=7
if cmp -s "$TMP/a.st" "$TMP/s.st"; then flunk "other seed" "same weights"
else pass "another seed: other weights"; fi
trains "run C, 1 epoch" --epochs 1 --out "$TMP/c.st"
cp "$TMP/c.st.ckpt" "$TMP/epoch1.ckpt"
trains "run C resumed to 2 epochs" --epochs 2 --out "$TMP/c.st" --resume "$TMP/epoch1.ckpt"
if grep -qF "resumed from $TMP/epoch1.ckpt after epoch 1" "$TMP/out"; then pass "resume says so"
else flunk "resume message" "missing"; fi
same "resumed: same weights" "$TMP/a.st" "$TMP/c.st"
same "resumed: same checkpoint" "$TMP/a.st.ckpt" "$TMP/c.st.ckpt"

# ---- the cosine schedule: its rates depend on --epochs, so does resuming ----------------
trains "cosine, 2 epochs" --epochs 2 --schedule cosine --out "$TMP/k.st"
if cmp -s "$TMP/a.st" "$TMP/k.st"; then flunk "cosine" "same weights as constant"
else pass "cosine: other weights than constant"; fi
# interrupted in epoch 2 (a NaN at step 13), resumed from epoch 1's checkpoint
FASHION_TRAIN_POISON_STEP=13 train --epochs 2 --schedule cosine --out "$TMP/k2.st"
trains "cosine resumed" --epochs 2 --schedule cosine --out "$TMP/k2.st" --resume "$TMP/k2.st.ckpt"
same "cosine resumed: same weights" "$TMP/k.st" "$TMP/k2.st"
same "cosine resumed: same checkpoint" "$TMP/k.st.ckpt" "$TMP/k2.st.ckpt"
FASHION_TRAIN_POISON_STEP=13 train --epochs 2 --schedule cosine --out "$TMP/k3.st"
refused "cosine resumed with other epochs" \
    "lr_schedule=cosine over 2 epochs, this run has lr_schedule=cosine over 3 epochs" \
    --epochs 3 --schedule cosine --out "$TMP/k3.st" --resume "$TMP/k3.st.ckpt"
refused "constant checkpoint resumed as cosine" \
    "lr_schedule=constant, this run has lr_schedule=cosine over 2 epochs" \
    --epochs 2 --schedule cosine --out "$TMP/d.st" --resume "$TMP/epoch1.ckpt"
train --epochs 1 --schedule linear --out "$TMP/d.st"
if [ $? -eq 2 ] && grep -qF -- "--schedule linear: constant or cosine" "$TMP/err"
then pass "unknown schedule refused"; else flunk "unknown schedule" "not refused"; fi

# ---- two shard threads: same files every time, resume too ---------------------------
trains "2 threads, run A" --epochs 2 --threads 2 --out "$TMP/t2a.st"
trains "2 threads, run B" --epochs 2 --threads 2 --out "$TMP/t2b.st"
same "2 threads: same weights" "$TMP/t2a.st" "$TMP/t2b.st"
trains "2 threads, 1 epoch" --epochs 1 --threads 2 --out "$TMP/t2c.st"
cp "$TMP/t2c.st.ckpt" "$TMP/t2e1.ckpt"
trains "2 threads, resumed" --epochs 2 --threads 2 --out "$TMP/t2c.st" --resume "$TMP/t2e1.ckpt"
same "2 threads resumed: same weights" "$TMP/t2a.st" "$TMP/t2c.st"
same "2 threads resumed: same checkpoint" "$TMP/t2a.st.ckpt" "$TMP/t2c.st.ckpt"
trains "3 threads (64 = 21+21+22 rows)" --epochs 1 --threads 3 --out "$TMP/t3.st"
if grep -q "test [0-9.]*%" "$TMP/out"; then pass "3 threads trains"; else flunk "3 threads" "no epoch line"; fi

# ---- bad checkpoints: refused before training, nothing written ------------------------
head -c 300 "$TMP/epoch1.ckpt" >"$TMP/cut.ckpt"
refused "truncated checkpoint" "--resume:" --epochs 2 --out "$TMP/d.st" --resume "$TMP/cut.ckpt"
if [ -e "$TMP/d.st" ] || [ -e "$TMP/d.st.ckpt" ]; then flunk "refused run" "wrote files"
else pass "refused run wrote nothing"; fi
refused "other learning rate" "learning_rate=0.00100000005, this run has learning_rate=0.00200000009" \
    --epochs 2 --out "$TMP/d.st" --resume "$TMP/epoch1.ckpt" --lr 0.002
refused "other batch size" "batch_size=64, this run has batch_size=32" \
    --epochs 2 --out "$TMP/d.st" --resume "$TMP/epoch1.ckpt" --batch-size 32
refused "other optimizer" "holds no sgd optimizer state" \
    --epochs 2 --out "$TMP/d.st" --resume "$TMP/epoch1.ckpt" --optimizer sgd --lr 0.001
refused "weights file as checkpoint" "--resume:" \
    --epochs 2 --out "$TMP/d.st" --resume "$TMP/a.st"
refused "a checkpoint past --epochs" "a.st.ckpt was saved after epoch 2, past --epochs 1" \
    --epochs 1 --out "$TMP/d.st" --resume "$TMP/a.st.ckpt"
# a checkpoint of the same configuration over other images (another --limit):
# its step count does not fit this run's epochs
"$FASHION" train --model mlp --data "$DATA" --limit 320 --seed 7 --epochs 1 \
    --out "$TMP/l320.st" >/dev/null 2>&1
refused "optimizer steps that do not fit the epoch" \
    "l320.st.ckpt holds 5 optimizer steps after epoch 1; this run takes 10 steps per epoch (640 images, batches of 64)" \
    --epochs 2 --out "$TMP/d.st" --resume "$TMP/l320.st.ckpt"
# hand-edited or damaged checkpoints (the header is JSON text, the data raw
# F32): the checksum over the data, epoch, steps and generators
LC_ALL=C sed 's/"minitensor.steps":"10"/"minitensor.steps":"99"/' "$TMP/epoch1.ckpt" \
    >"$TMP/steps.ckpt"
refused "an edited step count" "steps.ckpt: checksum mismatch" \
    --epochs 2 --out "$TMP/d.st" --resume "$TMP/steps.ckpt"
LC_ALL=C sed 's/"minitensor.epoch":"1"/"minitensor.epoch":"0"/' "$TMP/epoch1.ckpt" \
    >"$TMP/epoch0.ckpt"
refused "an edited epoch" "epoch0.ckpt: checksum mismatch" \
    --epochs 2 --out "$TMP/d.st" --resume "$TMP/epoch0.ckpt"
LC_ALL=C sed 's/"minitensor.checksum":"fnv1a64-sum:/"minitensor.checksum":"fnv1a32-sum:/' \
    "$TMP/epoch1.ckpt" >"$TMP/badsum.ckpt"
refused "a bad checksum" "badsum.ckpt: missing or bad minitensor.checksum" \
    --epochs 2 --out "$TMP/d.st" --resume "$TMP/badsum.ckpt"
size=$(wc -c <"$TMP/epoch1.ckpt")
cp "$TMP/epoch1.ckpt" "$TMP/flip.ckpt"
printf '\001' | dd of="$TMP/flip.ckpt" bs=1 seek=$((size - 1000)) conv=notrunc 2>/dev/null
refused "a damaged data byte" "flip.ckpt: checksum mismatch" \
    --epochs 2 --out "$TMP/d.st" --resume "$TMP/flip.ckpt"
if [ -e "$TMP/d.st" ] || [ -e "$TMP/d.st.ckpt" ]; then flunk "refused runs" "wrote files"
else pass "refused runs wrote nothing"; fi

# ---- files it cannot save to: refused before training -----------------------------------
mkfifo "$TMP/fifo"
refused "a FIFO as --out" "$TMP/fifo exists and is not a regular file" --epochs 1 --out "$TMP/fifo"
mkdir "$TMP/dir.st.ckpt"
refused "a directory as the checkpoint" "$TMP/dir.st.ckpt exists and is not a regular file" \
    --epochs 1 --out "$TMP/dir.st"
refused "a missing folder" "cannot save $TMP/nowhere/x.st: $TMP/nowhere: No such file or directory" \
    --epochs 1 --out "$TMP/nowhere/x.st"

# ---- a directory as --out: refused before training, nothing written ----------------------
mkdir "$TMP/outdir"
refused "--out is a directory" "$TMP/outdir exists and is not a regular file" \
    --epochs 1 --out "$TMP/outdir"
if [ -e "$TMP/outdir.ckpt" ]; then flunk "refused --out" "wrote a checkpoint"
else pass "refused --out wrote nothing"; fi
MT_NUM_THREADS=abc refused "a bad MT_NUM_THREADS" 'MT_NUM_THREADS="abc" is not a count' \
    --epochs 1 --out "$TMP/env.st"
MT_BACKEND=tpu refused "a bad MT_BACKEND" 'MT_BACKEND="tpu" is not a backend' \
    --epochs 1 --out "$TMP/env.st"
train --epochs 1 --out ""; status=$?
if [ $status -ne 2 ]; then flunk "empty --out" "exit $status, expected 2"
elif ! grep -qF -- "--out FILE is required" "$TMP/err"; then flunk "empty --out" "message"
else pass "empty --out is a usage error"; fi

# a number with a leading space or sign is not one (strtoll would take it)
"$FASHION" train --model mlp --seed " 5" --out "$TMP/s.st" >"$TMP/out" 2>"$TMP/err"; status=$?
if [ $status -ne 2 ]; then flunk "--seed ' 5'" "exit $status, expected 2"
elif ! grep -qF -- "--seed  5: need a whole number >= 0" "$TMP/err"; then flunk "--seed ' 5'" "message"
else pass "--seed with a leading space is a usage error"; fi

# ---- a NaN loss stops the run; the last good checkpoint stays ----------------------------
# 640 images in batches of 64: step 13 is epoch 2's third step
FASHION_TRAIN_POISON_STEP=13 train --epochs 3 --out "$TMP/n.st"; status=$?
if [ $status -ne 1 ]; then flunk "NaN stop" "exit $status, expected 1"
elif ! grep -qF "the loss is nan at epoch 2, step 3; training stopped. The last good checkpoint is $TMP/n.st.ckpt (epoch 1)" "$TMP/err"
then flunk "NaN stop" "message"
else pass "NaN loss stops at epoch 2, step 3"; fi
same "NaN stop keeps epoch 1's checkpoint" "$TMP/n.st.ckpt" "$TMP/epoch1.ckpt"
if [ -e "$TMP/n.st" ]; then flunk "NaN stop" "wrote the weights"; else pass "NaN stop: no weights"; fi
# resumed from epoch 1's checkpoint, stopped in epoch 2: the last good
# checkpoint is the one it resumed from (the new one was never written)
FASHION_TRAIN_POISON_STEP=13 train --epochs 3 --out "$TMP/nr.st" --resume "$TMP/epoch1.ckpt"
status=$?
if [ $status -ne 1 ]; then flunk "NaN stop after a resume" "exit $status, expected 1"
elif ! grep -qF "The last good checkpoint is $TMP/epoch1.ckpt (epoch 1)" "$TMP/err"
then flunk "NaN stop after a resume" "message: $(cat "$TMP/err")"
else pass "NaN stop after a resume names the checkpoint it resumed from"; fi

# ---- an empty dataset: refused, not a NaN loss over no images ------------------------------
mkdir "$TMP/empty"
python3 - "$TMP/empty" <<'PY'
import gzip, struct, sys
for stem in ("train", "t10k"):
    with gzip.open(f"{sys.argv[1]}/{stem}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, 0, 28, 28))
    with gzip.open(f"{sys.argv[1]}/{stem}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 0x801, 0))
PY
"$FASHION" train --model mlp --data "$TMP/empty" --out "$TMP/none.st" >"$TMP/out" 2>"$TMP/err"
status=$?
if [ $status -ne 1 ]; then flunk "empty dataset" "exit $status, expected 1"
elif ! grep -qF "train-images-idx3-ubyte.gz: no images" "$TMP/err"; then flunk "empty dataset" "message"
elif [ -e "$TMP/none.st" ]; then flunk "empty dataset" "wrote weights"
else pass "an empty dataset is refused"; fi

# ---- no dataset --------------------------------------------------------------------------
"$FASHION" train --model mlp --data "$TMP/nowhere" --out "$TMP/e.st" >"$TMP/out" 2>"$TMP/err"
status=$?
if [ $status -ne 1 ]; then flunk "missing dataset" "exit $status"
elif ! grep -qF "apt-get install dataset-fashion-mnist" "$TMP/err"; then flunk "missing dataset" "no package named"
else pass "missing dataset names dataset-fashion-mnist"; fi

[ $failures -eq 0 ] || { echo "$failures failed"; exit 1; }
