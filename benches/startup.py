#!/usr/bin/env python3
"""startup.py — what one small program costs from exec to exit.

Runs `/bin/true` and `mnist predict IMAGE` alternately N times (so both see
the same machine load). Wall time: time.perf_counter around os.posix_spawn
.. os.wait4. Peak RSS: wait4's ru_maxrss, but taken through rusage_exec
(benches/rusage_exec.c, built beside this bench): a child of Python starts
from Python's own memory and Linux keeps that high-water mark across exec,
so measured from here every program would show Python's ~15 MB. CPU time
(user + system, from the same wait4) is the steadier figure on a busy
machine. Prints the medians in a table, then one JSON line. The predicted digit is checked
before timing.

  benches/startup.py build/examples/mnist/mnist tests/mnist/seven.pgm \
      [--rss-helper build/benches/rusage_exec] [-n 200] [--also OTHER/mnist]
      [--json FILE]

--also runs other builds of mnist in the same alternation (before/after).

Python 3 standard library only.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time


def cpu_name():
    """The first CPU's brand string, family and model, and the CPU count."""
    fields = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields:
        name += f" (family {fields['cpu family']} model {fields.get('model', '?')})"
    return f"{name}, {os.cpu_count()} CPUs"


def run_once(argv, env):
    """(wall seconds, CPU seconds, exit status) of one run, output discarded."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
        t0 = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        t1 = time.perf_counter()
    finally:
        os.close(devnull)
    return (t1 - t0, usage.ru_utime + usage.ru_stime,
            os.waitstatus_to_exitcode(status))


def rss_once(helper, argv, env):
    """(peak RSS KiB, exit status) of one run of argv under rusage_exec."""
    out = subprocess.run([helper] + argv, capture_output=True, text=True, env=env,
                         check=True)
    rss, code = out.stdout.split()
    return int(rss), int(code)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mnist", help="path to the mnist example program")
    p.add_argument("image", help="a PGM image of one digit")
    p.add_argument("-n", type=int, default=200, help="runs of each program (default 200)")
    p.add_argument("--expect", default="7", help="digit the image must be predicted as")
    p.add_argument("--true", default="/bin/true", dest="true_path")
    p.add_argument("--rss-helper", help="rusage_exec (default: build/benches/ of the "
                   "build tree that holds MNIST)")
    p.add_argument("--also", action="append", default=[], metavar="MNIST",
                   help="another mnist build to run in the same alternation (A/B)")
    p.add_argument("--json", metavar="FILE", help="also write the JSON line to FILE")
    args = p.parse_args()

    env = dict(os.environ)
    helper = args.rss_helper or os.path.join(
        os.path.dirname(os.path.abspath(args.mnist)), "..", "..", "benches", "rusage_exec")
    if not os.access(helper, os.X_OK):
        sys.exit(f"startup.py: no rusage_exec at {helper} (--rss-helper)")
    programs = {"/bin/true": [args.true_path]}
    for i, path in enumerate([args.mnist] + args.also):
        mnist = [os.path.abspath(path), "predict", args.image]
        # validate before timing: the program runs and predicts the right digit
        out = subprocess.run(mnist, capture_output=True, text=True, env=env)
        if out.returncode != 0 or f": {args.expect}\n" not in out.stdout:
            sys.exit(f"startup.py: {' '.join(mnist)} failed or did not predict "
                     f"{args.expect}: exit {out.returncode}: {out.stdout}{out.stderr}")
        programs["mnist predict" if i == 0 else f"also {i}: {path}"] = mnist
    runs = {name: {"wall": [], "cpu": [], "rss": []} for name in programs}
    for name, argv in programs.items():   # warm the page cache
        run_once(argv, env)
    for _ in range(args.n):
        for name, argv in programs.items():
            wall, cpu, code = run_once(argv, env)
            rss, rss_code = rss_once(helper, argv, env)
            if code != 0 or rss_code != 0:
                sys.exit(f"startup.py: {name} exited with {code or rss_code}")
            runs[name]["wall"].append(wall)
            runs[name]["cpu"].append(cpu)
            runs[name]["rss"].append(rss)

    result = {"bench": "startup", "cpu": cpu_name(), "runs": args.n,
              "image": args.image, "mnist": args.mnist, "programs": {}}
    print(f"CPU: {result['cpu']}; {args.n} alternating runs each; medians")
    width = max(16, max(len(name) for name in runs) + 2)
    print(f"{'program':<{width}}{'wall ms':>10}{'p10 ms':>10}{'p90 ms':>10}{'CPU ms':>9}{'peak RSS KiB':>14}")
    for name, r in runs.items():
        wall = sorted(r["wall"])
        med = statistics.median(wall) * 1e3
        p10 = wall[len(wall) // 10] * 1e3
        p90 = wall[(len(wall) * 9) // 10] * 1e3
        rss = statistics.median(r["rss"])
        cpu = statistics.median(r["cpu"]) * 1e3
        print(f"{name:<{width}}{med:>10.3f}{p10:>10.3f}{p90:>10.3f}{cpu:>9.3f}{rss:>14.0f}")
        result["programs"][name] = {"wall_ms_median": round(med, 4),
                                    "wall_ms_p10": round(p10, 4),
                                    "wall_ms_p90": round(p90, 4),
                                    "cpu_ms_median": round(cpu, 4),
                                    "max_rss_kib_median": rss}
    line = json.dumps(result)
    print(line)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
