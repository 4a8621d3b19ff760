#!/usr/bin/python3
"""interop_torch.py — `fashion train` checkpoints load in PyTorch.

For --model mlp and --model cnn: trains one short epoch with `fashion train`,
loads the checkpoint (FILE.ckpt, safetensors read by hand: Debian's
python3-torch 1.13 has no safetensors module) into an nn.Sequential twin
(weights converted from the Keras layouts: (in,out) dense weights
transposed; for the CNN, HWIO kernels to OIHW and d1_w's rows from (h, w, c)
to PyTorch's (c, h, w) flatten order) and, for the MLP, a torch.optim.Adam
(exp_avg/exp_avg_sq and the step count), and checks that PyTorch's logits on
1,000 test images match minitensor's (`mnist|fashion --weights FILE eval
--logits`) within 1e-4, and that the checkpoint's weights equal the --out
file's.

usage: interop_torch.py FASHION MNIST DATA_DIR  (Debian's /usr/bin/python3)
"""
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torch import nn


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", name
        lo, hi = info["data_offsets"]
        tensors[name] = np.frombuffer(blob[8 + n + lo:8 + n + hi], "<f4").reshape(info["shape"])
    return tensors, meta


def train(fashion, data, tmp, model):
    """One short epoch; the checkpoint and the --out weights (equal)."""
    out = os.path.join(tmp, f"{model}.safetensors")
    subprocess.run([fashion, "train", "--model", model, "--epochs", "1", "--limit", "1000",
                    "--data", data, "--out", out], check=True, capture_output=True)
    ck, meta = read_safetensors(out + ".ckpt")
    weights, _ = read_safetensors(out)
    for name, w in weights.items():
        assert np.array_equal(w, ck[name]), f"{name}: checkpoint and --out differ"
    return out, ck, meta


def mlp_twin(ck, meta):
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2),
                        nn.Linear(128, 10))
    params = {"d1_w": net[1].weight, "d1_b": net[1].bias, "d2_w": net[4].weight,
              "d2_b": net[4].bias}
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(torch.from_numpy(ck[name].copy()).T if p.dim() == 2
                    else torch.from_numpy(ck[name].copy()))
    opt = torch.optim.Adam(net.parameters(), lr=float(meta["learning_rate"]))
    for name, p in params.items():
        t = (lambda a: torch.from_numpy(a.copy()).T.contiguous() if a.ndim == 2
             else torch.from_numpy(a.copy()))
        opt.state[p] = {"step": torch.tensor(float(meta["minitensor.steps"])),
                        "exp_avg": t(ck[f"optim.{name}.exp_avg"]),
                        "exp_avg_sq": t(ck[f"optim.{name}.exp_avg_sq"])}
    assert meta["minitensor.optimizer"] == "adam" and int(meta["minitensor.epoch"]) == 1
    return net


def cnn_twin(ck):
    """The Fashion CNN in PyTorch's NCHW form."""
    net = nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 32, 3), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Dropout(0.3),
                        nn.Linear(128, 10))
    t = lambda name: torch.from_numpy(ck[name].copy())
    with torch.no_grad():
        net[1].weight.copy_(t("conv1_w").permute(3, 2, 0, 1))   # HWIO -> OIHW
        net[1].bias.copy_(t("conv1_b"))
        net[4].weight.copy_(t("conv2_w").permute(3, 2, 0, 1))
        net[4].bias.copy_(t("conv2_b"))
        # d1_w [1600,128]: rows in (h, w, c) order -> [128, (c, h, w)]
        net[8].weight.copy_(t("d1_w").T.reshape(128, 5, 5, 64).permute(0, 3, 1, 2)
                            .reshape(128, 1600))
        net[8].bias.copy_(t("d1_b"))
        net[11].weight.copy_(t("d2_w").T)
        net[11].bias.copy_(t("d2_b"))
    return net


def main(fashion, mnist, data):
    tmp = tempfile.mkdtemp()
    with gzip.open(f"{data}/t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)[:1000]
    with gzip.open(f"{data}/t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:1000]
    idx_images, idx_labels = os.path.join(tmp, "images.idx"), os.path.join(tmp, "labels.idx")
    with open(idx_images, "wb") as f:
        f.write(struct.pack(">IIII", 0x803, 1000, 28, 28) + images.tobytes())
    with open(idx_labels, "wb") as f:
        f.write(struct.pack(">II", 0x801, 1000) + labels.tobytes())
    status = 0
    for model, program in (("mlp", mnist), ("cnn", fashion)):
        out, ck, meta = train(fashion, data, tmp, model)
        net = mlp_twin(ck, meta) if model == "mlp" else cnn_twin(ck)
        logits_path = os.path.join(tmp, f"{model}-logits.f32")
        subprocess.run([program, "--weights", out, "eval", idx_images, idx_labels, "--logits",
                        logits_path], check=True, capture_output=True)
        ours = np.fromfile(logits_path, "<f4").reshape(1000, 10)
        net.eval()
        with torch.no_grad():
            theirs = net(torch.from_numpy(images.astype(np.float32) / 255.0)).numpy()
        err = float(np.max(np.abs(ours - theirs)))
        print(f"{model}: max |logit difference| PyTorch {torch.__version__} vs minitensor "
              f"over 1000 images: {err:.3g} (tolerance 1e-4)")
        status |= err > 1e-4
    return status


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
