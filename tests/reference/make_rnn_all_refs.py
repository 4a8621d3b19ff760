#!/usr/bin/env python3
"""Writes the references of tests/test_nn_rnn_all.c: every output of a
recurrent layer from one call (MT_RNN_RETURN_ALL).

  torch  (/usr/bin/python3, PyTorch 1.13) -> rnn_all_torch.safetensors
         `y, (h_n, c_n) = m(x, (h0, c0))` (GRU, RNN: `y, h_n`) with
         h_n, c_n, h0, c0 batch first ([N, layers*D, H]):
         "tl" nn.LSTM(3, 4, num_layers=2, bidirectional=True,
         batch_first=True) from "h0_tl", "c0_tl";
         "tg" nn.GRU(3, 4, num_layers=2, bidirectional=True,
         batch_first=True) on pack_padded_sequence(x, lengths,
         batch_first=True, enforce_sorted=False) ("mask_tg", I64 [N, L]),
         from "h0_tg"; y is pad_packed_sequence's (total_length=L);
         "tr" nn.RNN(3, 4, num_layers=2, nonlinearity='relu') with the
         default batch_first=False: "x_tr" and "y_tr" stored batch first;
         "tp" nn.LSTM(3, 5, proj_size=2, num_layers=2, bidirectional=True,
         batch_first=True) packed ("mask_tp"), zero states.
         Each: "x_<c>", "y_<c>", "hn_<c>" (and "cn_<c>").
  keras  (the Keras venv, Keras 3) -> rnn_all_keras.safetensors
         return_sequences=True, return_state=True on "x" [N, L, 3]:
         "kl" LSTM(4): "y_kl", "h_kl", "c_kl"; "kl" again from
         initial_state "h0_kl", "c0_kl" with the mask "mask_kl" (I64,
         padded 'post'): "y_klm", "h_klm", "c_klm";
         "kg" GRU(4): "y_kg", "h_kg"; "ks" SimpleRNN(4, go_backwards=
         True): "y_ks", "h_ks";
         "kb" Bidirectional(LSTM(3)): "y_kb", "hf_kb", "cf_kb", "hb_kb",
         "cb_kb" (its five outputs); "kbs" the same with merge_mode='sum';
         "kbg" Bidirectional(GRU(3, return_sequences=False),
         merge_mode='ave'): "y_kbg" (the merged final h), "hf_kbg",
         "hb_kbg"; "kbn" Bidirectional(LSTM(3), merge_mode=None): "yf_kbn",
         "yb_kbn", "hf_kbn", "cf_kbn", "hb_kbn", "cb_kbn".

  /usr/bin/python3 tests/reference/make_rnn_all_refs.py torch tests/reference
  /work/main/build-venv-keras/bin/python tests/reference/make_rnn_all_refs.py keras tests/reference
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_rnn_refs import save  # noqa: E402  (numpy arrays by name)

F, L, N = 3, 5, 3


def torch_refs(out):
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    torch.manual_seed(17)
    t = {}
    lengths = torch.tensor([5, 2, 4])
    mask = (torch.arange(L)[None, :] < lengths[:, None]).long()

    def bf(s):   # h_n / c_n [layers*D, N, H] -> batch first
        return s.permute(1, 0, 2).numpy()

    def case(name, m, x, state=None, packed=False, time_major=False):
        t.update({f"{name}.{k}": v.numpy() for k, v in m.state_dict().items()})
        t[f"x_{name}"] = (x.permute(1, 0, 2) if time_major else x).numpy()
        inp = x
        if packed:
            inp = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            t[f"mask_{name}"] = mask.numpy()
        y, s = m(inp, state)
        if packed:
            y, _ = pad_packed_sequence(y, batch_first=True, total_length=L)
        t[f"y_{name}"] = (y.permute(1, 0, 2) if time_major else y).numpy()
        hn, cn = s if isinstance(s, tuple) else (s, None)
        t[f"hn_{name}"] = bf(hn)
        if cn is not None:
            t[f"cn_{name}"] = bf(cn)

    with torch.no_grad():
        tl = torch.nn.LSTM(F, 4, num_layers=2, bidirectional=True, batch_first=True)
        h0, c0 = torch.randn(4, N, 4), torch.randn(4, N, 4)
        t["h0_tl"], t["c0_tl"] = bf(h0), bf(c0)
        case("tl", tl, torch.randn(N, L, F), (h0, c0))
        tg = torch.nn.GRU(F, 4, num_layers=2, bidirectional=True, batch_first=True)
        h0 = torch.randn(4, N, 4)
        t["h0_tg"] = bf(h0)
        case("tg", tg, torch.randn(N, L, F), h0, packed=True)
        tr = torch.nn.RNN(F, 4, num_layers=2, nonlinearity="relu")
        case("tr", tr, torch.randn(L, N, F), time_major=True)
        tp = torch.nn.LSTM(F, 5, proj_size=2, num_layers=2, bidirectional=True,
                           batch_first=True)
        case("tp", tp, torch.randn(N, L, F), packed=True)
    save(f"{out}/rnn_all_torch.safetensors", t)
    print(f"PyTorch {torch.__version__}: {len(t)} tensors")


def keras_refs(out):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    keras.utils.set_random_seed(7)
    layers = keras.layers
    rng = np.random.default_rng(23)
    t = {}
    x = rng.normal(0, 1, (N, L, F)).astype("f4")
    t["x"] = x

    def case(name, layer, outs):
        layer(x)   # builds it
        layer.set_weights([rng.normal(0, 0.7, w.shape).astype("f4")
                           for w in layer.get_weights()])
        t.update({v.path.replace(layer.name, name, 1): np.asarray(v) for v in layer.weights})
        for key, value in zip(outs, layer(x)):
            t[f"{key}_{name}"] = np.asarray(value)
        return layer

    both = dict(return_sequences=True, return_state=True)
    kl = case("kl", layers.LSTM(4, **both), ["y", "h", "c"])
    # from initial_state, with a mask (rows of 5, 2 and 0 steps, padded 'post')
    h0, c0 = (rng.normal(0, 0.5, (N, 4)).astype("f4") for _ in range(2))
    m = np.arange(L)[None, :] < np.array([5, 2, 0])[:, None]
    t["h0_kl"], t["c0_kl"], t["mask_kl"] = h0, c0, m.astype("int64")
    y, h, c = kl(x, initial_state=[h0, c0], mask=m)
    t["y_klm"], t["h_klm"], t["c_klm"] = np.asarray(y), np.asarray(h), np.asarray(c)
    case("kg", layers.GRU(4, **both), ["y", "h"])
    case("ks", layers.SimpleRNN(4, go_backwards=True, **both), ["y", "h"])
    bi = layers.Bidirectional
    five = ["y", "hf", "cf", "hb", "cb"]
    case("kb", bi(layers.LSTM(3, name="l", **both)), five)
    case("kbs", bi(layers.LSTM(3, name="l", **both), merge_mode="sum"), five)
    case("kbg", bi(layers.GRU(3, name="g", return_state=True), merge_mode="ave"),
         ["y", "hf", "hb"])
    case("kbn", bi(layers.LSTM(3, name="l", **both), merge_mode=None),
         ["yf", "yb", "hf", "cf", "hb", "cb"])
    save(f"{out}/rnn_all_keras.safetensors", t)
    print(f"Keras {keras.__version__}: {len(t)} tensors", sorted(k for k in t if "/" in k))


if __name__ == "__main__":
    which, out = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "."
    {"torch": torch_refs, "keras": keras_refs}[which](out)
