#!/usr/bin/env python3
"""Writes the references of tests/test_nn_rnn_options.c: the recurrent
layers' options beyond the defaults.

  keras  (the Keras venv, Keras 3) -> rnn_options_keras.safetensors
         Bidirectional(merge_mode=...): "bs" LSTM 'sum', "bm" GRU 'mul',
         "ba" SimpleRNN 'ave', outputs "y_<c>_seq" (return_sequences=True)
         and "y_<c>_final" (False) on "x"; "bg" Bidirectional(GRU,
         merge_mode='ave') after Embedding(mask_zero=True) on "ids_pre" /
         "ids_post" (embedded: "e_pre", "e_post"): "y_bg_<pad>_seq",
         "y_bg_<pad>_final".
         go_backwards=True: "gl" LSTM, "gg" GRU, "gr" SimpleRNN on "x":
         "y_<c>_seq", "y_<c>_final", and "c_gl" (return_state's c);
         "gl" after the Embedding's mask: "y_gl_<pad>_seq", "_final".
         stateful=True: an LSTM of "gl"'s weights called on "x", then on
         "x2": "y_sf_2" (the second call's sequence).
         Activations: "al" LSTM(activation='relu', recurrent_activation=
         'hard_sigmoid'), "ah" LSTM(recurrent_activation='hard_sigmoid'),
         "ag" GRU(activation='sigmoid', recurrent_activation=
         'hard_sigmoid'), "ab" GRU(reset_after=False, recurrent_activation=
         'tanh'), "ar" SimpleRNN(activation='linear'): "y_<c>_seq",
         "y_<c>_final" on "x".
  torch  (/usr/bin/python3, PyTorch 1.13) -> rnn_options_torch.safetensors
         nn.LSTM(proj_size=2): "p1" LSTM(3, 4, proj_size=2) bias=False;
         "p2" LSTM(3, 5, proj_size=3, num_layers=2, bidirectional=True)
         from "h0_p2" [N, 4, 3] and "c0_p2" [N, 4, 5] (batch first):
         "y_<c>" (out), "hn_<c>", "cn_<c>" (h_n, c_n batch first) on
         "x_<c>"; "p2" packed (pack_padded_sequence, "mask_pk"): "y_pk",
         "hn_pk", "cn_pk".

  /work/main/build-venv-keras/bin/python tests/reference/make_rnn_options_refs.py keras tests/reference
  /usr/bin/python3 tests/reference/make_rnn_options_refs.py torch tests/reference
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_rnn_refs import save  # noqa: E402  (numpy arrays by name)

F, H, L, N = 3, 4, 5, 3


def keras_refs(out):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    keras.utils.set_random_seed(5)
    layers = keras.layers
    rng = np.random.default_rng(21)
    t = {}
    x = rng.normal(0, 1, (N, L, F)).astype("f4")
    t["x"] = x
    rows = [[3, 1, 2, 5, 4], [4, 2], [], [6, 1, 3]]
    ids = {"pre": keras.utils.pad_sequences(rows, maxlen=L, padding="pre"),
           "post": keras.utils.pad_sequences(rows, maxlen=L, padding="post")}
    inp = keras.Input((L,), dtype="int64")
    emb = layers.Embedding(7, F, mask_zero=True, name="emb")
    e = emb(inp)
    embed = keras.Model(inp, e)
    for pad, i in ids.items():
        t[f"ids_{pad}"] = i.astype("int64")
        t[f"e_{pad}"] = np.asarray(embed(i))

    def case(name, make, masked=False):
        """make(return_sequences) builds the layer; both from the same weights."""
        seq, final = make(True), make(False)
        if masked:
            ms, mf = keras.Model(inp, seq(e)), keras.Model(inp, final(e))
        else:
            ms = keras.Sequential([keras.Input((L, F)), seq])
            mf = keras.Sequential([keras.Input((L, F)), final])
        seq.set_weights([rng.normal(0, 0.7, w.shape).astype("f4") for w in seq.get_weights()])
        final.set_weights(seq.get_weights())
        for v in seq.weights:   # a Sequential's name comes first: drop it
            path = v.path.split("/", 1)[1] if v.path.startswith("sequential") else v.path
            t[path.replace(seq.name, name, 1)] = np.asarray(v)
        if masked:
            for pad, i in ids.items():
                t[f"y_{name}_{pad}_seq"] = np.asarray(ms(i))
                t[f"y_{name}_{pad}_final"] = np.asarray(mf(i))
        else:
            t[f"y_{name}_seq"] = np.asarray(ms(x))
            t[f"y_{name}_final"] = np.asarray(mf(x))
        return seq

    bi = layers.Bidirectional
    case("bs", lambda r: bi(layers.LSTM(H, return_sequences=r, name="l"), merge_mode="sum"))
    case("bm", lambda r: bi(layers.GRU(H, return_sequences=r, name="g"), merge_mode="mul"))
    case("ba", lambda r: bi(layers.SimpleRNN(H, return_sequences=r, name="s"),
                            merge_mode="ave"))
    case("bg", lambda r: bi(layers.GRU(H, return_sequences=r, name="g"), merge_mode="ave"),
         masked=True)
    gl = case("gl", lambda r: layers.LSTM(H, go_backwards=True, return_sequences=r))
    case("gg", lambda r: layers.GRU(H, go_backwards=True, return_sequences=r))
    case("gr", lambda r: layers.SimpleRNN(H, go_backwards=True, return_sequences=r))
    state = layers.LSTM(H, go_backwards=True, return_state=True)
    state(x)
    state.set_weights(gl.get_weights())
    t["c_gl"] = np.asarray(state(x)[2])
    masked = layers.LSTM(H, go_backwards=True, return_sequences=True)
    masked_final = layers.LSTM(H, go_backwards=True)
    ms, mf = keras.Model(inp, masked(e)), keras.Model(inp, masked_final(e))
    masked.set_weights(gl.get_weights())
    masked_final.set_weights(gl.get_weights())
    for pad, i in ids.items():
        t[f"y_gl_{pad}_seq"] = np.asarray(ms(i))
        t[f"y_gl_{pad}_final"] = np.asarray(mf(i))
    # stateful=True: the second call starts from the first one's final states
    sf = layers.LSTM(H, stateful=True, return_sequences=True)
    sfm = keras.Sequential([keras.Input(batch_shape=(N, L, F)), sf])
    sf.set_weights(gl.get_weights())
    x2 = rng.normal(0, 1, (N, L, F)).astype("f4")
    sfm(x)
    t["x2"], t["y_sf_2"] = x2, np.asarray(sfm(x2))
    case("al", lambda r: layers.LSTM(H, activation="relu", recurrent_activation="hard_sigmoid",
                                     return_sequences=r))
    case("ah", lambda r: layers.LSTM(H, recurrent_activation="hard_sigmoid",
                                     return_sequences=r))
    case("ag", lambda r: layers.GRU(H, activation="sigmoid",
                                    recurrent_activation="hard_sigmoid", return_sequences=r))
    case("ab", lambda r: layers.GRU(H, reset_after=False, recurrent_activation="tanh",
                                    return_sequences=r))
    case("ar", lambda r: layers.SimpleRNN(H, activation="linear", return_sequences=r))
    save(f"{out}/rnn_options_keras.safetensors", t)
    print(f"Keras {keras.__version__}: {len(t)} tensors")


def torch_refs(out):
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    torch.manual_seed(13)
    t = {}

    def put(prefix, module):
        t.update({f"{prefix}.{k}": v.detach().numpy() for k, v in module.state_dict().items()})

    with torch.no_grad():
        p1 = torch.nn.LSTM(F, H, proj_size=2, bias=False, batch_first=True)
        x = torch.randn(N, L, F)
        y, (hn, cn) = p1(x)
        put("p1", p1)
        t.update(x_p1=x.numpy(), y_p1=y.numpy(), hn_p1=hn.permute(1, 0, 2).numpy(),
                 cn_p1=cn.permute(1, 0, 2).numpy())
        p2 = torch.nn.LSTM(F, 5, proj_size=3, num_layers=2, bidirectional=True,
                           batch_first=True)
        x = torch.randn(N, L, F)
        h0, c0 = torch.randn(4, N, 3), torch.randn(4, N, 5)
        y, (hn, cn) = p2(x, (h0, c0))
        put("p2", p2)
        t.update(x_p2=x.numpy(), h0_p2=h0.permute(1, 0, 2).numpy(),
                 c0_p2=c0.permute(1, 0, 2).numpy(), y_p2=y.numpy(),
                 hn_p2=hn.permute(1, 0, 2).numpy(), cn_p2=cn.permute(1, 0, 2).numpy())
        lengths = torch.tensor([5, 2, 4])
        xp = torch.randn(N, L, F)
        packed = pack_padded_sequence(xp, lengths, batch_first=True, enforce_sorted=False)
        y, (hn, cn) = p2(packed)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=L)
        t.update(x_pk=xp.numpy(),
                 mask_pk=(torch.arange(L)[None, :] < lengths[:, None]).long().numpy(),
                 y_pk=y.numpy(), hn_pk=hn.permute(1, 0, 2).numpy(),
                 cn_pk=cn.permute(1, 0, 2).numpy())
    save(f"{out}/rnn_options_torch.safetensors", t)
    print(f"PyTorch {torch.__version__}: {len(t)} tensors")


if __name__ == "__main__":
    which, out = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "."
    {"torch": torch_refs, "keras": keras_refs}[which](out)
