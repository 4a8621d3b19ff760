#!/usr/bin/env python3
"""Writes the references of tests/test_nn_rnn.c: recurrent layers with
their weights under the names each framework writes, inputs "x_<case>"
and the framework's own outputs "y_<case>_<what>".

  torch   (Debian's /usr/bin/python3, PyTorch 1.13) -> rnn_torch.safetensors
          state_dict names "<case>.weight_ih_l0", …: nn.LSTM / nn.GRU /
          nn.RNN (tanh, relu), 1, 2 and 3 layers, bidirectional, bias=False,
          batch_first=False, batch 3 (1: the test runs row 0 alone), F16
          weights, initial states ("h0_<case>", "c0_<case>"; c_n[-1] as
          "y_<case>_cell", h_n and c_n batch first as "_hn", "_cn"), nn.LSTMCell / nn.GRUCell looped over the steps,
          proj_size (for the error test), and a character model Embedding
          -> 2-layer LSTM -> Linear ("char.*", "x_char", "y_char_logits").
          Outputs: "seq" (out), "final"
          (torch.cat of h_n's last layer's directions), "last" (out[:, -1]).
  keras   (the Keras venv, Keras 3) -> rnn_keras.safetensors
          variable paths "<case>/lstm_cell/kernel", "<case>/forward_<n>/
          gru_cell/bias", …: LSTM, GRU (reset_after True and False, no
          bias), SimpleRNN (tanh, relu), Bidirectional (also with its own
          backward_layer), a stack
          LSTM -> GRU, and a classifier Embedding -> Bidirectional(GRU) ->
          SimpleRNN -> Dense ("clf/…", "x_clf", "y_clf_logits"), a
          seq2seq LSTM encoder whose h and c start an LSTM decoder
          ("enc/…", "dec/…", "head/…"; "y_s2s_logits"). Outputs
          "seq" (return_sequences=True) and "final" (return_sequences=
          False), from Keras itself.

  /usr/bin/python3 tests/reference/make_rnn_refs.py torch tests/reference
  /work/main/build-venv-keras/bin/python tests/reference/make_rnn_refs.py keras tests/reference
"""
import json
import os
import struct
import sys

import numpy as np

F, H, L = 3, 4, 5


