#!/usr/bin/env python3
"""scripts/summarize.py on made-up meson logs: passes and fails are counted,
every skip is named with its reason, and a skip that is not expected fails
the summary (exit 1).

    test_summarize.py SUMMARIZE_PY
"""
import json
import os
import subprocess
import sys
import tempfile


def build_dir(root, name, entries):
    logs = os.path.join(root, name, "meson-logs")
    os.makedirs(logs)
    with open(os.path.join(logs, "testlog.json"), "w", encoding="utf-8") as fh:
        for e in entries:
            fh.write(json.dumps(e) + "\n")
    return os.path.join(root, name)


def run(script, *args):
    r = subprocess.run([sys.executable, script, *args], capture_output=True, text=True)
    return r.returncode, r.stdout


def main():
    script = sys.argv[1]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        ok = build_dir(tmp, "build", [{"name": "tensor", "result": "OK"},
                                      {"name": "ops", "result": "OK"}])
        skip = build_dir(tmp, "build-x", [
            {"name": "tensor", "result": "OK"},
            {"name": "safetensors_interop", "result": "SKIP",
             "stdout": "SKIP: No module named 'numpy'\n"}])
        code, out = run(script, ok, "fuzz=ok")
        if code != 0 or "3 passed, 0 failed, 0 skipped" not in out:
            failures.append(f"all passing: exit {code}: {out!r}")
        code, out = run(script, ok, skip)
        if code != 1 or "3 passed, 1 failed, 1 skipped" not in out:
            failures.append(f"unexpected skip must fail: exit {code}: {out!r}")
        if "build-x:safetensors_interop: SKIP: No module named 'numpy'" not in out:
            failures.append(f"the skip and its reason are not named: {out!r}")
        code, out = run(script, ok, "wasm=fail")
        if code != 1 or "FAILED: wasm" not in out:
            failures.append(f"a failed extra must fail: exit {code}: {out!r}")
    for f in failures:
        print("FAIL:", f)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
