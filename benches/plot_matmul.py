#!/usr/bin/env python3
"""Plot bench_matmul's JSON: GFLOP/s of square matmuls per backend and thread
count (left, with the measured FMA peak) and the MNIST MLP shapes (right).

usage: plot_matmul.py [bench-matmul.json] [out.png|out.svg]

Needs matplotlib (pip install matplotlib). The output format follows the
file extension; the default is bench-matmul.png next to the JSON.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


COLORS = {"naive": "tab:gray", "native": "tab:red", "openblas": "tab:blue",
          "blis": "tab:green", "auto": "tab:purple"}


def series(results, group):
    """{(backend, threads): [(n or shape, gflops, median_us)]} for valid runs."""
    out = {}
    for r in results:
        if r["group"] != group or not r["valid"]:
            continue
        out.setdefault((r["backend"], r["threads"]), []).append(r)
    return out


def plot_squares(ax, data):
    peak = data["machine"]["peak_gflops_per_core"]
    squares = series(data["results"], "square")
    threads_seen = sorted({t for _, t in squares})
    styles = {1: "-", 2: "--", 3: "-.", 4: ":"}
    for (backend, threads), runs in sorted(squares.items()):
        runs.sort(key=lambda r: r["n"])
        ax.plot([r["n"] for r in runs], [r["gflops"] for r in runs],
                styles.get(threads, ":"), marker="o", markersize=3,
                color=COLORS.get(backend), label=f"{backend} ×{threads}")
    for t in threads_seen:
        ax.axhline(peak * t, color="grey", linewidth=0.8, linestyle=styles.get(t, ":"))
        ax.annotate(f"FMA peak ×{t}: {peak * t:.0f}", (0.01, peak * t),
                    xycoords=("axes fraction", "data"), fontsize=7, color="grey",
                    va="bottom")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("n (C[n,n] = A[n,n]·B[n,n])")
    ax.set_ylabel("GFLOP/s (median)")
    ax.set_title("square sgemm")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)


def plot_mnist(ax, data):
    mnist = [r for r in data["results"] if r["group"] == "mnist" and r["valid"]]
    shapes = sorted({r["shape"] for r in mnist},
                    key=lambda name: next((r["weights"], r["m"], -r["k"])
                                          for r in mnist if r["shape"] == name))
    keys = sorted({(r["backend"], r["threads"]) for r in mnist if r["backend"] != "naive"})
    width = 0.8 / max(1, len(keys))
    for i, (backend, threads) in enumerate(keys):
        xs, ys = [], []
        for s, shape in enumerate(shapes):
            for r in mnist:
                if r["shape"] == shape and r["backend"] == backend and r["threads"] == threads:
                    xs.append(s + i * width)
                    ys.append(r["median_us"])
        ax.bar(xs, ys, width, color=COLORS.get(backend),
               alpha=1.0 if threads == 1 else 0.55, label=f"{backend} ×{threads}")
    ax.set_xticks([s + 0.4 - width / 2 for s in range(len(shapes))])
    ax.set_xticklabels([s.replace("mnist-", "") for s in shapes], rotation=45,
                       ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("µs per call (median, log)")
    ax.set_title("MNIST MLP layers (M×K×N; -wT: [out,in] weights)")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)


def main(argv):
    src = argv[1] if len(argv) > 1 else "bench-matmul.json"
    dst = argv[2] if len(argv) > 2 else os.path.splitext(src)[0] + ".png"
    data = load(src)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    plot_squares(left, data)
    plot_mnist(right, data)
    m = data["machine"]
    fig.suptitle(f"minitensor matmul — {m['cpu']}, {m['online_cpus']} cpus, "
                 f"peak {m['peak_gflops_per_core']:.0f} GFLOP/s/core ({m['peak_isa']})",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(dst, dpi=120)
    print(f"wrote {dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