def save(path, tensors):
    """numpy arrays by name: float16 ones as F16, the rest as F32."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = np.asarray(t)
        kind, np_type = {np.dtype(np.float16): ("F16", "<f2"),
                         np.dtype(np.int64): ("I64", "<i8")}.get(t.dtype, ("F32", "<f4"))
        data = np.ascontiguousarray(t.astype(np_type)).tobytes()
        header[name] = {"dtype": kind, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def torch_refs(out):
    import torch
    torch.manual_seed(0)
    nn = torch.nn
    t = {}
    rng = np.random.default_rng(1)

    def case(name, module, n=3, batch_first=True, half=False):
        module.eval()
        with torch.no_grad():
            for p in module.parameters():   # wider than the default init
                p.copy_(torch.from_numpy(rng.normal(0, 0.6, p.shape).astype("f4")))
            if half:
                for p in module.parameters():
                    p.copy_(p.half().float())
            x = torch.from_numpy(rng.normal(0, 1, (n, L, F) if batch_first
                                            else (L, n, F)).astype("f4"))
            y, h = module(x)
            h_n = h[0] if isinstance(h, tuple) else h
            dirs = 2 if module.bidirectional else 1
            for k, v in module.state_dict().items():
                t[f"{name}.{k}"] = v.numpy().astype(np.float16 if half else np.float32)
            t[f"x_{name}"] = x.numpy()
            t[f"y_{name}_seq"] = y.numpy()
            t[f"y_{name}_final"] = torch.cat(list(h_n[-dirs:]), 1).numpy()
            if batch_first:
                t[f"y_{name}_last"] = y[:, -1].numpy()

    case("lstm1", nn.LSTM(F, H, batch_first=True))
    case("lstm2bi", nn.LSTM(F, H, num_layers=2, bidirectional=True, batch_first=True))
    case("lstm_nobias", nn.LSTM(F, H, bias=False, batch_first=True))
    case("lstm_f16", nn.LSTM(F, H, batch_first=True), half=True)
    case("gru1", nn.GRU(F, H, batch_first=True))
    case("gru2", nn.GRU(F, H, num_layers=2, batch_first=True))
    case("lstm3", nn.LSTM(F, H, num_layers=3, batch_first=True), n=2)
    case("grubi", nn.GRU(F, H, bidirectional=True, batch_first=True))
    case("gru_tm", nn.GRU(F, H, num_layers=2, bidirectional=True))   # batch_first=False
    case("rnn_tanh", nn.RNN(F, H, batch_first=True))
    case("rnn_relu2bi", nn.RNN(F, H, num_layers=2, nonlinearity="relu", bidirectional=True,
                               batch_first=True), n=1)
    # initial states h0 (and c0) [layers·D, N, H]; c_n as "cell"
    for name, module in (("lstm_h0", nn.LSTM(F, H, num_layers=2, bidirectional=True,
                                             batch_first=True)),
                         ("gru_h0", nn.GRU(F, H, batch_first=True))):
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(torch.from_numpy(rng.normal(0, 0.6, p.shape).astype("f4")))
            ld = module.num_layers * (2 if module.bidirectional else 1)
            x = torch.from_numpy(rng.normal(0, 1, (3, L, F)).astype("f4"))
            h0 = torch.from_numpy(rng.normal(0, 1, (ld, 3, H)).astype("f4"))
            c0 = torch.from_numpy(rng.normal(0, 1, (ld, 3, H)).astype("f4"))
            lstm = isinstance(module, nn.LSTM)
            y, h = module(x, (h0, c0) if lstm else h0)
            h_n = h[0] if lstm else h
            dirs = 2 if module.bidirectional else 1
            for k, v in module.state_dict().items():
                t[f"{name}.{k}"] = v.numpy()
            t[f"x_{name}"] = x.numpy()
            t[f"h0_{name}"] = h0.numpy()
            t[f"y_{name}_hn"] = h_n.permute(1, 0, 2).contiguous().numpy()
            if lstm:
                t[f"c0_{name}"] = c0.numpy()
                t[f"y_{name}_cell"] = torch.cat(list(h[1][-dirs:]), 1).numpy()
                t[f"y_{name}_cn"] = h[1].permute(1, 0, 2).contiguous().numpy()
            t[f"y_{name}_seq"] = y.numpy()
            t[f"y_{name}_final"] = torch.cat(list(h_n[-dirs:]), 1).numpy()
            t[f"y_{name}_last"] = y[:, -1].numpy()

    # nn.LSTMCell / nn.GRUCell looped over the steps from zeros
    for name, cell in (("lstmcell", nn.LSTMCell(F, H)), ("grucell", nn.GRUCell(F, H))):
        with torch.no_grad():
            for p in cell.parameters():
                p.copy_(torch.from_numpy(rng.normal(0, 0.6, p.shape).astype("f4")))
            x = torch.from_numpy(rng.normal(0, 1, (3, L, F)).astype("f4"))
            h = c = torch.zeros(3, H)
            ys = []
            for i in range(L):
                if name == "lstmcell":
                    h, c = cell(x[:, i], (h, c))
                else:
                    h = cell(x[:, i], h)
                ys.append(h)
            for k, v in cell.state_dict().items():
                t[f"{name}.{k}"] = v.numpy()
            t[f"x_{name}"] = x.numpy()
            t[f"y_{name}_seq"] = torch.stack(ys, 1).numpy()
            t[f"y_{name}_final"] = h.numpy()

    # a character model: Embedding(7, 5) -> LSTM(5, 6, 2 layers) -> Linear(6, 7)
    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(7, 5)
            self.rnn = nn.LSTM(5, 6, num_layers=2, batch_first=True)
            self.head = nn.Linear(6, 7)

        def forward(self, ids):
            return self.head(self.rnn(self.emb(ids))[0])

    model = CharLSTM().eval()
    ids = torch.from_numpy(rng.integers(0, 7, (2, 6)))
    with torch.no_grad():
        t.update({f"char.{k}": v.numpy() for k, v in model.state_dict().items()})
        t["x_char"] = ids.numpy().astype(np.int64)
        t["y_char_logits"] = model(ids).numpy()

    proj = nn.LSTM(F, H, proj_size=2, batch_first=True)
    for k, v in proj.state_dict().items():
        t[f"proj.{k}"] = v.detach().numpy()
    save(f"{out}/rnn_torch.safetensors", t)
    print(f"torch {torch.__version__}: {len(t)} tensors")


def keras_refs(out):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    keras.utils.set_random_seed(0)
    layers = keras.layers
    rng = np.random.default_rng(2)
    t = {}

    def randomize(layer):
        layer.set_weights([rng.normal(0, 0.6, w.shape).astype("f4")
                           for w in layer.get_weights()])

    def case(name, make, n=3):
        """make(return_sequences, name) builds the layer; both outputs from
        the same weights."""
        x = rng.normal(0, 1, (n, L, F)).astype("f4")
        seq = make(True, name)
        model = keras.Sequential([keras.Input((L, F)), seq])
        randomize(seq)
        final = make(False, name + "_final")
        keras.Sequential([keras.Input((L, F)), final])
        final.set_weights(seq.get_weights())
        t.update({v.path.split("/", 1)[1]: np.asarray(v) for v in model.weights})
        t[f"x_{name}"] = x
        t[f"y_{name}_seq"] = np.asarray(seq(x))
        t[f"y_{name}_final"] = np.asarray(final(x))

    case("k_lstm", lambda r, nm: layers.LSTM(H, return_sequences=r, name=nm))
    case("k_gru", lambda r, nm: layers.GRU(H, return_sequences=r, name=nm))
    case("k_gru_ra0", lambda r, nm: layers.GRU(H, reset_after=False, return_sequences=r,
                                               name=nm), n=1)
    case("k_gru_nb", lambda r, nm: layers.GRU(H, reset_after=False, use_bias=False,
                                              return_sequences=r, name=nm))
    case("k_rnn", lambda r, nm: layers.SimpleRNN(H, return_sequences=r, name=nm))
    case("k_rnn_relu", lambda r, nm: layers.SimpleRNN(H, activation="relu",
                                                      return_sequences=r, name=nm))
    case("k_bilstm", lambda r, nm: layers.Bidirectional(
        layers.LSTM(H, return_sequences=r, name="enc"), name=nm))
    case("k_bigru", lambda r, nm: layers.Bidirectional(
        layers.GRU(H, return_sequences=r, name="dec"), name=nm))
    case("k_bi_own", lambda r, nm: layers.Bidirectional(   # backward_layer= keeps its name
        layers.LSTM(H, return_sequences=r, name="f1"),
        backward_layer=layers.LSTM(H, go_backwards=True, return_sequences=r, name="b1"),
        name=nm))
    # a stack: Sequential([LSTM(4, return_sequences=True), GRU(3)])
    x = rng.normal(0, 1, (3, L, F)).astype("f4")
    stack = keras.Sequential([keras.Input((L, F)),
                              layers.LSTM(H, return_sequences=True, name="s_lstm"),
                              layers.GRU(3, name="s_gru")], name="stack")
    # a classifier: Embedding(7, 5) -> Bidirectional(GRU(4, return_sequences=True))
    # -> SimpleRNN(3) -> Dense(2)
    ids = rng.integers(0, 7, (2, 6)).astype("i8")
    clf = keras.Sequential([keras.Input((6,), dtype="int64"),
                            layers.Embedding(7, 5, name="emb"),
                            layers.Bidirectional(layers.GRU(H, return_sequences=True),
                                                 name="bi"),
                            layers.SimpleRNN(3, name="rnn"),
                            layers.Dense(2, name="out")], name="clf")
    for layer in clf.layers:
        randomize(layer)
    t.update({v.path: np.asarray(v) for v in clf.weights})
    t["x_clf"] = ids
    t["y_clf_logits"] = np.asarray(clf(ids))
    # seq2seq: the encoder's final h and c start the decoder
    enc_in, dec_in = keras.Input((L, F)), keras.Input((4, F))
    _, h, c = layers.LSTM(H, return_state=True, name="enc")(enc_in)
    dec = layers.LSTM(H, return_sequences=True, name="dec")(dec_in, initial_state=[h, c])
    s2s = keras.Model([enc_in, dec_in], layers.Dense(2, name="head")(dec))
    for layer in s2s.layers:
        randomize(layer)
    t.update({v.path: np.asarray(v) for v in s2s.weights})
    xe = rng.normal(0, 1, (3, L, F)).astype("f4")
    xd = rng.normal(0, 1, (3, 4, F)).astype("f4")
    t["x_s2s_enc"], t["x_s2s_dec"] = xe, xd
    t["y_s2s_logits"] = np.asarray(s2s([xe, xd]))
    for layer in stack.layers:
        randomize(layer)
    t.update({v.path: np.asarray(v) for v in stack.weights})
    t["x_stack"] = x
    t["y_stack_final"] = np.asarray(stack(x))
    save(f"{out}/rnn_keras.safetensors", t)
    print(f"Keras {keras.__version__}: {len(t)} tensors")


if __name__ == "__main__":
    which, out = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "."
    {"torch": torch_refs, "keras": keras_refs}[which](out)
