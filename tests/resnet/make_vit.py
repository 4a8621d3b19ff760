#!/usr/bin/env python3
"""Writes a tiny torchvision 0.14 VisionTransformer for tests/test_nn_vit.c,
built from torchvision's own class so that its state_dict names and forward
pass are torchvision's (vit_b_16's code at a fraction of its size):

  torchvision.models.VisionTransformer(image_size=32, patch_size=8,
      num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64, num_classes=10)

  Conv2d(3, 32, 8, stride=8) patch embedding -> [N, 16, 32] tokens, the
  class token (a [1, 1, 32] parameter) concatenated in front -> [N, 17, 32],
  + pos_embedding [1, 17, 32], two pre-norm encoder blocks (LayerNorm
  eps 1e-6, nn.MultiheadAttention(batch_first=True), GELU MLP 32->64->32),
  a final LayerNorm, heads.head on x[:, 0].

vit.safetensors holds model.state_dict() (seeded random weights; the class
token and position embedding, zeros and N(0, 0.02) in torchvision, drawn
from N(0, 0.5) so that they matter, and the patch embedding as large); vit_io.safetensors 3 images [3,32,32,3]
(NHWC, "x") and the logits ("logits", [3,10]). Run with Debian's PyTorch
1.13 and torchvision 0.14:

    /usr/bin/python3 tests/resnet/make_vit.py tests/resnet
"""
import pathlib
import sys

import torch
from torchvision.models import VisionTransformer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from st_write import save  # noqa: E402


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    torch.manual_seed(0)
    model = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                              hidden_dim=32, mlp_dim=64, num_classes=10)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in ("class_token", "encoder.pos_embedding"):
                p.normal_(0, 0.5)
            elif name.startswith("heads.head"):   # zeros in torchvision
                p.normal_(0, 0.2)
            elif name == "conv_proj.weight":   # patch tokens as large as the class token
                p.normal_(0, 0.05)
            elif name.endswith("bias") or ".ln" in name:
                p.add_(0.1 * torch.randn_like(p))   # LayerNorms and biases off 1 and 0
    model.eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        logits = model(x)
    print("logits", logits)
    save(f"{out}/vit.safetensors", model.state_dict())
    save(f"{out}/vit_io.safetensors", {"x": x.permute(0, 2, 3, 1), "logits": logits})


if __name__ == "__main__":
    main()
