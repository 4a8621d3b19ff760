#!/usr/bin/python3
"""interop_torch.py — a `fashion train --model mlp` checkpoint loads in PyTorch.

Trains one short epoch with `fashion train`, loads the checkpoint (FILE.ckpt,
safetensors read by hand: Debian's python3-torch 1.13 has no safetensors
module) into an nn.Sequential twin and a torch.optim.Adam (weights transposed
from the Keras (in,out) layout; exp_avg/exp_avg_sq and the step count), and
checks that PyTorch's logits on 1,000 test images match minitensor's (`mnist
--weights FILE eval --logits`) within 1e-4, and that the checkpoint's weights
equal the --out file's.

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


def main(fashion, mnist, data):
    tmp = tempfile.mkdtemp()
    out = os.path.join(tmp, "mlp.safetensors")
    subprocess.run([fashion, "train", "--model", "mlp", "--epochs", "1", "--limit", "1000",
                    "--data", data, "--out", out], check=True, capture_output=True)
    ck, meta = read_safetensors(out + ".ckpt")
    weights, _ = read_safetensors(out)
    for name, w in weights.items():
        assert np.array_equal(w, ck[name]), f"{name}: checkpoint and --out differ"

    net = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))
    params = {"d1_w": net[0].weight, "d1_b": net[0].bias, "d2_w": net[3].weight,
              "d2_b": net[3].bias}
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

    with gzip.open(f"{data}/t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)[:1000]
    with gzip.open(f"{data}/t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:1000]
    idx_images, idx_labels = os.path.join(tmp, "images.idx"), os.path.join(tmp, "labels.idx")
    with open(idx_images, "wb") as f:
        f.write(struct.pack(">IIII", 0x803, 1000, 28, 28) + images.tobytes())
    with open(idx_labels, "wb") as f:
        f.write(struct.pack(">II", 0x801, 1000) + labels.tobytes())
    logits_path = os.path.join(tmp, "logits.f32")
    subprocess.run([mnist, "--weights", out, "eval", idx_images, idx_labels, "--logits",
                    logits_path], check=True, capture_output=True)
    ours = np.fromfile(logits_path, "<f4").reshape(1000, 10)
    net.eval()
    with torch.no_grad():
        theirs = net(torch.from_numpy(images.astype(np.float32) / 255.0)).numpy()
    err = float(np.max(np.abs(ours - theirs)))
    print(f"max |logit difference| over 1000 images: {err:.3g} (tolerance 1e-4)")
    return 0 if err <= 1e-4 else 1


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
