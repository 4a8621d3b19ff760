#!/usr/bin/env python3
"""charlm_compare.py — the character model of examples/charlm in minitensor
(bench_charlm) and in PyTorch eager on the same weights, in the same run, at
the same thread count:

  generate  tokens/s at batch 1: minitensor's loop over its KV cache against
            nanoGPT's generate() loop (the whole cropped context every step,
            as nanoGPT samples), both sampling from a newline at temperature
            0.8 over all characters;
  prompt    tokens/s over one full block_size window (all logits).

PyTorch is checked first (its logits of the committed held-out windows, from
the committed weights, against the committed reference: 1e-4); bench_charlm
validates itself. The engines alternate for --rounds rounds (the machine may
be shared); each figure is the median over all repeats of all rounds. Both
wall-clock and process-CPU rates are reported; the ratio is on each.

usage (Debian's python3-torch):
  /usr/bin/python3 benches/charlm_compare.py --bench build/benches/bench_charlm \\
      [--threads 1] [--rounds 3] [--json bench-charlm-compare.json]
"""
import argparse
import json
import os
import platform
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "examples", "charlm", "data"))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "charlm", "train"))
from model import GPT  # noqa: E402

REPEATS = 3            # per round and engine
TORCH_TOKENS = 500     # generated per repeat (nanoGPT's loop is slow)
PROMPT_PASSES = 20


def load_safetensors(path):
    """{name: torch tensor} and the metadata, read by hand (F32 only)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", (name, e["dtype"])
        a, b = e["data_offsets"]
        tensors[name] = torch.from_numpy(
            np.frombuffer(data[a:b], dtype="<f4").reshape(e["shape"]).copy())
    return tensors, meta


def load_model(path):
    tensors, meta = load_safetensors(path)
    cfg = {k: int(meta[k]) for k in ("n_layer", "n_head", "n_embd", "block_size")}
    cfg["vocab_size"] = len(meta["vocab"])
    cfg["bias"] = "transformer.ln_f.bias" in tensors
    cfg["tied"] = "lm_head.weight" not in tensors
    model = GPT(cfg)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    assert not unexpected, unexpected
    assert all(k.endswith("attn.bias") or (cfg["tied"] and k == "lm_head.weight")
               for k in missing), missing
    model.eval()
    return model, meta["vocab"]


@torch.no_grad()
def validate(model):
    bs = model.cfg["block_size"]
    win = np.fromfile(os.path.join(DATA, "windows.i32"), "<i4").reshape(-1, bs)
    ref = np.fromfile(os.path.join(DATA, "windows-logits.f32"), "<f4").reshape(
        len(win), bs, -1)
    got = model(torch.from_numpy(win.astype(np.int64))).numpy()
    diff = float(np.abs(got - ref).max())
    assert diff <= 1e-4 and (got.argmax(-1) == ref.argmax(-1)).all(), diff
    return diff


def rates(fn, count):
    """(tokens/s wall, tokens/s CPU) of fn(), which handles `count` tokens."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    w1, c1 = time.perf_counter(), time.process_time()
    return count / (w1 - w0), count / max(c1 - c0, 1e-9)


@torch.no_grad()
def torch_round(model, newline, seed):
    bs = model.cfg["block_size"]
    gen, prompt = [], []
    start = torch.full((1, 1), newline, dtype=torch.long)
    window = torch.arange(bs, dtype=torch.long).view(1, bs) * 7 % model.cfg["vocab_size"]
    for r in range(REPEATS):
        torch.manual_seed(seed + r)
        gen.append(rates(lambda: model.generate(start, TORCH_TOKENS, temperature=0.8),
                         TORCH_TOKENS))

        def passes():
            for _ in range(PROMPT_PASSES):
                model(window)
        prompt.append(rates(passes, bs * PROMPT_PASSES))
    return gen, prompt


def bench_round(bench, threads, tokens):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bench.json")
        subprocess.run([bench, "--threads", str(threads), "--repeats", str(REPEATS),
                        "--tokens", str(tokens), "--json", out], check=True,
                       stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bench", required=True, help="build/benches/bench_charlm")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--tokens", type=int, default=5000, help="per minitensor repeat")
    p.add_argument("--json", default="bench-charlm-compare.json")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    model, vocab = load_model(os.path.join(DATA, "charlm.safetensors"))
    diff = validate(model)
    newline = vocab.index("\n")
    torch_round(model, newline, 0)   # warm-up

    mt = {"gen": [], "gen_cpu": [], "prompt": [], "prompt_cpu": []}
    pt = {"gen": [], "gen_cpu": [], "prompt": [], "prompt_cpu": []}
    bench_info = None
    for rnd in range(args.rounds):
        bench_info = bench_round(args.bench, args.threads, args.tokens)
        # bench_charlm reports the median of its repeats: one entry per round
        mt["gen"].append(bench_info["generate_tokens_per_s"])
        mt["gen_cpu"].append(bench_info["generate_tokens_per_cpu_s"])
        mt["prompt"].append(bench_info["prompt_tokens_per_s"])
        mt["prompt_cpu"].append(bench_info["prompt_tokens_per_cpu_s"])
        gen, prompt = torch_round(model, newline, 100 * (rnd + 1))
        pt["gen"] += [g[0] for g in gen]
        pt["gen_cpu"] += [g[1] for g in gen]
        pt["prompt"] += [q[0] for q in prompt]
        pt["prompt_cpu"] += [q[1] for q in prompt]

    med = {e: {k: statistics.median(v) for k, v in d.items()} for e, d in
           (("minitensor", mt), ("pytorch", pt))}
    a, b = med["minitensor"], med["pytorch"]
    print(f"machine: {bench_info['cpu']}, {args.threads} thread(s), load average "
          f"{os.getloadavg()[0]:.1f}; PyTorch {torch.__version__} eager (logits max |diff| "
          f"{diff:.1g} vs the reference); minitensor backend {bench_info['backend']}")
    print(f"{'tokens/s (median)':<34} {'minitensor':>11} {'PyTorch':>11} {'ratio':>7}")
    rows = [("generate, batch 1, wall", "gen"), ("generate, batch 1, CPU time", "gen_cpu"),
            ("prompt (block_size), wall", "prompt"), ("prompt (block_size), CPU time",
                                                      "prompt_cpu")]
    for label, k in rows:
        print(f"{label:<34} {a[k]:>11.0f} {b[k]:>11.0f} {a[k] / b[k]:>6.1f}x")
    result = {
        "threads": args.threads, "rounds": args.rounds, "cpu": bench_info["cpu"],
        "python": platform.python_version(), "torch": torch.__version__,
        "minitensor": a, "pytorch": b,
        "ratio": {k: a[k] / b[k] for k in a},
        "minitensor_tokens_per_repeat": args.tokens, "pytorch_tokens_per_repeat": TORCH_TOKENS,
        "load_average": os.getloadavg()[0],
    }
    with open(args.json, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
