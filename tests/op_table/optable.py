"""optable.py — cases of the op table and the reference-file writer.

A Case is one call of one op: its inputs (NumPy arrays), its parameters and
the outputs PyTorch or NumPy computed. write_cases() stores a list of cases
as a safetensors file (written here byte by byte: no third-party package).
"""
import json
import struct

import numpy as np

DTYPES = {
    np.dtype(np.float32): "F32",
    np.dtype(np.int64): "I64",
    np.dtype(np.int32): "I32",
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.uint8): "U8",
}


def _param(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return ",".join(str(int(v)) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


class Case:
    def __init__(self, op, inputs, outputs, **params):
        self.op = op
        self.inputs = [np.array(a, order="C") for a in inputs]
        self.outputs = [np.array(a, order="C") for a in outputs]
        for key in params:
            assert key.isidentifier(), key
        self.params = params

    def describe(self):
        items = [f"op={self.op}"] + [f"{k}={_param(v)}" for k, v in self.params.items()]
        text = ";".join(items)
        assert '"' not in text and "\\" not in text, text
        return text


def write_cases(path, cases):
    entries, blobs, offset = {}, [], 0
    metadata = {}
    for i, case in enumerate(cases):
        key = f"{i:04d}"
        metadata[key] = case.describe()
        named = [(f"{key}.in{j}", a) for j, a in enumerate(case.inputs)]
        named += [(f"{key}.out{j}", a) for j, a in enumerate(case.outputs)]
        for name, array in named:
            if array.dtype not in DTYPES:
                raise TypeError(f"{name}: dtype {array.dtype} not stored")
            data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
            entries[name] = {"dtype": DTYPES[array.dtype],
                             "shape": list(array.shape),
                             "data_offsets": [offset, offset + len(data)]}
            blobs.append(data)
            offset += len(data)
    header = json.dumps({"__metadata__": metadata, **entries},
                        separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)))
        f.write(header)
        for blob in blobs:
            f.write(blob)
