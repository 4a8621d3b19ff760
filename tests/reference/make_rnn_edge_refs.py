#!/usr/bin/env python3
"""Writes the references of the edge cases in tests/test_nn_rnn.c and
tests/test_train_rnn.c that make_rnn_refs.py's cases leave out:

  torch  (/usr/bin/python3, PyTorch 1.13) -> rnn_edge_torch.safetensors
         "g1.*": nn.GRU(3, 1) on batch 7 of length 1 (H = 1, L = 1);
         "lt.*": a 2-layer bidirectional nn.LSTM whose input is given as
         "x_lt_nfl" [N, F, L] (the test passes the transposed view),
         outputs "y_lt" (out), "hn_lt", "cn_lt" (h_n, c_n batch first);
         "r3.*": a 3-layer bidirectional ReLU nn.RNN from "h0_r3" (batch
         first), outputs "y_r3", "hn_r3";
         tape cases: "tg_*" a GRU whose weight_ih is its weight_hh and
         bias_ih its bias_hh (one tensor each), h0 [1, N, H], loss
         sum(out * tg_co) + sum(h_n * tg_ch) and its gradients "tg_d*";
         "tl_*" an LSTM whose h0 and c0 are one tensor "tl_s", loss
         sum(out * tl_co) + sum(c_n * tl_cc) and its gradients "tl_d*".
  keras  (the Keras venv, Keras 3) -> rnn_edge_keras.safetensors
         "kb/forward_g/gru_cell/…", "kb/backward_g/…": Bidirectional(GRU(3,
         reset_after=False)) on batch 7; "k1/gru_cell/…": GRU(1) on batch 7
         of length 1; outputs "y_<case>_seq" and "y_<case>_final"
         (return_sequences True and False).

  /usr/bin/python3 tests/reference/make_rnn_edge_refs.py torch tests/reference
  /work/main/build-venv-keras/bin/python tests/reference/make_rnn_edge_refs.py keras tests/reference
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_rnn_refs import save  # noqa: E402  (numpy arrays by name)


def torch_refs(out):
    import torch
    torch.manual_seed(7)
    t = {}

    def put(prefix, module):
        t.update({f"{prefix}.{k}": v.numpy() for k, v in module.state_dict().items()})

    g = torch.nn.GRU(3, 1, batch_first=True)
    x = torch.randn(7, 1, 3)
    put("g1", g)
    t["x_g1"], t["y_g1"] = x.numpy(), g(x)[0].detach().numpy()

    lstm = torch.nn.LSTM(4, 3, num_layers=2, bidirectional=True, batch_first=True)
    x_nfl = torch.randn(2, 4, 5)
    y, (hn, cn) = lstm(x_nfl.transpose(1, 2))
    put("lt", lstm)
    t.update(x_lt_nfl=x_nfl.numpy(), y_lt=y.detach().numpy(),
             hn_lt=hn.permute(1, 0, 2).detach().numpy(),
             cn_lt=cn.permute(1, 0, 2).detach().numpy())

    rnn = torch.nn.RNN(2, 3, num_layers=3, nonlinearity="relu", bidirectional=True,
                       batch_first=True)
    x, h0 = torch.randn(2, 4, 2), torch.randn(6, 2, 3)
    y, hn = rnn(x, h0)
    put("r3", rnn)
    t.update(x_r3=x.numpy(), h0_r3=h0.permute(1, 0, 2).numpy(), y_r3=y.detach().numpy(),
             hn_r3=hn.permute(1, 0, 2).detach().numpy())

    # tape: one tensor as both weight matrices and as both biases
    n, length, h = 2, 4, 3
    w = torch.randn(3 * h, h, requires_grad=True)
    b = torch.randn(3 * h, requires_grad=True)
    x = torch.randn(n, length, h, requires_grad=True)
    h0 = torch.randn(1, n, h, requires_grad=True)
    y, hn = torch._VF.gru(x, h0, [w, w, b, b], True, 1, 0.0, False, False, True)
    co, ch = torch.randn(n, length, h), torch.randn(1, n, h)
    ((y * co).sum() + (hn * ch).sum()).backward()
    t.update(tg_w=w.detach().numpy(), tg_b=b.detach().numpy(), tg_x=x.detach().numpy(),
             tg_h0=h0.detach()[0].numpy(), tg_co=co.numpy(), tg_ch=ch[0].numpy(),
             tg_out=y.detach().numpy(), tg_dw=w.grad.numpy(), tg_db=b.grad.numpy(),
             tg_dx=x.grad.numpy(), tg_dh0=h0.grad[0].numpy())

    # tape: one tensor as h0 and c0
    wi = torch.randn(4 * h, 2, requires_grad=True)
    wh = torch.randn(4 * h, h, requires_grad=True)
    x = torch.randn(n, length, 2)
    s = torch.randn(1, n, h, requires_grad=True)
    y, hn, cn = torch._VF.lstm(x, (s, s), [wi, wh], False, 1, 0.0, False, False, True)
    co, cc = torch.randn(n, length, h), torch.randn(1, n, h)
    ((y * co).sum() + (cn * cc).sum()).backward()
    t.update(tl_wi=wi.detach().numpy(), tl_wh=wh.detach().numpy(), tl_x=x.numpy(),
             tl_s=s.detach()[0].numpy(), tl_co=co.numpy(), tl_cc=cc[0].numpy(),
             tl_out=y.detach().numpy(), tl_dwi=wi.grad.numpy(), tl_dwh=wh.grad.numpy(),
             tl_ds=s.grad[0].numpy())
    save(f"{out}/rnn_edge_torch.safetensors", t)
    print(f"PyTorch {torch.__version__}: {len(t)} tensors")


def keras_refs(out):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    keras.utils.set_random_seed(1)
    layers = keras.layers
    rng = np.random.default_rng(5)
    t = {}

    def case(name, make, n, length, f):
        x = rng.normal(0, 1, (n, length, f)).astype("f4")
        seq = make(True, name)
        model = keras.Sequential([keras.Input((length, f)), seq])
        seq.set_weights([rng.normal(0, 0.6, w.shape).astype("f4") for w in seq.get_weights()])
        final = make(False, name + "_final")
        keras.Sequential([keras.Input((length, f)), final])
        final.set_weights(seq.get_weights())
        t.update({v.path.split("/", 1)[1]: np.asarray(v) for v in model.weights})
        t[f"x_{name}"] = x
        t[f"y_{name}_seq"] = np.asarray(seq(x))
        t[f"y_{name}_final"] = np.asarray(final(x))

    case("kb", lambda r, nm: layers.Bidirectional(
        layers.GRU(3, reset_after=False, return_sequences=r, name="g"), name=nm), 7, 4, 2)
    case("k1", lambda r, nm: layers.GRU(1, return_sequences=r, name=nm), 7, 1, 3)
    save(f"{out}/rnn_edge_keras.safetensors", t)
    print(f"Keras {keras.__version__}: {len(t)} tensors")


if __name__ == "__main__":
    which, out = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "."
    {"torch": torch_refs, "keras": keras_refs}[which](out)
