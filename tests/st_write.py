"""st_write.py — safetensors written by hand for the scripts that make the
tests' PyTorch references (8-byte little-endian header length, compact JSON
header padded with spaces to a multiple of 8, little-endian data), so that
they need nothing beyond Debian's python3-torch.

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
    from st_write import save
"""
import json
import struct

import torch


def save(path, tensors):
    """Writes the torch tensors of the dict `tensors` under their keys:
    int64 ones (num_batches_tracked, indices) as I64, every other one as
    F32."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        kind, np_type = ("I64", "<i8") if t.dtype == torch.int64 else ("F32", "<f4")
        data = t.numpy().astype(np_type).tobytes()
        header[name] = {"dtype": kind, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
