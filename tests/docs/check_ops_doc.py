#!/usr/bin/env python3
"""docs/ops.md and the op headers list the same ops.

  check_ops_doc.py DOC HEADER...

An op is a public function `mt_<name>(` declared (or defined inline) in one
of the headers; its `_into` twin is the same op. docs/ops.md names each op in the first column of
its tables as `mt_<name>`. Prints what is missing on either side.
"""
import re
import sys

DECL = re.compile(r"^(?:inline\s+)?mt_status\s+(mt_[a-z0-9_]+)\s*\(", re.M)
ROW = re.compile(r"^\|\s*`(mt_[a-z0-9_]+)`", re.M)


def ops_in_headers(paths):
    ops = set()
    for path in paths:
        text = open(path, encoding="utf-8").read()
        for name in DECL.findall(text):
            ops.add(name[:-len("_into")] if name.endswith("_into") else name)
    return ops


def main():
    doc, headers = sys.argv[1], sys.argv[2:]
    documented = set(ROW.findall(open(doc, encoding="utf-8").read()))
    declared = ops_in_headers(headers)
    missing_doc = sorted(declared - documented)
    missing_header = sorted(documented - declared)
    for name in missing_doc:
        print(f"{name}: declared in a header, missing from {doc}")
    for name in missing_header:
        print(f"{name}: in {doc}, declared in no op header")
    print(f"{len(declared)} ops declared, {len(documented)} documented")
    return 1 if missing_doc or missing_header else 0


if __name__ == "__main__":
    sys.exit(main())
