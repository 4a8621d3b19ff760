#!/bin/sh
# test_charlm_cli.sh — the `charlm` program end to end: generate (built-in
# weights, determinism per seed, options), logits against PyTorch's (the
# example's model, the tied BF16 model with non-ASCII lines, and the models
# of unusual sizes made by tests/charlm/make_shapes.py), eval
# against PyTorch's loss, and every kind of bad input (exit status and the
# one-line message on stderr, naming the line).
#
# usage: test_charlm_cli.sh CHARLM FIXTURES DATA_DIR TESTS_DIR
set -u
CHARLM=$1 FIX=$2 DATA=$3 TESTS=$4
. "$(dirname "$0")/cli_helpers.sh"

# same NAME A B / differ NAME A B — two files are (not) byte-identical.
same() { if cmp -s "$2" "$3"; then pass "$1"; else flunk "$1" "$2 and $3 differ"; fi; }
differ() { if cmp -s "$2" "$3"; then flunk "$1" "$2 and $3 are the same"; else pass "$1"; fi; }

# ---- generate ----------------------------------------------------------------------------
ok "generate with no arguments" "$CHARLM" generate
chars=$(wc -m <"$TMP/out")
if [ "$chars" -ge 500 ]; then pass "500 characters by default ($chars with the newline)"
else flunk "500 characters by default" "$chars"; fi
ok "no command is generate" "$CHARLM"
mv "$TMP/out" "$TMP/default"
ok "generate again" "$CHARLM" generate
same "the same seed gives the same text" "$TMP/out" "$TMP/default"
ok "generate --seed 7" "$CHARLM" generate --seed 7
differ "another seed gives another text" "$TMP/out" "$TMP/default"
ok "generate --seed 7 again" "$CHARLM" generate --seed 7 --tokens 500
mv "$TMP/out" "$TMP/seed7"
ok "generate --seed 7 a third time" "$CHARLM" --seed 7 generate
same "--seed 7 twice: the same text" "$TMP/out" "$TMP/seed7"
ok "generate --prompt" "$CHARLM" generate --prompt "This License" --tokens 200 --top-k 5 \
    --temperature 0.5 --seed 3
if head -c 12 "$TMP/out" | grep -qF "This License"; then pass "the prompt comes first"
else flunk "the prompt comes first" "$(head -c 40 "$TMP/out")"; fi
# The model has learnt the licences: greedy decoding continues a phrase.
ok "generate greedy" "$CHARLM" generate --prompt "GNU General Public Lic" --tokens 4 --temperature 0
has "greedy decoding completes 'License'" "GNU General Public License"
# Past block_size the cache restarts from the newest half of the context.
ok "generate 1000 characters (past block_size)" "$CHARLM" generate --tokens 1000 --seed 9
chars=$(wc -m <"$TMP/out")
if [ "$chars" -eq 1001 ] || [ "$chars" -gt 1001 ]; then pass "1000 characters generated"
else flunk "1000 characters generated" "$chars"; fi
ok "generate --tokens 0" "$CHARLM" generate --tokens 0 --prompt "abc"
has "--tokens 0 prints the prompt" "abc"
# A prompt longer than block_size: its last 64 characters are the context.
long=$(printf 'x%.0s' $(seq 1 100))
ok "a prompt longer than block_size" "$CHARLM" generate --prompt "$long" --tokens 10
ok "the tied BF16 model generates non-ASCII" "$CHARLM" --weights "$TESTS/tiny-tied-bf16.safetensors" \
    generate --prompt "café “" --tokens 50

# ---- logits against PyTorch -----------------------------------------------------------------
ok "logits of held-out lines" "$CHARLM" logits "$DATA/lines.txt" "$TMP/lines.f32"
ok "logits within 1e-4 of PyTorch's, the same argmax" \
    "$FIX" compare "$TMP/lines.f32" "$DATA/lines-logits.f32" 1e-4 81
