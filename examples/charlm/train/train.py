#!/usr/bin/env python3
"""Train the reference character model with PyTorch and export artefacts.

The text: five GNU licences shipped by Debian's base-files package
(/usr/share/common-licenses/{GPL-3,GPL-2,LGPL-2.1,LGPL-3,GFDL-1.3}; each says
"Everyone is permitted to copy and distribute verbatim copies of this license
document"), concatenated in that order, 110,378 characters. The first 90% is
the training text, the last 10% (part of the GFDL) is held out.

Writes (see README.md):
  ../data/charlm.safetensors        the model: nanoGPT names, PyTorch layouts,
                                    F32, with biases and an untied head;
                                    __metadata__ n_layer, n_head, n_embd,
                                    block_size, vocab (+ provenance)
  ../data/heldout.txt               the held-out 10% of the text
  ../data/lines.txt                 6 held-out lines of 64 characters (no \n)
  ../data/lines-logits.f32          PyTorch's logits for them [6,64,vocab]
  ../data/windows.i32               4 held-out windows of 64 token ids (they
                                    cross line ends) [4,64] int32
  ../data/windows-logits.f32        PyTorch's logits for them [4,64,vocab]
  ../data/reference.json            held-out loss (charlm eval's protocol),
                                    sizes, versions, seed, steps
and a second, tiny model for the tests, built with nanoGPT's bias=False and a
tied head, trained briefly on a text with non-ASCII characters:
  ../../../tests/charlm/tiny-tied.safetensors       F32, no lm_head.weight,
        no attn.bias buffers, tensors stored in reverse order, metadata
        written with \\uXXXX escapes (a surrogate pair included)
  ../../../tests/charlm/tiny-tied-bf16.safetensors  the same weights as BF16
        (they are rounded to BF16 before export, so both files hold the same
        values), with the attn.bias buffers and a duplicate lm_head.weight,
        metadata as raw UTF-8
  ../../../tests/charlm/tiny-lines.txt, tiny-lines-logits.f32,
  tiny-windows.i32, tiny-windows-logits.f32   as above, for the tiny model
"""
import hashlib
import json
import math
import os
import platform
import struct
import sys
import time

import numpy as np
import torch
from torch.nn import functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import GPT  # noqa: E402

DATA = os.path.normpath(os.path.join(HERE, "..", "data"))
TESTS = os.path.normpath(os.path.join(HERE, "..", "..", "..", "tests", "charlm"))

LICENCES = ["GPL-3", "GPL-2", "LGPL-2.1", "LGPL-3", "GFDL-1.3"]
LICENCE_DIR = "/usr/share/common-licenses"
# base-files 12.4+deb12u11 (Debian 12); train.py refuses other text.
TEXT_SHA256 = "66e3bc37324d8e9f98920870f4ccd2f51b9483671569a0bf1812353d4df902d6"

SEED = 1337
CFG = dict(n_layer=2, n_head=4, n_embd=64, block_size=64, bias=True, tied=False)
STEPS = int(os.environ.get("CHARLM_STEPS", 2500))
BATCH = 32
LR, MIN_LR, WARMUP = 2e-3, 2e-4, 100

TINY_CFG = dict(n_layer=1, n_head=2, n_embd=16, block_size=16, bias=False, tied=True)
TINY_STEPS = 300
# A text whose vocabulary holds \n, \", \\, \f-free non-ASCII characters of
# 2, 3 and 4 UTF-8 bytes (é, “, → and an emoji outside the BMP, which JSON
# escapes as a surrogate pair).
TINY_TEXT_EXTRA = ('Größe, naïve café — “quoted” and "quoted", a\\b, ½ λ→∞ 🙂.\n'
                   'Straße über Ölfässer: déjà vu, “ok” 🙂 → done.\n') * 8


# ---- the text ----------------------------------------------------------------

def load_text():
    parts = []
    for name in LICENCES:
        with open(os.path.join(LICENCE_DIR, name), encoding="utf-8") as f:
            parts.append(f.read())
    text = "".join(parts)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if digest != TEXT_SHA256:
        sys.exit(f"the licence texts differ from base-files 12.4+deb12u11 "
                 f"(sha256 {digest}); update TEXT_SHA256 knowingly")
    return text


# ---- training ----------------------------------------------------------------

def lr_at(step, steps):
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    ratio = (step - WARMUP) / max(1, steps - WARMUP)
    return MIN_LR + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (LR - MIN_LR)


