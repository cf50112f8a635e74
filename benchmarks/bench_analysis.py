"""Analysis benchmarks, run on demand (not part of the test suite).

    .venv/bin/python benchmarks/bench_analysis.py [--repeat N]

Prints, with baselines measured in the same run so that the figures travel between machines:

1. the median time of the full metric set (``summarize``) for a 60 s, 100 Hz trial, against a
   plain ``np.mean`` over the same (6000, 2) array; target < 5 ms;
2. the median wall time of ``python -m station.analysis.commands analyze --json`` on one BDS
   file, start-up included, against ``python -c "import numpy"``; target < 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from station.analysis import readers  # noqa: E402
from station.analysis.summary import summarize  # noqa: E402

BDS_FILE = ROOT / "tests" / "data" / "bds" / "BDS00001.txt.gz"


def median_seconds(fn, repeat: int, number: int = 1,
                   clock=time.perf_counter) -> tuple[float, float]:
    """(median, minimum) over ``repeat`` runs of the mean time of ``number`` calls."""
    runs = []
    for _ in range(repeat):
        t0 = clock()
        for _ in range(number):
            fn()
        runs.append((clock() - t0) / number)
    return statistics.median(runs), min(runs)


def wall(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="timed runs of the metric set")
    parser.add_argument("--wall-repeat", type=int, default=7, help="runs of the subprocess")
    args = parser.parse_args()

    _, (trial,) = readers.load(BDS_FILE)  # a real 60 s, 100 Hz trial
    cop, fs = trial.cop, trial.fs
    assert cop.shape == (6000, 2) and fs == 100.0
    for _ in range(20):
        summarize(cop, fs)  # warm caches and numpy's FFT plans
    full, full_min = median_seconds(lambda: summarize(cop, fs), args.repeat)
    cpu, _ = median_seconds(lambda: summarize(cop, fs), args.repeat, clock=time.process_time)
    base, _ = median_seconds(lambda: cop.mean(axis=0), args.repeat, number=100)
    flat, _ = median_seconds(lambda: cop.mean(), args.repeat, number=100)
    print(f"full metric set, 60 s at 100 Hz: median {full * 1e3:.2f} ms wall "
          f"(min {full_min * 1e3:.2f}, CPU median {cpu * 1e3:.2f}; target < 5 ms)")
    print(f"  baseline np.mean(cop, axis=0) on the same (6000, 2) array: {base * 1e6:.1f} us "
          f"-> ratio {full / base:.0f}x; cop.mean() {flat * 1e6:.1f} us -> {full / flat:.0f}x")

    py = sys.executable
    analyze = [py, "-m", "station.analysis.commands", "analyze", str(BDS_FILE), "--json"]
    wall(analyze, 1)  # warm the file cache
    t_analyze = wall(analyze, args.wall_repeat)
    t_python = wall([py, "-c", "pass"], args.wall_repeat)
    t_numpy = wall([py, "-c", "import numpy"], args.wall_repeat)
    print(f"analyze --json on {BDS_FILE.name}: median wall {t_analyze:.3f} s (target < 1 s); "
          f"python -c pass {t_python:.3f} s; python -c 'import numpy' {t_numpy:.3f} s; "
          f"ratio to import numpy {t_analyze / t_numpy:.1f}x")


if __name__ == "__main__":
    main()
