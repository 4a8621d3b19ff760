#!/usr/bin/env python3
"""Interop between minitensor's safetensors reader/writer and the official
Python package (tests/safetensors/requirements.txt pins the versions).

    interop.py TOOL      TOOL = the test_safetensors_interop executable

1. Python -> minitensor: files written by safetensors.numpy.save_file (every
   numpy dtype, 0-d, zero-size, non-contiguous input, unusual names,
   metadata) and by safetensors.serialize (BF16) are dumped by TOOL; names,
   dtypes, shapes, bytes and the F32 conversion must match numpy's.
2. minitensor -> Python: TOOL writes a fixed set of tensors; the file must be
   byte-identical to what safetensors.serialize makes of the same tensors,
   and load with safetensors.numpy.load_file / safe_open.
3. Round trip: TOOL re-saves Python's files; Python loads them back equal.

Under MT_TEST_PYTHON (scripts/test.sh's venv) when set. Exit 0 on success,
1 on a mismatch or when numpy or safetensors cannot be imported (the
README's test command installs them: no skip).
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

# scripts/test.sh exports MT_TEST_PYTHON: a venv with the pinned packages.
# A venv's python is a symlink to the system interpreter, so the paths
# cannot tell them apart: ask the interpreter for its sys.prefix instead.
_VENV = os.environ.get("MT_TEST_PYTHON")
if _VENV and not os.environ.get("MT_INTEROP_REEXEC"):
    if not os.access(_VENV, os.X_OK):
        print(f"FAIL: MT_TEST_PYTHON={_VENV} is not an executable interpreter")
        sys.exit(1)
    _prefix = subprocess.run([_VENV, "-c", "import sys; print(sys.prefix)"],
                             capture_output=True, text=True).stdout.strip()
    if os.path.realpath(_prefix) != os.path.realpath(sys.prefix):
        os.environ["MT_INTEROP_REEXEC"] = "1"
        os.execv(_VENV, [_VENV, os.path.abspath(__file__), *sys.argv[1:]])

# numpy and safetensors are prerequisites scripts/test.sh installs (into
# build-venv/): missing, they are a failure, not a skip.
try:
    import numpy as np
    import safetensors
    from safetensors import deserialize, serialize, safe_open
    from safetensors.numpy import load_file, save_file
except ImportError as exc:  # pragma: no cover - depends on the machine
    print(f"FAIL: {exc} under {sys.executable} (scripts/test.sh installs "
          "tests/requirements.txt into build-venv/ and sets MT_TEST_PYTHON)")
    sys.exit(1)

PINNED = {"numpy": "1.26.4", "safetensors": "0.4.5"}
FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


def run(tool, *args):
    r = subprocess.run([tool, *args], capture_output=True)
    if r.returncode != 0:
        raise SystemExit(f"{tool} {' '.join(args)} failed ({r.returncode}):"
                         f" {r.stderr.decode(errors='replace')}")
    return r.stdout


DTYPE_NAMES = {
    np.dtype(np.bool_): "BOOL", np.dtype(np.uint8): "U8",
    np.dtype(np.int8): "I8", np.dtype(np.int16): "I16",
    np.dtype(np.uint16): "U16", np.dtype(np.float16): "F16",
    np.dtype(np.int32): "I32", np.dtype(np.uint32): "U32",
    np.dtype(np.float32): "F32", np.dtype(np.float64): "F64",
    np.dtype(np.int64): "I64", np.dtype(np.uint64): "U64",
}


def f32_equal(a_bytes, b_bytes):
    """Bitwise equal float32 arrays, any NaN matching any NaN."""
    a = np.frombuffer(a_bytes, dtype="<f4")
    b = np.frombuffer(b_bytes, dtype="<f4")
    if a.shape != b.shape:
        return False
    same = a.view(np.uint32) == b.view(np.uint32)
    return bool(np.all(same | (np.isnan(a) & np.isnan(b))))


def bf16_to_f32_bytes(raw):
    u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
    return u.astype("<u4").tobytes()


def python_tensors():
    """Arrays written by safetensors.numpy.save_file (numpy computes the
    references)."""
    rng = np.random.default_rng(1234)
    t = {}
    for dt in DTYPE_NAMES:
        if dt.kind == "b":
            a = rng.integers(0, 2, size=(3, 5)).astype(dt)
        elif dt.kind in "iu":
            info = np.iinfo(dt)
            a = rng.integers(info.min, info.max, size=(3, 5), dtype=dt,
                             endpoint=True)
            a.flat[0], a.flat[1] = info.min, info.max
        else:
            a = rng.standard_normal((3, 5)).astype(dt) * 100
            a.flat[:4] = [np.nan, np.inf, -np.inf, -0.0]
        t["t_" + DTYPE_NAMES[dt].lower()] = a
    t["scalar_f64"] = np.array(3.141592653589793)
    t["empty_f32"] = np.zeros((0, 4), dtype=np.float32)
    t["empty_i8"] = np.zeros((2, 0, 3), dtype=np.int8)
    t["rank6"] = np.arange(2 * 1 * 3 * 1 * 2 * 2, dtype=np.int16).reshape(
        2, 1, 3, 1, 2, 2)
    t["transposed"] = np.ascontiguousarray(
        np.arange(12, dtype=np.float32).reshape(3, 4).T)
    t['we"ird\\na/me\n\t\x01\x00end \u00e9\U0001F600'] = np.array(
        [1, 2], dtype=np.uint8)
    t[""] = np.array([7], dtype=np.int32)
    return t


def compare_dump(tool, path, expected, meta, label):
    """expected: name -> (dtype name, shape, raw bytes, f32 bytes or None)."""
    d = json.loads(run(tool, "dump", path))
    got = {bytes.fromhex(e["name"]).decode(): e for e in d["tensors"]}
    check(set(got) == set(expected),
          f"{label}: names {sorted(got)} != {sorted(expected)}")
    prev_end = 0
    for e in d["tensors"]:  # file order tiles the data
        check(e["offsets"][0] == prev_end, f"{label}: offsets not in order")
        prev_end = e["offsets"][1]
    for name, (dtype, shape, raw, f32) in expected.items():
        e = got.get(name)
        if e is None:
            continue
        check(e["dtype"] == dtype, f"{label}/{name!r}: dtype {e['dtype']} != {dtype}")
        check(tuple(e["shape"]) == tuple(shape),
              f"{label}/{name!r}: shape {e['shape']} != {list(shape)}")
        check(bytes.fromhex(e["data"]) == raw, f"{label}/{name!r}: bytes differ")
        if f32 is not None:
            check(e["f32"] is not None and
                  f32_equal(bytes.fromhex(e["f32"]), f32),
                  f"{label}/{name!r}: F32 conversion differs")
    if meta is None:
        check(d["metadata"] is None, f"{label}: metadata should be absent")
    else:
        got_meta = {bytes.fromhex(k).decode(): bytes.fromhex(v).decode()
                    for k, v in d["metadata"] or []}
        check(got_meta == meta, f"{label}: metadata {got_meta} != {meta}")


def python_to_minitensor(tool, tmp):
    tensors = python_tensors()
    meta = {"format": "np", "k\u00e9y": "va\"l\\ue\n", "empty": ""}
    path = os.path.join(tmp, "py.safetensors")
    save_file(tensors, path, metadata=meta)
    expected = {}
    for name, a in tensors.items():
        expected[name] = (DTYPE_NAMES[a.dtype], a.shape, a.tobytes(),
                          a.astype(np.float32).tobytes())
    compare_dump(tool, path, expected, meta, "numpy.save_file")

    path2 = os.path.join(tmp, "py_nometa.safetensors")
    save_file({"only": np.ones(3, dtype=np.float32)}, path2)
    compare_dump(tool, path2, {"only": ("F32", (3,), np.ones(3, np.float32).tobytes(), None)},
                 None, "no metadata")

    # BF16 (numpy has no bfloat16): raw bytes through safetensors.serialize
    bf = struct.pack("<6H", 0x3F80, 0xC0A0, 0x7F80, 0x0001, 0x8000, 0x4049)
    blob = serialize({"bf": {"dtype": "bfloat16", "shape": [2, 3], "data": bf},
                      "u8": {"dtype": "uint8", "shape": [3], "data": b"\x01\x02\x03"}},
                     None)
    path3 = os.path.join(tmp, "bf16.safetensors")
    with open(path3, "wb") as fh:
        fh.write(blob)
    compare_dump(tool, path3, {
        "bf": ("BF16", (2, 3), bf, bf16_to_f32_bytes(bf)),
        "u8": ("U8", (3,), b"\x01\x02\x03",
               np.array([1, 2, 3], np.float32).tobytes())}, None, "serialize/BF16")
    return path, tensors, meta


# The fixed set of test_safetensors_interop.c `write`, computed here.
def fixed_tensors():
    i = np.arange(24)
    fv = (i % 17 - 8) * 0.375
    k = (i * 7919) % 200
    out = {}
    specs = [("F32", np.float32), ("F16", np.float16), ("F64", np.float64),
             ("I64", np.int64), ("I32", np.int32), ("I16", np.int16),
             ("I8", np.int8), ("U64", np.uint64), ("U32", np.uint32),
             ("U16", np.uint16), ("U8", np.uint8), ("BOOL", np.bool_)]
    for name, dt in specs:
        if name == "BOOL":
            a = (i % 3 == 0)
        elif np.dtype(dt).kind == "f":
            a = fv.astype(dt)
        elif np.dtype(dt).kind == "i":
            a = (k - 100).astype(dt)
            a[0], a[1] = np.iinfo(dt).min, np.iinfo(dt).max
        else:
            a = k.astype(dt)
            a[1] = np.iinfo(dt).max
        out["layer." + name] = ("numpy", a.astype(dt).reshape(2, 3, 4))
    bf = (fv.astype(np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
    out["layer.BF16"] = ("raw", ("bfloat16", [2, 3, 4], bf))
    out["scalar"] = ("numpy", np.array(2.5, dtype=np.float32))
    out["zero"] = ("numpy", np.zeros((0, 5), dtype=np.float32))
    out["zero_i64"] = ("numpy", np.zeros((3, 0), dtype=np.int64))
    out["transposed"] = ("numpy", np.array([[0, 3], [1, 4], [2, 5]], np.float32))
    odd = "\u00e9t\u00e9 \U0001F600 \"q\" \\ \n\x01\x00end"
    out[odd] = ("numpy", np.array([-1, -1], dtype=np.float32))
    return out


ST_DTYPE = {"F32": "float32", "F16": "float16", "F64": "float64",
            "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8",
            "U64": "uint64", "U32": "uint32", "U16": "uint16", "U8": "uint8",
            "BOOL": "bool"}


def minitensor_to_python(tool, tmp):
    path = os.path.join(tmp, "mt.safetensors")
    run(tool, "write", path)
    with open(path, "rb") as fh:
        ours = fh.read()
    fixed = fixed_tensors()
    meta = {"producer": "minitensor \u2713"}

    # 1. byte-identical to the Rust crate's serialization of the same data
    raw = {}
    for name, (kind, v) in fixed.items():
        if kind == "numpy":
            raw[name] = {"dtype": ST_DTYPE[DTYPE_NAMES[v.dtype]],
                         "shape": list(v.shape), "data": v.tobytes()}
        else:
            raw[name] = {"dtype": v[0], "shape": v[1], "data": v[2]}
    reference = serialize(raw, meta)
    check(ours == reference,
          "minitensor's file differs from safetensors.serialize's bytes")
    if ours != reference:
        n1 = struct.unpack("<Q", ours[:8])[0]
        n2 = struct.unpack("<Q", reference[:8])[0]
        print("  ours:     ", ours[8:8 + n1][:400])
        print("  reference:", reference[8:8 + n2][:400])

    # 2. the Python reader accepts it, values as numpy computes them
    loaded = deserialize(ours)
    got = {name: info for name, info in loaded}
    check(set(got) == set(fixed), f"deserialize: names {sorted(got)}")
    for name, (kind, v) in fixed.items():
        info = got.get(name)
        if info is None:
            continue
        if kind == "numpy":
            check(info["dtype"] == DTYPE_NAMES[v.dtype] and
                  list(info["shape"]) == list(v.shape) and
                  bytes(info["data"]) == v.tobytes(),
                  f"deserialize/{name!r}: differs")
        else:
            check(info["dtype"] == "BF16" and bytes(info["data"]) == v[2],
                  f"deserialize/{name!r}: differs")
    with safe_open(path, framework="numpy") as fh:
        check(fh.metadata() == meta, f"safe_open metadata {fh.metadata()}")
        for name, (kind, v) in fixed.items():
            if kind != "numpy":
                continue  # numpy cannot hold bfloat16
            a = fh.get_tensor(name)
            check(a.dtype == v.dtype and a.shape == v.shape and
                  np.array_equal(a, v), f"safe_open/{name!r}: differs")


def roundtrip(tool, tmp, py_path, tensors, meta):
    out = os.path.join(tmp, "roundtrip.safetensors")
    run(tool, "roundtrip", py_path, out)
    back = load_file(out)
    check(set(back) == set(tensors), "roundtrip: names differ")
    for name, a in tensors.items():
        b = back.get(name)
        check(b is not None and b.dtype == a.dtype and b.shape == a.shape and
              b.tobytes() == a.tobytes(), f"roundtrip/{name!r}: differs")
    with safe_open(out, framework="numpy") as fh:
        check(fh.metadata() == meta, "roundtrip: metadata differs")
    # and the bytes equal Python's own re-serialization (one metadata key:
    # safetensors 0.4.5 writes a multi-key __metadata__ in hash order)
    one = os.path.join(tmp, "one_meta.safetensors")
    save_file(tensors, one, metadata={"format": "np"})
    out2 = os.path.join(tmp, "roundtrip2.safetensors")
    run(tool, "roundtrip", one, out2)
    with open(one, "rb") as f1, open(out2, "rb") as f2:
        check(f1.read() == f2.read(),
              "roundtrip: bytes differ from safetensors.numpy.save_file")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    tool = sys.argv[1]
    for mod, want in PINNED.items():
        have = sys.modules[mod].__version__
        if have != want:
            print(f"note: {mod} {have} (tests pin {want})")
    print(f"python {sys.executable} (prefix {sys.prefix}): numpy {np.__version__}, "
          f"safetensors {safetensors.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        py_path, tensors, meta = python_to_minitensor(tool, tmp)
        minitensor_to_python(tool, tmp)
        roundtrip(tool, tmp, py_path, tensors, meta)
    if FAILURES:
        print(f"{len(FAILURES)} interop check(s) failed")
        return 1
    print("interop: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
