"""machine.py — the CPU a bench ran on, for its table and JSON (figures from
different machines must never be compared). Imported by the *_compare.py
and bench_*.py scripts beside it."""
import platform


def cpu_name():
    """The first CPU's brand string ("model name" in /proc/cpuinfo), else
    what platform says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