def train(model, data, steps, batch, gen):
    """AdamW on random windows of `data` (int64 token ids)."""
    bs = model.cfg["block_size"]
    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(0.9, 0.99), weight_decay=0.1)
    model.train()
    t0 = time.time()
    for step in range(steps):
        ix = torch.randint(len(data) - bs - 1, (batch,), generator=gen)
        x = torch.stack([data[i:i + bs] for i in ix])
        y = torch.stack([data[i + 1:i + 1 + bs] for i in ix])
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps)
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 250 == 0 or step == steps - 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  {time.time() - t0:6.1f} s", flush=True)
    model.eval()
    return time.time() - t0


@torch.no_grad()
def heldout_loss(model, ids):
    """charlm eval's protocol: windows of block_size inputs that follow one
    another (window w reads ids[w*bs : w*bs+bs] and predicts the next id of
    each), the last one shorter; every id but the first is predicted once.
    Returns the mean loss in nats over len(ids) - 1 predictions."""
    bs = model.cfg["block_size"]
    total, count = 0.0, 0
    for start in range(0, len(ids) - 1, bs):
        x = ids[start:min(start + bs, len(ids) - 1)]
        y = ids[start + 1:start + 1 + len(x)]
        logits = model(x.view(1, -1))[0].double()
        total += F.cross_entropy(logits, y, reduction="sum").item()
        count += len(y)
    assert count == len(ids) - 1
    return total / count


# ---- export ------------------------------------------------------------------

def tensor_bytes(t, dtype):
    t = t.detach().contiguous()
    if dtype == "F32":
        return t.to(torch.float32).numpy().astype("<f4").tobytes()
    if dtype == "BF16":
        return t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    raise ValueError(dtype)


def save_safetensors(path, tensors, metadata, dtype="F32", ensure_ascii=False):
    """Write `tensors` (a list of (name, tensor), stored in that order) by
    hand: 8-byte little-endian header length, JSON header (metadata values are
    strings) padded with spaces to a multiple of 8, then the raw bytes."""
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    blobs, offset = [], 0
    for name, t in tensors:
        b = tensor_bytes(t, dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=ensure_ascii).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def model_metadata(model, vocab):
    c = model.cfg
    return {"n_layer": c["n_layer"], "n_head": c["n_head"], "n_embd": c["n_embd"],
            "block_size": c["block_size"], "vocab": "".join(vocab),
            "framework": f"pytorch {torch.__version__}",
            "format": "nanogpt-char"}


def model_tensors(model, keep_buffers, keep_tied_head):
    """state_dict() in nanoGPT's names, minus what the options drop."""
    out = []
    for name, t in model.state_dict().items():
        if name.endswith("attn.bias") and not keep_buffers:
            continue
        if name == "lm_head.weight" and model.cfg["tied"] and not keep_tied_head:
            continue
        out.append((name, t))
    return out


@torch.no_grad()
def write_logits(model, ids, path):
    """PyTorch's logits for a batch of sequences, little-endian float32."""
    logits = model(ids).numpy().astype("<f4")
    logits.tofile(path)
    return logits


def pick_lines(text, length, count):
    """`count` lines of `text` at least `length` characters long, spread over
    it, each cut to its first `length` characters."""
    lines = [ln[:length] for ln in text.split("\n") if len(ln) >= length]
    assert len(lines) >= count, (len(lines), count)
    step = len(lines) // count
    return [lines[i * step] for i in range(count)]