cat "$TMP/out"
ok "logits of the tied BF16 model (non-ASCII lines)" "$CHARLM" \
    --weights "$TESTS/tiny-tied-bf16.safetensors" logits "$TESTS/tiny-lines.txt" "$TMP/tiny.f32"
ok "tied model: within 1e-4 of PyTorch's, the same argmax" \
    "$FIX" compare "$TMP/tiny.f32" "$TESTS/tiny-lines-logits.f32" 1e-4 84
ok "logits with --weights and the F32 file" "$CHARLM" --weights "$TESTS/tiny-tied.safetensors" \
    logits "$TESTS/tiny-lines.txt" "$TMP/tiny2.f32"
same "F32 and BF16 files give the same logits" "$TMP/tiny.f32" "$TMP/tiny2.f32"

# Unusual sizes (tests/charlm/make_shapes.py): n_layer 0, head_dim 3 with
# block_size 1, head_dim 1, a tied model as safetensors.torch.save_model
# writes it (lm_head.weight, no transformer.wte.weight), and one with the
# "_orig_mod." names of a torch.compile'd nanoGPT; each against PyTorch's
# logits.
for m in l0:7 hd3:6 hd1:10 savemodel:5 compiled:4; do
    model=${m%%:*} vocab=${m#*:}
    ok "logits of shapes-$model" "$CHARLM" --weights "$TESTS/shapes-$model.safetensors" \
        logits "$TESTS/shapes-$model-lines.txt" "$TMP/$model.f32"
    ok "shapes-$model: within 1e-4 of PyTorch's, the same argmax" \
        "$FIX" compare "$TMP/$model.f32" "$TESTS/shapes-$model-lines-logits.f32" 1e-4 "$vocab"
done
ok "the n_layer 0 model generates" "$CHARLM" --weights "$TESTS/shapes-l0.safetensors" \
    generate --prompt "ab" --tokens 20 --seed 2

# ---- eval against PyTorch ----------------------------------------------------------------------
torch_loss=$(sed -n 's/.*"heldout_loss_nats": \([0-9.]*\).*/\1/p' "$DATA/reference.json")
ok "eval" "$CHARLM" eval "$DATA/heldout.txt"
has "eval counts the predictions" "11037 characters predicted: loss "
loss=$(sed -n 's/.*: loss \([0-9.]*\) nats, .*/\1/p' "$TMP/out")
bpc=$(sed -n 's/.* nats, \([0-9.]*\) bits per character/\1/p' "$TMP/out")
if awk -v a="${loss:-0}" -v b="$torch_loss" 'BEGIN { d = a - b; exit !(d < 2e-6 && d > -2e-6) }'
then pass "eval loss $loss = PyTorch's $torch_loss"
else flunk "eval loss" "$loss vs PyTorch's $torch_loss"; fi
if awk -v l="${loss:-0}" -v b="${bpc:-0}" 'BEGIN { d = l / log(2) - b; exit !(d < 2e-6 && d > -2e-6) }'
then pass "bits per character = nats / ln 2"; else flunk "bits per character" "$bpc"; fi

# ---- bad input ---------------------------------------------------------------------------------
printf 'abc\nabd\nab\n' >"$TMP/uneven.txt"
bad "lines of different lengths" 1 "uneven.txt: line 3 has 2 characters, line 1 has 3" \
    "$CHARLM" logits "$TMP/uneven.txt" "$TMP/x.f32"
if [ -e "$TMP/x.f32" ]; then flunk "no output file on error" "$TMP/x.f32 exists"
else pass "no output file on error"; fi
printf 'abc\nab\303\251\n' >"$TMP/foreign.txt"
bad "a character outside the vocabulary" 1 \
    "foreign.txt: line 2, character 3: 'é' (U+00E9) is not in the vocabulary" \
    "$CHARLM" logits "$TMP/foreign.txt" "$TMP/x.f32"
printf 'abc\nabc' >"$TMP/unended.txt"
bad "a last line without a newline" 1 "unended.txt: line 2 does not end with a newline" \
    "$CHARLM" logits "$TMP/unended.txt" "$TMP/x.f32"
printf 'abc\n\n' >"$TMP/empty-line.txt"
bad "an empty line" 1 "empty-line.txt: line 2 is empty" \
    "$CHARLM" logits "$TMP/empty-line.txt" "$TMP/x.f32"
: >"$TMP/empty.txt"
bad "an empty file" 1 "empty.txt: no lines" "$CHARLM" logits "$TMP/empty.txt" "$TMP/x.f32"
printf 'ab\377c\n' >"$TMP/latin1.txt"
bad "bytes that are not UTF-8" 1 "latin1.txt: line 1, character 3: not UTF-8 (byte 0xFF)" \
    "$CHARLM" logits "$TMP/latin1.txt" "$TMP/x.f32"
printf '%065d\n' 0 >"$TMP/long.txt"
bad "a line longer than block_size" 1 "long.txt: line 1 has 65 characters, more than the block_size 64" \
    "$CHARLM" logits "$TMP/long.txt" "$TMP/x.f32"
printf 'line one\r\n' >"$TMP/crlf.txt"
bad "CRLF line ends" 1 "crlf.txt: line 1, character 9: U+000D is not in the vocabulary" \
    "$CHARLM" logits "$TMP/crlf.txt" "$TMP/x.f32"
bad "a directory as TEXT_FILE" 1 "$TMP: read error: Is a directory" \
    "$CHARLM" eval "$TMP"
# finite weights whose output overflows float32 (a head of 3e38s): refused,
# not a NaN loss or a run of one character
python3 - "$DATA/charlm.safetensors" "$TMP/overflow.safetensors" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header, data = json.loads(raw[8:8 + n]), bytearray(raw[8 + n:])
a, b = header["lm_head.weight"]["data_offsets"]
data[a:b] = struct.pack("<f", 3e38) * ((b - a) // 4)
open(sys.argv[2], "wb").write(raw[:8 + n] + bytes(data))
PY
bad "weights whose output overflows (eval)" 1 "the model's output is not finite" \
    "$CHARLM" --weights "$TMP/overflow.safetensors" eval "$DATA/lines.txt"
bad "weights whose output overflows (generate)" 1 "the model's output is not finite" \
    "$CHARLM" --weights "$TMP/overflow.safetensors" --tokens 5
bad "a device as TEXT_FILE (endless: refused, not read)" 1 \
    "/dev/zero: not a regular file" "$CHARLM" eval /dev/zero
bad "an option given twice" 2 "--seed given twice" "$CHARLM" --seed 1 --seed 2
bad "--weights given twice" 2 "--weights given twice" \
    "$CHARLM" --weights "$DATA/charlm.safetensors" --weights x eval "$DATA/lines.txt"
bad "a missing text file" 1 "$TMP/missing.txt: No such file or directory" \
    "$CHARLM" logits "$TMP/missing.txt" "$TMP/x.f32"
bad "an output file that cannot be created" 1 "$TMP/no/dir.f32: " \
    "$CHARLM" logits "$DATA/lines.txt" "$TMP/no/dir.f32"
# OUT_FILE is replaced atomically: a FIFO (or a device such as /dev/full) is
# refused, not opened (a FIFO would block), written or removed.
mkfifo "$TMP/fifo"
bad "a FIFO as OUT_FILE" 1 "fifo: not a regular file" \
    "$CHARLM" logits "$DATA/lines.txt" "$TMP/fifo"
if [ -p "$TMP/fifo" ]; then pass "the FIFO is left in place"
else flunk "the FIFO is left in place" "it is gone"; fi
bad "a FIFO as TEXT_FILE (not opened: it would wait for a writer)" 1 \
    "fifo: not a regular file" "$CHARLM" eval "$TMP/fifo"
# A failed write to standard output (a full disk; a reader gone while
# SIGPIPE is ignored) is an error with its message, and generation stops.
full "eval to a full disk" "writing the loss to standard output: No space left on device" \
    "$CHARLM" eval "$DATA/lines.txt"
full "generate to a full disk" "writing the text to standard output: No space left on device" \
    "$CHARLM" generate --tokens 50
(trap '' PIPE; timeout 60 "$CHARLM" generate --tokens 100000000 2>"$TMP/err"
 echo $? >"$TMP/status") | head -c 50 >/dev/null
if [ "$(cat "$TMP/status")" = 1 ] && grep -qF "Broken pipe" "$TMP/err"; then
    pass "generate stops when its reader is gone (SIGPIPE ignored)"
else flunk "generate stops when its reader is gone" "exit $(cat "$TMP/status")"; fi
printf 'The \342\202\254 sign\n' >"$TMP/euro.txt"
bad "eval names the line and character" 1 "euro.txt: line 1, character 5: '€' (U+20AC) is not in the vocabulary" \
    "$CHARLM" eval "$TMP/euro.txt"
printf 'a' >"$TMP/one.txt"
bad "eval of one character" 1 "one.txt: 1 characters: eval needs at least 2" \
    "$CHARLM" eval "$TMP/one.txt"
bad "a prompt outside the vocabulary" 1 "--prompt: line 1, character 2: '€' (U+20AC) is not in the vocabulary" \
    "$CHARLM" generate --prompt "a€"
bad "weights that are not safetensors" 1 "safetensors: $DATA/lines.txt:" \
    "$CHARLM" --weights "$DATA/lines.txt" eval "$DATA/heldout.txt"
bad "weights that are not there" 1 "safetensors: $TMP/none.safetensors" \
    "$CHARLM" --weights "$TMP/none.safetensors" generate

# ---- bad command lines (exit 2) ----------------------------------------------------------------
bad "unknown command" 2 "unknown command sing" "$CHARLM" sing
bad "unknown option" 2 "unknown option --fast" "$CHARLM" generate --fast
bad "logits needs two files" 2 "logits needs TEXT_FILE and OUT_FILE" "$CHARLM" logits "$DATA/lines.txt"
bad "eval needs a file" 2 "eval needs TEXT_FILE" "$CHARLM" eval
bad "generate options on eval" 2 "eval: --prompt, --tokens" "$CHARLM" eval "$DATA/heldout.txt" --seed 1
bad "bad --tokens" 2 "--tokens needs a count from 0 to 2^62-1, not -5" "$CHARLM" generate --tokens -5
bad "--tokens past 2^62" 2 "--tokens needs a count from 0 to 2^62-1, not 99999999999999999999" \
    "$CHARLM" generate --tokens 99999999999999999999
bad "--tokens with a sign" 2 "--tokens needs a count from 0 to 2^62-1, not +5" \
    "$CHARLM" generate --tokens +5
bad "bad --temperature" 2 "--temperature needs a number >= 0, not nan" "$CHARLM" --temperature nan
bad "--temperature with a space" 2 "--temperature needs a number >= 0, not  1" \
    "$CHARLM" --temperature " 1"
bad "bad --top-k" 2 "--top-k needs a count from 0 to 2^62-1, not 3x" "$CHARLM" --top-k 3x
bad "bad --seed" 2 "--seed needs an integer from 0 to 2^64-1, not abc" "$CHARLM" --seed abc
bad "--seed past 2^64-1" 2 "not 18446744073709551616" "$CHARLM" --seed 18446744073709551616
bad "--seed with a sign" 2 "not -1" "$CHARLM" --seed -1
ok "--seed 2^64-1" "$CHARLM" generate --tokens 5 --seed 18446744073709551615
bad "missing value" 2 "missing value for --weights" "$CHARLM" generate --weights
ok "--help" "$CHARLM" --help
has "--help lists logits" "logits TEXT_FILE OUT_FILE"

echo "$failures failed"
[ "$failures" -eq 0 ]
