#!/usr/bin/env python3
"""Keeps the example programs in docs/ honest.

  doc_example.py extract DOC NAME OUT.c   writes the ```c block that follows
                                          <!-- example: NAME -->
  doc_example.py check DOC NAME PROGRAM   runs PROGRAM and compares its stdout
                                          with the block after <!-- output: NAME -->
"""
import subprocess
import sys


def block_after(doc, marker):
    text = open(doc, encoding="utf-8").read()
    start = text.index(marker)
    fence = text.index("```", start)
    body_start = text.index("\n", fence) + 1
    end = text.index("```", body_start)
    return text[body_start:end]


def main():
    mode, doc, name, target = sys.argv[1:5]
    if mode == "extract":
        with open(target, "w", encoding="utf-8") as f:
            f.write(block_after(doc, f"<!-- example: {name} -->"))
        return 0
    expected = block_after(doc, f"<!-- output: {name} -->")
    got = subprocess.run([target], capture_output=True, text=True, check=False)
    if got.returncode != 0 or got.stdout != expected:
        print(f"exit {got.returncode}\n--- expected\n{expected}--- got\n{got.stdout}{got.stderr}")
        return 1
    print(got.stdout, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
