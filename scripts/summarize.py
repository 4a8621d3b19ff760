#!/usr/bin/env python3
"""Prints one line, `N passed, N failed, N skipped`, over the meson test logs
of the build dirs given (meson-logs/testlog*.json, one JSON object a line)
plus extra results given as NAME=ok|fail. Exit 1 if anything failed."""
import glob
import json
import os
import sys

PASS = {"OK", "EXPECTEDFAIL"}
SKIP = {"SKIP"}


def main():
    passed = failed = skipped = 0
    for arg in sys.argv[1:]:
        if "=" in arg:
            name, result = arg.split("=", 1)
            if result == "ok":
                passed += 1
            else:
                failed += 1
                print(f"FAILED: {name}")
            continue
        # testlog.json, or testlog-SETUP.json after `meson test --setup SETUP`
        logs = glob.glob(os.path.join(arg, "meson-logs", "testlog*.json"))
        if not logs:
            failed += 1
            print(f"FAILED: no test log in {arg}")
            continue
        for line in (line for log in logs for line in open(log, encoding="utf-8")):
            if not line.strip():
                continue
            entry = json.loads(line)
            result = entry.get("result")
            if result in PASS:
                passed += 1
            elif result in SKIP:
                skipped += 1
            else:
                failed += 1
                print(f"FAILED: {arg}: {entry.get('name')} ({result})")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
