#!/usr/bin/env python3
"""Write the seed corpus of the safetensors fuzz target.

    make_corpus.py OUTDIR

Deterministic, standard library only. Valid files cover every dtype, 0-d
and zero-size tensors, metadata, escaped and NUL-containing names, dtypes
minitensor cannot store, sub-byte dtypes and ranks above 8; a few invalid
files sit one mutation away from each rule.
"""
import json
import os
import struct
import sys

DTYPES = {"BOOL": 8, "U8": 8, "I8": 8, "I16": 16, "U16": 16, "F16": 16,
          "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "F64": 64, "I64": 64,
          "U64": 64, "C64": 64, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
          "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "F4": 4, "F6_E2M3": 6,
          "F6_E3M2": 6}


def pack(header, data=b"", pad=True):
    h = header if isinstance(header, bytes) else header.encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def layout(tensors, metadata=None):
    """tensors: [(name, dtype, shape)] -> (header text, data bytes)."""
    header, data, off = {}, b"", 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for i, (name, dtype, shape) in enumerate(tensors):
        n = 1
        for d in shape:
            n *= d
        nbytes = n * DTYPES[dtype] // 8
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [off, off + nbytes]}
        data += bytes((i * 31 + k * 7) & 0xFF for k in range(nbytes))
        off += nbytes
    return json.dumps(header, separators=(",", ":")), data


def seeds():
    out = {}
    for dt in DTYPES:
        shape = [2, 4]  # 8 elements: whole bytes even for F4 and F6
        out["dtype_" + dt] = pack(*layout([("t", dt, shape)]))
    out["all_dtypes"] = pack(*layout(
        [("t_" + dt, dt, [3, 4]) for dt in DTYPES],
        {"format": "pt", "note": "all dtypes"}))
    out["scalar_and_empty"] = pack(*layout(
        [("s", "F32", []), ("e", "F16", [0, 3]), ("e2", "I64", [4, 0, 2])]))
    out["empty_file_header"] = pack("{}")
    out["metadata_only"] = pack(*layout([], {"a": "1", "b": "", "c\u0000": "\n"}))
    out["escaped_names"] = pack(*layout(
        [("a\u0000b", "U8", [1]), ("\u00e9\U0001F600", "U8", [2]),
         ("q\"\\/\n\t", "U8", [3]), ("", "U8", [1])]))
    out["escaped_ascii"] = pack(json.dumps(
        {"\u00e9t\u00e9": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}},
        ensure_ascii=True), b"\x01")
    out["rank9"] = pack(*layout([("r", "U8", [1] * 8 + [2])]))
    out["huge_zero_dim"] = pack(json.dumps(
        {"h": {"dtype": "F32", "shape": [18446744073709551615, 0],
               "data_offsets": [0, 0]}}))
    out["many"] = pack(*layout([("layer.%d.w" % i, "F32", [2]) for i in range(64)]))
    out["unaligned"] = pack(*layout([("a", "U8", [3]), ("b", "F32", [2]),
                                     ("c", "F64", [1])]), pad=False)
    out["whitespace"] = pack('{ "a" : { "dtype" : "U8" , "shape" : [ 1 ] ,'
                             ' "data_offsets" : [ 0 , 1 ] } }\n\t\r ', b"\x05")
    # invalid, one step from valid
    ok = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    bad = {
        "bad_trailing_comma": ok[:-1] + ",}",
        "bad_dup": '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                   '"\\u0061":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
        "bad_negative": ok.replace("[2]", "[-2]"),
        "bad_float": ok.replace("[2]", "[2.0]"),
        "bad_big": ok.replace("[2]", "[18446744073709551616]"),
        "bad_overflow": ok.replace("[2]", "[4294967296,4294967296,4]"),
        "bad_hole": ok.replace("[0,8]", "[4,12]"),
        "bad_size": ok.replace("[0,8]", "[0,7]"),
        "bad_dtype": ok.replace("F32", "f32"),
        "bad_unknown_key": ok.replace('"shape"', '"offsets":1,"shape"'),
        "bad_meta": '{"__metadata__":{"k":1}}',
        "bad_surrogate": '{"\\ud800":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
        "bad_deep": '{"a":' + "[" * 300,
    }
    for name, h in bad.items():
        out[name] = pack(h, bytes(8))
    out["bad_length"] = struct.pack("<Q", 2 ** 64 - 1) + b"{}"
    out["bad_utf8"] = pack(b'{"\xff":{}}')
    out["bad_truncated"] = pack(ok, bytes(4))
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for name, blob in sorted(seeds().items()):
        with open(os.path.join(outdir, name + ".safetensors"), "wb") as fh:
            fh.write(blob)
    print(f"make_corpus.py: {len(seeds())} seeds in {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
