#!/usr/bin/env python3
"""Prints one line, `N passed, N failed, N skipped`, over the meson test logs
of the build dirs given (meson-logs/testlog*.json, one JSON object a line)
plus extra results given as NAME=ok|fail. Every skip is named with its
reason; a skip not in EXPECTED_SKIPS counts as a failure too (the README's
test command installs every prerequisite, so a skip means a missing one).
Exit 1 if anything failed."""
import glob
import json
import os
import sys

PASS = {"OK", "EXPECTEDFAIL"}
SKIP = {"SKIP"}

# Tests allowed to skip, as "BUILD_DIR:TEST_NAME": only for what the machine
# cannot do. Empty: on the CI machine every test runs.
EXPECTED_SKIPS = set()


def skip_reason(entry):
    """The test's own SKIP line, or its last line of output."""
    lines = [l for l in (entry.get("stdout") or "").splitlines() if l.strip()]
    for line in lines:
        if "skip" in line.lower():
            return line.strip()
    return lines[-1].strip() if lines else "no reason given"


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
            name = entry.get("name")
            if result in PASS:
                passed += 1
            elif result in SKIP:
                skipped += 1
                key = f"{os.path.basename(os.path.normpath(arg))}:{name}"
                if key in EXPECTED_SKIPS:
                    print(f"SKIPPED (expected): {key}: {skip_reason(entry)}")
                else:
                    failed += 1
                    print(f"FAILED: unexpected skip {key}: {skip_reason(entry)}")
            else:
                failed += 1
                print(f"FAILED: {arg}: {name} ({result})")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
