#!/usr/bin/env python3
"""Writes the references of tests/test_nn_rnn_mask.c: recurrent layers on
padded batches, with a mask.

  torch  (/usr/bin/python3, PyTorch 1.13) -> rnn_mask_torch.safetensors
         pack_padded_sequence(x, lengths, batch_first=True,
         enforce_sorted=False) on right-padded x (junk in the padding):
         "pl.*": nn.LSTM(3, 4) from zero states; "pg.*": a 2-layer
         bidirectional nn.GRU(3, 4) from "h0_pg" (batch first).
         "x_<c>", "mask_<c>" (I64 [N, L], 1 where t < lengths[n]),
         "y_<c>" (pad_packed_sequence(..., total_length=L)), "last_<c>"
         (its [:, -1]), "hn_<c>" (and "cn_pl"; h_n, c_n batch first).
  keras  (the Keras venv, Keras 3) -> rnn_mask_keras.safetensors
         Embedding(7, 3, mask_zero=True) -> "kl" LSTM(4), "kg" GRU(4),
         "kb" Bidirectional(LSTM(2)), "ks" SimpleRNN(4) on ids padded 'pre' ("ids_pre") and
         'post' ("ids_post"), a fully padded row among them. "x_<pad>"
         (the embedding's output), "y_<c>_<pad>_seq" (return_sequences=
         True), "y_<c>_<pad>_final" (False), "h_kl_<pad>", "c_kl_<pad>"
         (return_state=True's states); "kl" from initial_state "h0_kl",
         "c0_kl" with the mask given explicitly: "y_kl_<pad>_h0",
         "h_kl_<pad>_h0", "c_kl_<pad>_h0"; Masking(0.0) -> LSTM ("kl"'s
         weights) on "x_km" (zero steps at the end, a row of zeros): "y_km".

  /usr/bin/python3 tests/reference/make_rnn_mask_refs.py torch tests/reference
  /work/main/build-venv-keras/bin/python tests/reference/make_rnn_mask_refs.py keras tests/reference
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_rnn_refs import save  # noqa: E402  (numpy arrays by name)


def torch_refs(out):
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    torch.manual_seed(11)
    t = {}
    n, length = 4, 5
    lengths = torch.tensor([5, 2, 4, 1])
    mask = (torch.arange(length)[None, :] < lengths[:, None]).long()

    def case(name, module, h0=None):
        x = torch.randn(n, length, 3)   # the padding holds junk: it must not count
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        y, state = module(packed, h0)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=length)
        t.update({f"{name}.{k}": v.numpy() for k, v in module.state_dict().items()})
        t[f"x_{name}"], t[f"mask_{name}"] = x.numpy(), mask.numpy()
        t[f"y_{name}"], t[f"last_{name}"] = y.detach().numpy(), y[:, -1].detach().numpy()
        hn = state[0] if isinstance(state, tuple) else state
        t[f"hn_{name}"] = hn.permute(1, 0, 2).detach().numpy()
        if isinstance(state, tuple):
            t[f"cn_{name}"] = state[1].permute(1, 0, 2).detach().numpy()

    with torch.no_grad():
        case("pl", torch.nn.LSTM(3, 4, batch_first=True))
        h0 = torch.randn(4, n, 4)
        t["h0_pg"] = h0.permute(1, 0, 2).numpy()
        case("pg", torch.nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True), h0)
    save(f"{out}/rnn_mask_torch.safetensors", t)
    print(f"PyTorch {torch.__version__}: {len(t)} tensors")


def keras_refs(out):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    keras.utils.set_random_seed(3)
    layers = keras.layers
    rng = np.random.default_rng(9)
    t = {}
    rows = [[3, 1, 2, 5, 4], [4, 2], [], [6, 1, 3]]
    length = 5
    ids = {"pre": keras.utils.pad_sequences(rows, maxlen=length, padding="pre"),
           "post": keras.utils.pad_sequences(rows, maxlen=length, padding="post")}
    emb = layers.Embedding(7, 3, mask_zero=True, name="emb")
    inp = keras.Input((length,), dtype="int64")
    x = emb(inp)
    embed = keras.Model(inp, x)
    for pad, i in ids.items():
        t[f"ids_{pad}"] = i.astype("int64")
        t[f"x_{pad}"] = np.asarray(embed(i))

    def case(name, make):
        seq, final = make(True), make(False)
        keras.Model(inp, seq(x))
        keras.Model(inp, final(x))
        seq.set_weights([rng.normal(0, 0.7, w.shape).astype("f4") for w in seq.get_weights()])
        final.set_weights(seq.get_weights())
        t.update({v.path.replace(seq.name, name, 1): np.asarray(v) for v in seq.weights})
        for pad, i in ids.items():
            t[f"y_{name}_{pad}_seq"] = np.asarray(keras.Model(inp, seq(x))(i))
            t[f"y_{name}_{pad}_final"] = np.asarray(keras.Model(inp, final(x))(i))
        return seq

    case("kl", lambda r: layers.LSTM(4, return_sequences=r))
    case("kg", lambda r: layers.GRU(4, return_sequences=r))
    case("kb", lambda r: layers.Bidirectional(layers.LSTM(2, return_sequences=r, name="l")))
    case("ks", lambda r: layers.SimpleRNN(4, return_sequences=r))
    state = layers.LSTM(4, return_state=True)
    keras.Model(inp, state(x))
    state.set_weights([t[f"kl/lstm_cell/{w}"] for w in ("kernel", "recurrent_kernel", "bias")])
    for pad, i in ids.items():
        _, h, c = keras.Model(inp, state(x))(i)
        t[f"h_kl_{pad}"], t[f"c_kl_{pad}"] = np.asarray(h), np.asarray(c)
    # from initial_state: Keras 3.11 drops the Embedding's mask in a functional
    # model when initial_state is given, so the mask is passed explicitly
    full = layers.LSTM(4, return_sequences=True, return_state=True)
    h0, c0 = (rng.normal(0, 0.5, (len(rows), 4)).astype("f4") for _ in range(2))
    t["h0_kl"], t["c0_kl"] = h0, c0
    full(t["x_pre"], initial_state=[h0, c0])   # builds it
    full.set_weights([t[f"kl/lstm_cell/{w}"] for w in ("kernel", "recurrent_kernel", "bias")])
    for pad, i in ids.items():
        y, h, c = full(t[f"x_{pad}"], initial_state=[h0, c0], mask=i != 0)
        t[f"y_kl_{pad}_h0"], t[f"h_kl_{pad}_h0"], t[f"c_kl_{pad}_h0"] = (
            np.asarray(y), np.asarray(h), np.asarray(c))
    # Masking(0.0) on float steps -> LSTM ("kl"'s weights), zeros padded 'post'
    xm = rng.normal(0, 1, (3, length, 3)).astype("f4")
    xm[0, 3:] = 0.0
    xm[2, :] = 0.0
    xin = keras.Input((length, 3))
    masked = layers.LSTM(4, return_sequences=True)
    model = keras.Model(xin, masked(layers.Masking(0.0)(xin)))
    masked.set_weights([t[f"kl/lstm_cell/{w}"] for w in ("kernel", "recurrent_kernel", "bias")])
    t["x_km"], t["y_km"] = xm, np.asarray(model(xm))
    save(f"{out}/rnn_mask_keras.safetensors", t)
    print(f"Keras {keras.__version__}: {len(t)} tensors", sorted(k for k in t if "/" in k))


if __name__ == "__main__":
    which, out = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "."
    {"torch": torch_refs, "keras": keras_refs}[which](out)