def pick_windows(ids, newline, length, count):
    """`count` windows of `length` ids, spread over `ids`, each centred on a
    line end so that the newline token is an input too."""
    ends = (ids == newline).nonzero().flatten().tolist()
    step = len(ends) // count
    starts = [max(0, min(ends[i * step] - length // 2, len(ids) - length)) for i in range(count)]
    return torch.stack([ids[s:s + length] for s in starts])


def export_references(model, stoi, heldout, out_dir, prefix, n_lines, n_windows):
    bs = model.cfg["block_size"]
    lines = pick_lines(heldout, bs, n_lines)
    with open(os.path.join(out_dir, prefix + "lines.txt"), "w", encoding="utf-8",
              newline="\n") as f:
        for ln in lines:
            f.write(ln + "\n")
    line_ids = torch.tensor([[stoi[c] for c in ln] for ln in lines], dtype=torch.long)
    write_logits(model, line_ids, os.path.join(out_dir, prefix + "lines-logits.f32"))

    ids = torch.tensor([stoi[c] for c in heldout], dtype=torch.long)
    windows = pick_windows(ids, stoi["\n"], bs, n_windows)
    windows.numpy().astype("<i4").tofile(os.path.join(out_dir, prefix + "windows.i32"))
    logits = write_logits(model, windows, os.path.join(out_dir, prefix + "windows-logits.f32"))
    return ids, logits


# ---- the two models ----------------------------------------------------------

def build(cfg, vocab):
    return GPT(dict(cfg, vocab_size=len(vocab)))


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(DATA, exist_ok=True)
    os.makedirs(TESTS, exist_ok=True)

    # The model of the example.
    text = load_text()
    vocab = sorted(set(text))
    stoi = {c: i for i, c in enumerate(vocab)}
    n_train = int(0.9 * len(text))
    train_text, heldout = text[:n_train], text[n_train:]
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    model = build(CFG, vocab)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"text {len(text)} chars, vocab {len(vocab)}, train {len(train_text)}, "
          f"held out {len(heldout)}, parameters {n_params}")
    seconds = train(model, torch.tensor([stoi[c] for c in train_text], dtype=torch.long),
                    STEPS, BATCH, gen)

    save_safetensors(os.path.join(DATA, "charlm.safetensors"),
                     model_tensors(model, keep_buffers=True, keep_tied_head=False),
                     model_metadata(model, vocab))
    with open(os.path.join(DATA, "heldout.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write(heldout)
    ids, _ = export_references(model, stoi, heldout, DATA, "", 6, 4)
    loss = heldout_loss(model, ids)
    train_loss = heldout_loss(model, torch.tensor([stoi[c] for c in train_text[-len(heldout):]]))
    print(f"held-out loss {loss:.4f} nats, {loss / math.log(2):.4f} bits/char "
          f"(last {len(heldout)} training chars: {train_loss:.4f} nats)")

    # The tiny bias=False, tied-head model of the tests.
    tiny_text = text[:6000] + TINY_TEXT_EXTRA
    tiny_vocab = sorted(set(tiny_text))
    tiny_stoi = {c: i for i, c in enumerate(tiny_vocab)}
    torch.manual_seed(SEED + 1)
    tiny = build(TINY_CFG, tiny_vocab)
    train(tiny, torch.tensor([tiny_stoi[c] for c in tiny_text], dtype=torch.long),
          TINY_STEPS, 16, torch.Generator().manual_seed(SEED + 1))
    with torch.no_grad():   # the same values in F32 and BF16 files
        for p in tiny.parameters():
            p.copy_(p.to(torch.bfloat16).to(torch.float32))
    meta = model_metadata(tiny, tiny_vocab)
    save_safetensors(os.path.join(TESTS, "tiny-tied.safetensors"),
                     list(reversed(model_tensors(tiny, keep_buffers=False, keep_tied_head=False))),
                     meta, ensure_ascii=True)
    save_safetensors(os.path.join(TESTS, "tiny-tied-bf16.safetensors"),
                     model_tensors(tiny, keep_buffers=True, keep_tied_head=True),
                     meta, dtype="BF16")
    # Its two lines, forwards and backwards (sequences it has not seen).
    tiny_lines = [ln for ln in TINY_TEXT_EXTRA.split("\n")[:2]]
    tiny_heldout = "\n".join(tiny_lines + [ln[::-1] for ln in tiny_lines]) + "\n"
    export_references(tiny, tiny_stoi, tiny_heldout, TESTS, "tiny-", 3, 3)

    ref = {
        "text": f"{LICENCE_DIR}/{{{','.join(LICENCES)}}} from base-files 12.4+deb12u11",
        "text_sha256": TEXT_SHA256,
        "chars": len(text), "train_chars": len(train_text), "heldout_chars": len(heldout),
        "vocab_size": len(vocab), "parameters": n_params,
        "config": CFG, "seed": SEED, "steps": STEPS, "batch": BATCH,
        "lr": LR, "min_lr": MIN_LR, "warmup": WARMUP,
        "train_seconds_one_thread": round(seconds, 1),
        "heldout_loss_nats": round(loss, 6),
        "heldout_bits_per_char": round(loss / math.log(2), 6),
        "torch": torch.__version__, "numpy": np.__version__,
        "python": platform.python_version(),
    }
    with open(os.path.join(DATA, "reference.json"), "w") as f:
        json.dump(ref, f, indent=2)
        f.write("\n")
    print(json.dumps(ref, indent=2))


if __name__ == "__main__":
    main()
