#!/usr/bin/env python3
"""Writes rnn_cell_torch.safetensors for tests/test_nn_rnn_cell.c: PyTorch's
nn.LSTMCell, nn.GRUCell and nn.RNNCell (tanh, relu, bias=False) under their
state_dict names ("<case>.weight_ih", "<case>.weight_hh", "<case>.bias_ih",
"<case>.bias_hh": no _l0 suffix), each called in a Python loop over the
steps of x from given states, as a char-RNN written with a cell does:

    h, c = h0, c0
    for t in range(L):
        h, c = cell(x[:, t], (h, c))

Saved: "x_<case>" [N, L, F], "h0_<case>" and "c0_<case>" [N, H], every
step's h stacked "y_<case>_seq" [N, L, H], the last h "y_<case>_h" and
(LSTM) the last c "y_<case>_c". Also "badhh.*": an LSTMCell's tensors with
weight_hh [4H, H + 1] (a wrong shape), and "nohh.weight_ih" alone (no
weight_hh). Seeded; run with Debian's PyTorch 1.13:

    /usr/bin/python3 tests/reference/make_rnn_cell_refs.py tests/reference
"""
import pathlib
import sys

import torch
from torch import nn

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402

N, L, F, H = 2, 5, 3, 4


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    t = {}
    cells = [("lstmcell", nn.LSTMCell(F, H)), ("grucell", nn.GRUCell(F, H)),
             ("rnncell", nn.RNNCell(F, H)),
             ("rnncell_relu", nn.RNNCell(F, H, nonlinearity="relu")),
             ("rnncell_nobias", nn.RNNCell(F, H, bias=False))]
    with torch.no_grad():
        for name, cell in cells:
            for p in cell.parameters():   # wider than the default init
                p.copy_(torch.randn(p.shape) * 0.6)
            x = torch.randn(N, L, F)
            h = torch.randn(N, H)
            c = torch.randn(N, H)
            t[f"x_{name}"] = x
            t[f"h0_{name}"] = h
            lstm = isinstance(cell, nn.LSTMCell)
            if lstm:
                t[f"c0_{name}"] = c
            steps = []
            for i in range(L):
                if lstm:
                    h, c = cell(x[:, i], (h, c))
                else:
                    h = cell(x[:, i], h)
                steps.append(h)
            t[f"y_{name}_seq"] = torch.stack(steps, 1)
            t[f"y_{name}_h"] = h
            if lstm:
                t[f"y_{name}_c"] = c
            for k, v in cell.state_dict().items():
                t[f"{name}.{k}"] = v
        bad = nn.LSTMCell(F, H)
        for k, v in bad.state_dict().items():
            t[f"badhh.{k}"] = v if k != "weight_hh" else torch.zeros(4 * H, H + 1)
        t["nohh.weight_ih"] = bad.weight_ih
    save(pathlib.Path(out) / "rnn_cell_torch.safetensors", t)


if __name__ == "__main__":
    main()
