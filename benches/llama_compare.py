#!/usr/bin/env python3
"""llama_compare.py — mt_llama (bench_llama) beside PyTorch eager on the same
weights, in the same run, at the same thread count: a model of llama2.c's
stories15M shape (dim 288, 6 layers, 6 heads, hidden 768, vocab 32000,
tied output), seeded random weights, written in llama2.c's names.

  prompt    tokens/s of a 32-token prompt fed at once;
  generate  tokens/s of 128 greedy tokens, one at a time over a KV cache
            (PyTorch: llama2.c's model.py written out with a cache, the
            way its generate() would run with one, in float32).

The engines alternate for --rounds rounds (the machine may be shared); each
figure is the median over all repeats of all rounds; wall-clock and process
CPU rates, and the ratio on each. Both engines' greedy ids are compared
(the same weights should give the same tokens, until float rounding flips
a near-tie).

usage (Debian's python3-torch):
  /usr/bin/python3 benches/llama_compare.py --bench build/benches/bench_llama \\
      [--threads 1] [--rounds 3] [--json bench-llama-compare.json]
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time


def _threads_from_argv():
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


# PyTorch's BLAS (OpenBLAS in Debian's build) reads its thread count when
# it loads, and torch.set_num_threads does not reach it: set it first
os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = _threads_from_argv()
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
from st_write import save  # noqa: E402
from machine import cpu_name  # noqa: E402

CFG = {"dim": 288, "layers": 6, "heads": 6, "hidden": 768, "vocab": 32000, "eps": 1e-5,
       "theta": 10000.0}
PROMPT, TOKENS, REPEATS = 32, 128, 3


def make_weights():
    """llama2.c's init (normal 0.02; the output projections 0.02/sqrt(2L)),
    norms 1, the output tied to tok_embeddings (left out of the file)."""
    g = torch.Generator().manual_seed(0)
    E, L, Hd, V = CFG["dim"], CFG["layers"], CFG["hidden"], CFG["vocab"]

    def w(*shape, std=0.02):
        return torch.randn(*shape, generator=g) * std
    sd = {"tok_embeddings.weight": w(V, E), "norm.weight": torch.ones(E)}
    for i in range(L):
        p = f"layers.{i}."
        for n in ("wq", "wk", "wv"):
            sd[p + f"attention.{n}.weight"] = w(E, E)
        sd[p + "attention.wo.weight"] = w(E, E, std=0.02 / math.sqrt(2 * L))
        sd[p + "feed_forward.w1.weight"] = w(Hd, E)
        sd[p + "feed_forward.w3.weight"] = w(Hd, E)
        sd[p + "feed_forward.w2.weight"] = w(E, Hd, std=0.02 / math.sqrt(2 * L))
        sd[p + "attention_norm.weight"] = torch.ones(E)
        sd[p + "ffn_norm.weight"] = torch.ones(E)
    return sd


class TorchLlama:
    """llama2.c's model.py (interleaved RoPE, RMSNorm, SwiGLU) with a KV cache."""

    def __init__(self, sd, max_len):
        self.sd, self.max_len = sd, max_len
        E, H = CFG["dim"], CFG["heads"]
        D = E // H
        freqs = 1.0 / (CFG["theta"] ** (torch.arange(0, D, 2)[: D // 2].float() / D))
        f = torch.outer(torch.arange(max_len), freqs).float()
        self.cos, self.sin = torch.cos(f), torch.sin(f)
        self.k = [torch.zeros(1, max_len, H, D) for _ in range(CFG["layers"])]
        self.v = [torch.zeros(1, max_len, H, D) for _ in range(CFG["layers"])]
        self.pos = 0

    def rope(self, x, pos):
        n = x.shape[1]
        xr, xi = x.reshape(x.shape[:-1] + (-1, 2)).unbind(-1)
        c = self.cos[pos:pos + n].view(1, n, 1, -1)
        s = self.sin[pos:pos + n].view(1, n, 1, -1)
        return torch.stack([xr * c - xi * s, xr * s + xi * c], dim=-1).flatten(3)

    def forward(self, ids):
        sd, E, H = self.sd, CFG["dim"], CFG["heads"]
        D, n, pos = E // H, ids.shape[1], self.pos
        h = F.embedding(ids, sd["tok_embeddings.weight"])

        def rms(x, w):
            return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + CFG["eps"]))
        mask = torch.full((n, pos + n), float("-inf")).triu(pos + 1)
        for i in range(CFG["layers"]):
            p = f"layers.{i}."
            x = rms(h, sd[p + "attention_norm.weight"])
            q = self.rope(F.linear(x, sd[p + "attention.wq.weight"]).view(1, n, H, D), pos)
            k = self.rope(F.linear(x, sd[p + "attention.wk.weight"]).view(1, n, H, D), pos)
            self.k[i][:, pos:pos + n] = k
            self.v[i][:, pos:pos + n] = F.linear(x, sd[p + "attention.wv.weight"]).view(
                1, n, H, D)
            keys = self.k[i][:, :pos + n].transpose(1, 2)
            values = self.v[i][:, :pos + n].transpose(1, 2)
            s = torch.matmul(q.transpose(1, 2), keys.transpose(2, 3)) / math.sqrt(D) + mask
            a = torch.matmul(F.softmax(s, dim=-1), values).transpose(1, 2).reshape(1, n, E)
            h = h + F.linear(a, sd[p + "attention.wo.weight"])
            x = rms(h, sd[p + "ffn_norm.weight"])
            h = h + F.linear(F.silu(F.linear(x, sd[p + "feed_forward.w1.weight"])) *
                             F.linear(x, sd[p + "feed_forward.w3.weight"]),
                             sd[p + "feed_forward.w2.weight"])
        self.pos += n
        return F.linear(rms(h[:, -1], sd["norm.weight"]), sd["tok_embeddings.weight"])[0]


def torch_round(sd):
    """Medians of REPEATS runs: prompt and generate tokens/s (wall, cpu), ids."""
    rates = {"prompt_wall": [], "prompt_cpu": [], "gen_wall": [], "gen_cpu": []}
    prompt = torch.tensor([[(i + 1) % CFG["vocab"] for i in range(PROMPT)]])
    ids = []
    with torch.no_grad():
        for r in range(REPEATS + 1):   # the first is a warm-up
            m = TorchLlama(sd, PROMPT + TOKENS)
            w0, c0 = time.perf_counter(), time.process_time()
            logits = m.forward(prompt)
            w1, c1 = time.perf_counter(), time.process_time()
            ids = []
            for _ in range(TOKENS):
                t = int(torch.argmax(logits))
                ids.append(t)
                logits = m.forward(torch.tensor([[t]]))
            w2, c2 = time.perf_counter(), time.process_time()
            if r:
                rates["prompt_wall"].append(PROMPT / (w1 - w0))
                rates["prompt_cpu"].append(PROMPT / max(c1 - c0, 1e-9))
                rates["gen_wall"].append(TOKENS / (w2 - w1))
                rates["gen_cpu"].append(TOKENS / max(c2 - c1, 1e-9))
    return rates, ids


def bench_round(bench, path, threads, out):
    env = dict(os.environ, MT_NUM_THREADS=str(threads))
    subprocess.run([bench, path, "--heads", str(CFG["heads"]), "--eps", str(CFG["eps"]),
                    "--theta", str(CFG["theta"]), "--prompt", str(PROMPT), "--tokens",
                    str(TOKENS), "--repeats", str(REPEATS), "--json", out],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    with open(out) as f:
        r = json.load(f)
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    sd = make_weights()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "stories15m-shaped.safetensors")
        save(path, sd)
        mt = {"prompt_wall": [], "prompt_cpu": [], "gen_wall": [], "gen_cpu": []}
        pt = {k: [] for k in mt}
        mt_ids = pt_ids = []
        for _ in range(a.rounds):
            r = bench_round(a.bench, path, a.threads, os.path.join(tmp, "b.json"))
            mt["prompt_wall"].append(r["prompt_tokens_per_s"]["wall"])
            mt["prompt_cpu"].append(r["prompt_tokens_per_s"]["cpu"])
            mt["gen_wall"].append(r["generate_tokens_per_s"]["wall"])
            mt["gen_cpu"].append(r["generate_tokens_per_s"]["cpu"])
            mt_ids = r["ids"]
            rates, pt_ids = torch_round(sd)
            for k in pt:
                pt[k].extend(rates[k])
    same = next((i for i, (x, y) in enumerate(zip(mt_ids, pt_ids)) if x != y), len(mt_ids))
    med = {e: {k: statistics.median(v) for k, v in d.items()} for e, d in
           (("minitensor", mt), ("pytorch", pt))}
    print(f"stories15M-shaped Llama (dim 288, 6 layers, vocab 32000), {a.threads} thread(s), "
          f"{cpu_name()}, torch {torch.__version__}")
    print(f"{'':12}{'prompt tok/s wall':>20}{'cpu':>10}{'generate tok/s wall':>22}{'cpu':>10}")
    for e in ("minitensor", "pytorch"):
        m = med[e]
        print(f"{e:12}{m['prompt_wall']:20.1f}{m['prompt_cpu']:10.1f}{m['gen_wall']:22.1f}"
              f"{m['gen_cpu']:10.1f}")
    ratio = {k: med["minitensor"][k] / med["pytorch"][k] for k in mt}
    print(f"{'ratio':12}{ratio['prompt_wall']:19.2f}x{ratio['prompt_cpu']:9.2f}x"
          f"{ratio['gen_wall']:21.2f}x{ratio['gen_cpu']:9.2f}x")
    print(f"greedy ids agree for the first {same} of {len(mt_ids)} tokens")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"cpu": cpu_name(), "threads": a.threads, "torch": torch.__version__,
                       "config": CFG, "prompt": PROMPT, "tokens": TOKENS, "medians": med,
                       "ratios": ratio, "ids_agree": same}, f, indent=1)


if __name__ == "__main__":
    main()
