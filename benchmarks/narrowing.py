"""Integer narrowing (issue 22): small-integer kernels with and without it, in the same run.

Two of issue 22's goals: the seed's 3x3 smooth on uint8 within 2x of `np.copyto` on the
development host, and a Game of Life step at least 2x faster than before narrowing. Each
kernel is compiled twice in this process: as stencilc compiles it, and with narrowing turned
off (the cpu target's ``narrowing`` set to None: numba's int64 arithmetic, what
every kernel ran before), both checked equal, then timed in turn (pairs, so a change in the
host's load lands on both). The copy is `np.copyto` of the input into the output, the memory
roofline. ``cold``: the last-level cache flushed before every call (the CPU suite's headline
regime); ``warm``: back to back.

    python benchmarks/narrowing.py [--quick] [--output docs/bench-narrowing.json]
"""
from __future__ import annotations

import json
import platform
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from stencilc import stencil_ufunc
from stencilc.demo import cpu_model
from stencilc.targets.cpu import CpuTarget

sys.path.insert(0, str(Path(__file__).parent))
from cpu_suite import Timer, bench_options  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs"


def smooth(x):
    return (x[-1, -1] + x[-1, 0] + x[-1, 1] +
            x[0, -1] + x[0, 0] + x[0, 1] +
            x[1, -1] + x[1, 0] + x[1, 1]) // 9


def life(x):
    n = (x[-1, -1] + x[-1, 0] + x[-1, 1] + x[0, -1] + x[0, 1] +
         x[1, -1] + x[1, 0] + x[1, 1])
    return 1 if n == 3 or (n == 2 and x[0, 0] == 1) else 0


CASES = [  # name, kernel, layout, boundary, input
    ("smooth uint8 (16, 1000, 1000)", smooth, "(n,m)->(n,m)", "nearest",
     lambda rng: rng.integers(0, 256, (16, 1000, 1000)).astype(np.uint8)),
    ("Life bool 4096^2", life, "(n,m)->(n,m)", "wrap",
     lambda rng: rng.random((4096, 4096)) < 0.3),
    ("Life uint8 4096^2", life, "(n,m)->(n,m)", "wrap",
     lambda rng: (rng.random((4096, 4096)) < 0.3).astype(np.uint8)),
]


def _compiled(kernel: Callable, layout: str, boundary: str, narrow: bool, dtype) -> Callable:
    """The kernel compiled with or without narrowing (the target's narrow types removed while
    it compiles; the schedule is part of the cached text, so the two do not share an entry)."""
    saved = CpuTarget.narrowing
    if not narrow:
        CpuTarget.narrowing = None
    try:
        f = stencil_ufunc(layout, boundary=boundary)(kernel)
        f.compile(dtype)
        return f
    finally:
        CpuTarget.narrowing = saved


def run_case(name, kernel, layout, boundary, make, timer: Timer) -> dict:
    x = make(np.random.default_rng(0))
    narrowed = _compiled(kernel, layout, boundary, True, x.dtype)
    wide = _compiled(kernel, layout, boundary, False, x.dtype)
    out_a, out_b, copy = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    same = bool(np.array_equal(narrowed(x, out=out_a), wide(x, out=out_b)))
    row = {"case": name, "same_values": same,
           "schedule": str(narrowed.schedule(x.dtype)).splitlines()[1:]}
    for regime in ("cold", "warm"):
        cold = regime == "cold"
        ours, before, speedup = timer.paired(lambda: narrowed(x, out=out_a),
                                             lambda: wide(x, out=out_b), cold)
        copy_s = timer.median(lambda: np.copyto(copy, x), cold)
        row[regime] = {"narrowed_s": ours, "int64_s": before, "narrowed_vs_int64": 1 / speedup,
                       "copy_s": copy_s, "narrowed_over_copy": ours / copy_s,
                       "int64_over_copy": before / copy_s}
    return row


def main() -> None:
    args, timer = bench_options(__doc__, "bench-narrowing.json", repeats=11, min_seconds=1.0)
    rows = []
    print(f"{'case':<32}{'regime':<7}{'narrowed':>10}{'int64':>10}{'speed-up':>10}"
          f"{'/copy':>8}{'int64/copy':>12}")
    for case in CASES:
        row = run_case(*case, timer)
        rows.append(row)
        for regime in ("cold", "warm"):
            r = row[regime]
            print(f"{row['case']:<32}{regime:<7}{r['narrowed_s'] * 1e3:>8.2f}ms"
                  f"{r['int64_s'] * 1e3:>8.2f}ms{r['narrowed_vs_int64']:>9.2f}x"
                  f"{r['narrowed_over_copy']:>8.2f}{r['int64_over_copy']:>12.2f}")
        for line in row["schedule"]:
            print(f"    {line.strip()}")
    if not all(r["same_values"] for r in rows):
        sys.exit("narrowed and int64 kernels disagree: no figures written")
    smooth_row, *lives = rows
    goals = [
        ("uint8 smooth <= 2x np.copyto (cold)", smooth_row["cold"]["narrowed_over_copy"] <= 2.0),
        ("Life step >= 2x faster than before narrowing",
         all(r[regime]["narrowed_vs_int64"] >= 2.0 for r in lives for regime in ("cold", "warm"))),
    ]
    for goal, met in goals:
        print(f"{'PASS' if met else 'FAIL'} {goal}")
    record = {"machine": {"processor": cpu_model(), "python": platform.python_version(),
                          "cores_used": 1},
              "cases": rows, "goals": [f"{'PASS' if m else 'FAIL'} {g}" for g, m in goals]}
    args.output.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
