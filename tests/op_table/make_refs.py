#!/usr/bin/env python3
"""Regenerates the op table's reference files (refs/<family>.safetensors).

Run with Debian's interpreter, which has python3-torch and numpy:
    /usr/bin/python3 tests/op_table/make_refs.py [FAMILY ...]
Each family is a module cases_<family>.py beside this file with
cases(rng) -> list[optable.Case]. Seeded: the same files every run.
"""
import importlib
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import optable  # noqa: E402

FAMILIES = ["matmul", "elementwise", "index", "conv", "reduce", "norm", "attention", "conv3d",
            "grid_sample"]


def main(argv):
    families = argv or FAMILIES
    os.makedirs(os.path.join(HERE, "refs"), exist_ok=True)
    for family in families:
        module = importlib.import_module(f"cases_{family}")
        seed = sum(family.encode())          # independent of the family order
        cases = module.cases(np.random.default_rng(seed))
        path = os.path.join(HERE, "refs", f"{family}.safetensors")
        optable.write_cases(path, cases)
        print(f"{path}: {len(cases)} cases, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
