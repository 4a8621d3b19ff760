#!/usr/bin/env python3
"""PyTorch references for tests/test_train_rnn.c (mt_tape_lstm / gru / rnn).

Run with Debian's interpreter (python3-torch 1.13):
    /usr/bin/python3 tests/train/make_rnn_refs.py
Writes tests/train/rnn_refs.safetensors:

- for each case of CASES (its name is the key prefix): float32 inputs and
  parameters ("<case>.x", ".weight_ih", ".weight_hh", ".bias_ih", ".bias_hh",
  ".h0", ".c0" as present), the loss weights ".wo" [N,L,H], ".wh", ".wc"
  [N,H], and from nn.LSTM / nn.GRU / nn.RNN (batch_first=True, float64) the
  output ".out", ".h_n", ".c_n" and the gradient of
      sum(out * wo) + sum(h_n * wh) + sum(c_n * wc)
  with respect to every input and parameter (".grad.<name>"). A case marked
  "view" stores x as [L, N, F] and feeds x.transpose(0, 1) (a
  non-contiguous view), so ".grad.x" is [L, N, F] too.
- "bi.*": nn.LSTM(3, 4, num_layers=2, bidirectional=True) (float64): its
  state_dict, x [2, 5, 3], the loss weights "bi.wo" [2, 5, 8] and "bi.wh"
  [4, 2, 4], the output, h_n and the gradient of sum(out * wo) + sum(h_n *
  wh) for x and every parameter: the test composes it from one-layer calls.
- "e2e.*": a character model (Embedding -> LSTM -> GRU -> Linear, the
  state_dict's names), a batch of index sequences and next-character
  targets, the loss (cross entropy) of each of STEPS Adam steps run by
  torch.optim in float32, and the parameters after the last step.
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "op_table"))
from optable import write_tensors  # noqa: E402  (reuses the writer)

# name: (kind, N, L, F, H, bias, h0, c0, view) -- tests/test_train_rnn.c has the same table
CASES = {
    "lstm_n3_l5": ("lstm", 3, 5, 4, 5, True, True, True, False),
    "lstm_n1_l1": ("lstm", 1, 1, 3, 2, True, False, False, False),
    "lstm_nobias": ("lstm", 3, 5, 4, 3, False, False, False, False),
    "lstm_view": ("lstm", 3, 5, 4, 3, True, True, False, True),
    "gru_n3_l5": ("gru", 3, 5, 4, 5, True, True, False, False),
    "gru_n1_l1": ("gru", 1, 1, 3, 2, True, False, False, False),
    "gru_nobias": ("gru", 3, 5, 4, 3, False, False, False, False),
    "gru_view": ("gru", 3, 5, 4, 3, True, True, False, True),
    "rnn_tanh": ("rnn_tanh", 3, 5, 4, 5, True, True, False, False),
    "rnn_relu": ("rnn_relu", 3, 5, 4, 5, True, True, False, True),
}

STEPS = 6


def module(kind, f, h, bias):
    if kind == "lstm":
        return torch.nn.LSTM(f, h, batch_first=True, bias=bias)
    if kind == "gru":
        return torch.nn.GRU(f, h, batch_first=True, bias=bias)
    return torch.nn.RNN(f, h, batch_first=True, bias=bias, nonlinearity=kind[4:])


def case(name, spec, rng, out):
    kind, n, l, f, h, bias, has_h0, has_c0, view = spec
    f32 = lambda *shape: rng.uniform(-0.8, 0.8, shape).astype(np.float32)  # noqa: E731
    m = module(kind, f, h, bias).double()
    tensors = {"x": f32(l, n, f) if view else f32(n, l, f)}
    for pname, p in m.named_parameters():
        tensors[pname[:-3]] = f32(*p.shape)   # weight_ih_l0 -> weight_ih
        with torch.no_grad():
            p.copy_(torch.tensor(tensors[pname[:-3]], dtype=torch.float64))
    if has_h0:
        tensors["h0"] = f32(n, h)
    if has_c0:
        tensors["c0"] = f32(n, h)
    tensors["wo"] = f32(n, l, h)
    tensors["wh"] = f32(n, h)
    if kind == "lstm":
        tensors["wc"] = f32(n, h)
    leaf = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
            for k, v in tensors.items() if k in ("x", "h0", "c0")}
    x = leaf["x"].transpose(0, 1) if view else leaf["x"]
    zeros = torch.zeros(n, h, dtype=torch.float64)
    h0 = leaf.get("h0", zeros).unsqueeze(0)
    if kind == "lstm":
        c0 = leaf.get("c0", zeros).unsqueeze(0)
        y, (h_n, c_n) = m(x, (h0, c0))
    else:
        y, h_n = m(x, h0)
        c_n = None
    w = {k: torch.tensor(tensors[k], dtype=torch.float64) for k in ("wo", "wh", "wc")
         if k in tensors}
    loss = (y * w["wo"]).sum() + (h_n[0] * w["wh"]).sum()
    if c_n is not None:
        loss = loss + (c_n[0] * w["wc"]).sum()
    loss.backward()
    tensors["out"] = y.detach().numpy()
    tensors["h_n"] = h_n[0].detach().numpy()
    if c_n is not None:
        tensors["c_n"] = c_n[0].detach().numpy()
    for k, v in leaf.items():
        tensors["grad." + k] = v.grad.numpy()
    for pname, p in m.named_parameters():
        tensors["grad." + pname[:-3]] = p.grad.numpy()
    for k, v in tensors.items():
        out[f"{name}.{k}"] = np.asarray(v, dtype=np.float32)


def bidirectional(rng, out):
    m = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.tensor(rng.uniform(-0.8, 0.8, p.shape).astype(np.float32)))
    x = torch.tensor(rng.uniform(-0.8, 0.8, (2, 5, 3)).astype(np.float32),
                     dtype=torch.float64, requires_grad=True)
    wo = torch.tensor(rng.uniform(-0.8, 0.8, (2, 5, 8)).astype(np.float32), dtype=torch.float64)
    wh = torch.tensor(rng.uniform(-0.8, 0.8, (4, 2, 4)).astype(np.float32), dtype=torch.float64)
    y, (h_n, _) = m(x)
    ((y * wo).sum() + (h_n * wh).sum()).backward()
    tensors = {"x": x, "wo": wo, "wh": wh, "out": y, "h_n": h_n, "grad.x": x.grad}
    for name, p in m.named_parameters():
        tensors[name] = p
        tensors["grad." + name] = p.grad
    for k, v in tensors.items():
        out["bi." + k] = v.detach().numpy().astype(np.float32)


class CharModel(torch.nn.Module):
    def __init__(self, vocab, embed, hidden):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, embed)
        self.lstm = torch.nn.LSTM(embed, hidden, batch_first=True)
        self.gru = torch.nn.GRU(hidden, hidden, batch_first=True)
        self.fc = torch.nn.Linear(hidden, vocab)

    def forward(self, idx):
        y, _ = self.lstm(self.emb(idx))
        y, _ = self.gru(y)
        return self.fc(y)


def end_to_end(out):
    torch.manual_seed(5)
    text = "hello world, hello rnn. "
    vocab = sorted(set(text))
    codes = torch.tensor([vocab.index(c) for c in text])
    n, l = 3, 7
    idx = torch.stack([codes[i * 7:i * 7 + l] for i in range(n)])
    target = torch.stack([codes[i * 7 + 1:i * 7 + l + 1] for i in range(n)]).reshape(-1)
    model = CharModel(len(vocab), 6, 8)
    for k, v in model.state_dict().items():
        out["e2e." + k] = v.numpy().copy()
    out["e2e.idx"] = idx.numpy().astype(np.int64)
    out["e2e.target"] = target.numpy().astype(np.int64)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        logits = model(idx)
        loss = torch.nn.functional.cross_entropy(logits.reshape(n * l, -1), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out["e2e.losses"] = np.array(losses, dtype=np.float32)
    for k, v in model.state_dict().items():
        out["e2e.final." + k] = v.numpy().copy()


def main():
    rng = np.random.default_rng(2026)
    out = {}
    for name, spec in CASES.items():
        case(name, spec, rng, out)
    bidirectional(rng, out)
    end_to_end(out)
    write_tensors(os.path.join(HERE, "rnn_refs.safetensors"), out)


if __name__ == "__main__":
    main()
