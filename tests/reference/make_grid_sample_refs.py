#!/usr/bin/env python3
"""References for tests/test_nn_grid_sample.c: PyTorch 1.13's F.affine_grid
and F.grid_sample (2-D), and the model of PyTorch's "Spatial Transformer
Networks" tutorial, its Net class copied as the tutorial writes it.

grid_sample_refs.safetensors (NHWC where PyTorch is NCHW):
  theta [2,2,3]; affine_grid_{f,t} [2,5,7,2]: affine_grid(theta,
  (2, 1, 5, 7), align_corners False / True); affine_grid_1x1 [2,1,1,2];
  x [2,5,6,3]; grid [2,4,3,2] uniform in [-1.3, 1.3] (some points
  outside), with exact pixel centres and edge points mixed in;
  gs_<mode>_<padding>_<f|t> [2,4,3,3] for mode bilinear / nearest /
  bicubic, padding zeros / border / reflection, align_corners False / True
  (float32, as PyTorch's CPU kernel computes it).
stn.safetensors: Net().state_dict() with seeded random weights; fc_loc.2,
  zero in the tutorial (so that the transform starts as the identity), is
  drawn small (N(0, 0.05)) so that theta depends on the image, and fc1 and
  fc2 four times PyTorch's initial size so that the log-probabilities
  differ between images (and from those of the model without its
  transformer) by far more than the tolerance.
stn_io.safetensors: "x" [3,28,28,1] and the log-probabilities "y" [3,10].

Run with Debian's PyTorch 1.13 (a rerun is byte-identical):

    /usr/bin/python3 tests/reference/make_grid_sample_refs.py tests/reference
"""
import pathlib
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)
        self.localization = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=7),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True),
            nn.Conv2d(8, 10, kernel_size=5),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True)
        )
        self.fc_loc = nn.Sequential(
            nn.Linear(10 * 3 * 3, 32),
            nn.ReLU(True),
            nn.Linear(32, 3 * 2)
        )
        self.fc_loc[2].weight.data.zero_()
        self.fc_loc[2].bias.data.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))

    def stn(self, x):
        xs = self.localization(x)
        xs = xs.view(-1, 10 * 3 * 3)
        theta = self.fc_loc(xs)
        theta = theta.view(-1, 2, 3)
        grid = F.affine_grid(theta, x.size(), align_corners=False)
        x = F.grid_sample(x, grid, align_corners=False)
        return x

    def forward(self, x):
        x = self.stn(x)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def ops_refs():
    t = {}
    theta = torch.tensor([[[0.9, -0.3, 0.1], [0.25, 1.1, -0.2]],
                          [[-0.7, 0.5, 0.3], [0.4, 0.6, 0.05]]])
    t["theta"] = theta
    for ac, k in ((False, "f"), (True, "t")):
        t[f"affine_grid_{k}"] = F.affine_grid(theta, (2, 1, 5, 7), align_corners=ac)
    t["affine_grid_1x1"] = F.affine_grid(theta, (2, 1, 1, 1), align_corners=False)
    x = torch.randn(2, 3, 5, 6)
    grid = torch.rand(2, 4, 3, 2) * 2.6 - 1.3
    grid[0, 0, 0] = torch.tensor([-1.0, -1.0])          # corners and edges exactly
    grid[0, 0, 1] = torch.tensor([1.0, 1.0])
    grid[1, 3, 2] = torch.tensor([1.0 / 6.0, -0.2])     # a pixel centre (align False)
    grid[1, 2, 0] = torch.tensor([0.0, 0.5])            # half way between nearest pixels
    t["x"] = x.permute(0, 2, 3, 1)
    t["grid"] = grid
    for mode in ("bilinear", "nearest", "bicubic"):
        for pad in ("zeros", "border", "reflection"):
            for ac, k in ((False, "f"), (True, "t")):
                y = F.grid_sample(x, grid, mode=mode, padding_mode=pad, align_corners=ac)
                t[f"gs_{mode}_{pad}_{k}"] = y.permute(0, 2, 3, 1)
    return t


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    save(f"{out}/grid_sample_refs.safetensors", ops_refs())
    model = Net()
    with torch.no_grad():
        model.fc_loc[2].weight.normal_(0, 0.05)
        model.fc1.weight.mul_(4)           # logits that tell the images apart
        model.fc2.weight.mul_(4)
    model.eval()
    x = torch.rand(3, 1, 28, 28)
    x[:, :, 8:20, 10:18] += 1.5            # a bright block, off centre
    with torch.no_grad():
        y = model(x)
        theta = model.fc_loc(model.localization(x).view(-1, 90)).view(-1, 2, 3)
        model_id = Net().eval()
        model_id.load_state_dict(model.state_dict())
        model_id.stn = lambda v: v
        print("theta", theta, "without the transformer, off by",
              (model_id(x) - y).abs().max().item())
    print("log-probabilities", y)
    save(f"{out}/stn.safetensors", model.state_dict())
    save(f"{out}/stn_io.safetensors", {"x": x.permute(0, 2, 3, 1), "y": y})


if __name__ == "__main__":
    main()
