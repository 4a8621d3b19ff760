#!/usr/bin/env python3
"""mt-inspect: table, --json, --help, exit codes and error messages.

    inspect_test.py MT_INSPECT

Files are built byte by byte here (Python's json + struct only), so the
expected output does not come from minitensor. Every run has a timeout:
mt-inspect must never hang, and must never die from a signal.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

FAILURES = []


def check(cond, what):
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


def run(tool, *args):
    r = subprocess.run([tool, *args], capture_output=True, timeout=30)
    check(r.returncode >= 0, f"{args}: killed by signal {-r.returncode}")
    return r.returncode, r.stdout.decode("utf-8", "replace"), \
        r.stderr.decode("utf-8", "replace")


def st_file(path, header, data=b""):
    """Write 8-byte length + header (str or bytes) + data."""
    h = header.encode() if isinstance(header, str) else header
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(h)) + h + data)


def main():
    tool = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        # ---- a valid file with awkward names --------------------------------
        odd = 'q"uo\\te\x00nul\n\u00e9\U0001F600'
        header = {
            "__metadata__": {"format": "pt", "k\x00ey": "v\"al"},
            "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
            odd: {"dtype": "U8", "shape": [], "data_offsets": [24, 25]},
            "f8": {"dtype": "F8_E4M3", "shape": [0, 7], "data_offsets": [25, 25]},
            "c": {"dtype": "C64", "shape": [1], "data_offsets": [25, 33]},
        }
        good = os.path.join(tmp, "good.safetensors")
        text = json.dumps(header)  # escapes NUL as \u0000, non-ASCII as \u....
        text += " " * (-len(text) % 8)
        st_file(good, text, bytes(33))

        rc, out, err = run(tool, good)
        check(rc == 0 and err == "", f"table: rc {rc}, stderr {err!r}")
        check("4 tensors" in out, "table: tensor count")
        check(any(line.split()[:3] == ["w", "F32", "[2,"] for line in out.splitlines()),
              "table: row for w")
        check("24" in out and "F8_E4M3" in out and "C64" in out, "table: columns")
        check("q\"uo\\te\\x00nul\\x0a\u00e9\U0001F600" in out, "table: escaped name")
        check("metadata (2):" in out and "  format: pt" in out, "table: metadata")

        # terminal controls in a name (U+009B is CSI, U+202E reverses the
        # text after it) were printed raw: shown as their bytes instead
        ctl = os.path.join(tmp, "controls.safetensors")
        text = json.dumps({"a\u009b2J\u202eb": {"dtype": "U8", "shape": [1],
                                                "data_offsets": [0, 1]}})
        st_file(ctl, text + " " * (-len(text) % 8), bytes(1))
        rc, out, err = run(tool, ctl)
        check(rc == 0 and "a\\xc2\\x9b2J\\xe2\\x80\\xaeb  " in out
              and "\u009b" not in out and "\u202e" not in out, "table: controls escaped")

        rc, out, err = run(tool, "--json", good)
        check(rc == 0 and err == "", f"--json: rc {rc}, stderr {err!r}")
        try:
            doc = json.loads(out)
        except ValueError as exc:
            check(False, f"--json output is not JSON: {exc}: {out[:200]!r}")
            doc = {"tensors": [], "metadata": None}
        want = [
            {"name": "w", "dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
            {"name": odd, "dtype": "U8", "shape": [], "data_offsets": [24, 25]},
            {"name": "f8", "dtype": "F8_E4M3", "shape": [0, 7], "data_offsets": [25, 25]},
            {"name": "c", "dtype": "C64", "shape": [1], "data_offsets": [25, 33]},
        ]
        check(doc["tensors"] == want, f"--json tensors: {doc['tensors']}")
        check(doc["metadata"] == header["__metadata__"], f"--json metadata: {doc['metadata']}")
        check("\\u0000" in out, "--json: NUL written as \\u0000")
        check(list(doc) == ["tensors", "metadata"], "--json: key order")

        nometa = os.path.join(tmp, "nometa.safetensors")
        st_file(nometa, '{"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}', bytes(4))
        rc, out, _ = run(tool, "--json", nometa)
        check(rc == 0 and json.loads(out) == {
            "tensors": [{"name": "a", "dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}],
            "metadata": None}, f"--json without metadata: {out!r}")
        rc, out, _ = run(tool, nometa)
        check(rc == 0 and "metadata: none" in out, "table without metadata")

        empty = os.path.join(tmp, "empty.safetensors")
        st_file(empty, "{}      ")
        rc, out, _ = run(tool, "--json", empty)
        check(rc == 0 and json.loads(out) == {"tensors": [], "metadata": None},
              f"--json of an empty file: {out!r}")

        # ---- invalid files: exit 1, "mt-inspect: FILE: reason" ---------------
        bad = {
            "short": (b"\x01\x02", "shorter than the 8-byte header length"),
            "dup": ('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                    '"\\u0061":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
                    "duplicate tensor name 'a'"),
            "deep": ("{\"a\":" + "[" * 100000, "entry must be an object"),
            "hole": ('{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}',
                     "the first tensor must begin at 0"),
            "overflow": ('{"a":{"dtype":"F64","shape":[4294967296,4294967296],'
                         '"data_offsets":[0,0]}}', "overflows 64 bits"),
        }
        for name, (content, reason) in bad.items():
            path = os.path.join(tmp, name + ".safetensors")
            if isinstance(content, bytes):
                with open(path, "wb") as fh:
                    fh.write(content)
            else:
                st_file(path, content, bytes(2))
            for args in ([path], ["--json", path]):
                rc, out, err = run(tool, *args)
                check(rc == 1, f"{name} {args[0]}: rc {rc}")
                check(out == "", f"{name}: stdout not empty: {out[:80]!r}")
                check(err.startswith(f"mt-inspect: {path}: ") and reason in err
                      and f"safetensors: {path}" not in err and err.endswith("\n")
                      and err.count("\n") == 1,
                      f"{name}: stderr {err!r}")

        missing = os.path.join(tmp, "missing.safetensors")
        rc, _, err = run(tool, missing)
        check(rc == 1 and err.startswith(f"mt-inspect: {missing}: cannot open"),
              f"missing file: {rc} {err!r}")
        rc, _, err = run(tool, tmp)
        check(rc == 1 and "not a regular file" in err, f"directory: {rc} {err!r}")
        fifo = os.path.join(tmp, "fifo")
        os.mkfifo(fifo)
        rc, _, err = run(tool, fifo)   # must not wait for a writer
        check(rc == 1 and "not a regular file" in err, f"fifo: {rc} {err!r}")

        # ---- usage ------------------------------------------------------------
        rc, out, _ = run(tool, "--help")
        check(rc == 0 and out.startswith("usage: mt-inspect") and "--json" in out,
              "--help")
        rc, _, err = run(tool)
        check(rc == 2 and "usage:" in err, f"no arguments: {rc}")
        rc, _, err = run(tool, "--bogus", good)
        check(rc == 2 and "unknown option '--bogus'" in err, f"bad option: {rc}")
        rc, _, err = run(tool, good, good)
        check(rc == 2, f"two files: {rc}")
        rc, out, _ = run(tool, "--version")
        check(rc == 0 and out.startswith("mt-inspect (minitensor) "), "--version")
        if os.path.exists("/dev/full"):
            with open("/dev/full", "w") as full:
                r = subprocess.run([tool, good], stdout=full,
                                   stderr=subprocess.PIPE, timeout=30)
            check(r.returncode == 1 and b"error writing" in r.stderr,
                  f"write error: {r.returncode} {r.stderr!r}")

    if FAILURES:
        print(f"{len(FAILURES)} mt-inspect check(s) failed")
        return 1
    print("mt-inspect: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
