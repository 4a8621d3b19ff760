#!/usr/bin/env python3
"""Checkpoints of unusual sizes for `charlm`, and PyTorch's logits for them.

Run with Debian's python3-torch 1.13: /usr/bin/python3 tests/charlm/make_shapes.py
Untrained nanoGPT models (examples/charlm/train/model.py) with weights drawn
N(0, 0.5) from a fixed seed, so the logits are far from uniform:

  shapes-l0.safetensors   n_layer 0 (embeddings, ln_f, head), n_embd 3,
      n_head 1, block_size 4, biases, tied head; a vocabulary with \\n, ",
      \\\\, é and an astral character, metadata written with \\uXXXX escapes
      (a surrogate pair)
  shapes-hd3.safetensors  n_layer 3, n_head 5, n_embd 15 (head_dim 3, odd),
      block_size 1, biases, untied head, the attn.bias buffers, tensors in a
      shuffled order
  shapes-hd1.safetensors  n_layer 2, n_head 4, n_embd 4 (head_dim 1),
      block_size 5, no biases, tied head stored twice (lm_head.weight too)
  shapes-savemodel.safetensors  a tied model as safetensors.torch.save_model
      writes it: of the shared pair only lm_head.weight (the first name in
      sorted order), no transformer.wte.weight; tensors sorted by name
  shapes-compiled.safetensors  nanoGPT's checkpoint of a model trained with
      torch.compile: every name starts with "_orig_mod."; biases, the tied
      head stored under both names, the attn.bias buffers
  shapes-NAME-lines.txt, shapes-NAME-lines-logits.f32   lines of the longest
      length each allows, and PyTorch's logits [lines, L, vocab]
"""
import os
import random
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "charlm", "train"))
sys.path.insert(0, TRAIN)
from model import GPT  # noqa: E402
from train import model_metadata, model_tensors, save_safetensors, write_logits  # noqa: E402

MODELS = {
    "l0": dict(cfg=dict(n_layer=0, n_head=1, n_embd=3, block_size=4, bias=True, tied=True),
               vocab='ab\n"\\é\U0001F600', ascii=True, buffers=False, head=False,
               shuffle=False),
    "hd3": dict(cfg=dict(n_layer=3, n_head=5, n_embd=15, block_size=1, bias=True, tied=False),
                vocab="xyz€ \t", ascii=False, buffers=True, head=True, shuffle=True),
    "hd1": dict(cfg=dict(n_layer=2, n_head=4, n_embd=4, block_size=5, bias=False, tied=True),
                vocab="0123456789", ascii=False, buffers=False, head=True, shuffle=False),
    "savemodel": dict(cfg=dict(n_layer=1, n_head=2, n_embd=8, block_size=6, bias=False,
                               tied=True),
                      vocab="abc \n", ascii=False, buffers=True, head=True, shuffle=False,
                      drop_wte=True),
    "compiled": dict(cfg=dict(n_layer=2, n_head=2, n_embd=6, block_size=3, bias=True,
                              tied=True),
                     vocab="xyz\n", ascii=False, buffers=True, head=True, shuffle=False,
                     prefix="_orig_mod."),
}


def main():
    torch.manual_seed(7)
    rnd = random.Random(7)
    for name, m in MODELS.items():
        vocab = list(m["vocab"])
        model = GPT(dict(m["cfg"], vocab_size=len(vocab)))
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.randn(p.shape) * 0.5)
        tensors = model_tensors(model, keep_buffers=m["buffers"], keep_tied_head=m["head"])
        if m["shuffle"]:
            rnd.shuffle(tensors)
        tensors = [(m.get("prefix", "") + n, t) for n, t in tensors]
        if m.get("drop_wte"):
            tensors = sorted((t for t in tensors if t[0] != "transformer.wte.weight"),
                             key=lambda t: t[0])
        save_safetensors(os.path.join(HERE, f"shapes-{name}.safetensors"), tensors,
                         model_metadata(model, vocab), ensure_ascii=m["ascii"])
        chars = [c for c in vocab if c != "\n"]
        L = m["cfg"]["block_size"]
        lines = ["".join(rnd.choice(chars) for _ in range(L)) for _ in range(3)]
        with open(os.path.join(HERE, f"shapes-{name}-lines.txt"), "w", encoding="utf-8",
                  newline="\n") as f:
            f.write("".join(ln + "\n" for ln in lines))
        stoi = {c: i for i, c in enumerate(vocab)}
        ids = torch.tensor([[stoi[c] for c in ln] for ln in lines], dtype=torch.long)
        model.eval()
        write_logits(model, ids, os.path.join(HERE, f"shapes-{name}-lines-logits.f32"))


if __name__ == "__main__":
    main()
