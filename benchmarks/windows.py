"""Window reductions and large kernels against scipy.ndimage, measured in the same run.

Each case is a stencilc kernel written as a user writes it (``np.median(x[-1:2, -1:2])``) and
the scipy.ndimage call that computes the same values, on a 2048x2048 array (uint8, int32 or
float32) with the same boundary (``reflect``: both libraries repeat the edge element). Every stencilc result is
checked against scipy's first (bit for bit, or to float32 rounding for float sums), then both
are timed (median of repeated calls, one thread: the ``cpu`` target against scipy, which is
single-threaded). The goals of issue 22 are printed PASS/FAIL; the figures go to
docs/bench-windows.json, and docs/performance.md quotes them with the machine.

    python benchmarks/windows.py [--quick] [--output docs/bench-windows.json]
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.ndimage as ndi

from stencilc import stencil_ufunc
from stencilc.demo import cpu_model

sys.path.insert(0, str(Path(__file__).parent))
from cpu_suite import Timer  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs"
SHAPE = (2048, 2048)


def median3(x):
    return np.median(x[-1:2, -1:2])


def median5(x):
    return np.median(x[-2:3, -2:3])


def mean15(x):
    return np.mean(x[-7:8, -7:8])


def min15(x):
    return np.min(x[-7:8, -7:8])


def max15(x):
    return np.max(x[-7:8, -7:8])


def min5(x):
    return np.min(x[-2:3, -2:3])


def sum5(x):
    return np.sum(x[-2:3, -2:3])


def median15(x):
    return np.median(x[-7:8, -7:8])


def weights15(x, w):
    acc = 0.0
    for i in range(-7, 8):
        for j in range(-7, 8):
            acc += w[i + 7, j + 7] * x[i, j]
    return acc


WEIGHTS15 = (np.random.default_rng(7).random((15, 15)) / 225).astype(np.float32)


@dataclass(frozen=True)
class Case:
    name: str
    kernel: Callable
    dtype: str
    scipy: Callable[[np.ndarray], np.ndarray]
    goal: float          # stencilc must be at least this many times faster than scipy
    out_dtype: object = None
    exact: bool = True   # else: float32 rounding of a reordered sum
    fastmath: bool = False
    weights: np.ndarray | None = None   # a standard_indexing second argument


def _uniform(size):
    return lambda x: ndi.uniform_filter(x, size, mode="reflect")


CASES = [
    Case("median 3x3 uint8", median3, "uint8", lambda x: ndi.median_filter(x, 3, mode="reflect"), 2.0),
    Case("median 3x3 float32", median3, "float32", lambda x: ndi.median_filter(x, 3, mode="reflect"), 2.0),
    Case("median 5x5 uint8", median5, "uint8", lambda x: ndi.median_filter(x, 5, mode="reflect"), 2.0),
    Case("median 5x5 float32", median5, "float32", lambda x: ndi.median_filter(x, 5, mode="reflect"), 2.0),
    Case("median 15x15 uint8", median15, "uint8", lambda x: ndi.median_filter(x, 15, mode="reflect"), 1.0),
    Case("median 15x15 uint16", median15, "uint16", lambda x: ndi.median_filter(x, 15, mode="reflect"), 1.0),
    Case("min 5x5 float32", min5, "float32", lambda x: ndi.minimum_filter(x, 5, mode="reflect"), 1.0),
    Case("min 15x15 float32", min15, "float32", lambda x: ndi.minimum_filter(x, 15, mode="reflect"), 1.0),
    Case("max 15x15 uint8", max15, "uint8", lambda x: ndi.maximum_filter(x, 15, mode="reflect"), 1.0),
    Case("sum 5x5 int32", sum5, "int32",
         lambda x: ndi.correlate(x.astype(np.int64), np.ones((5, 5), np.int64), mode="reflect"), 1.0,
         out_dtype="kernel"),
    Case("mean 15x15 int32", mean15, "int32",
         lambda x: ndi.uniform_filter(x.astype(np.float64), 15, mode="reflect"), 1.0,
         out_dtype="kernel", exact=False),
    Case("mean 15x15 float32", mean15, "float32", _uniform(15), 1.0, exact=False),
    Case("mean 15x15 float32 fastmath", mean15, "float32", _uniform(15), 1.0, exact=False,
         fastmath=True),
    Case("weights 15x15 float32", weights15, "float32",
         lambda x: ndi.correlate(x, WEIGHTS15, mode="reflect"), 3.0, exact=False,
         weights=WEIGHTS15),
]


def _input(dtype: str, rng) -> np.ndarray:
    if np.dtype(dtype).kind == "f":
        return rng.random(SHAPE, dtype=np.float32).astype(dtype) * 100
    if np.dtype(dtype).itemsize == 2:      # a 12-bit camera's range
        return rng.integers(0, 4096, SHAPE).astype(dtype)
    return rng.integers(0, 200, SHAPE).astype(dtype)


def _agrees(ours: np.ndarray, theirs: np.ndarray, exact: bool) -> bool:
    if exact:
        return bool(np.array_equal(ours, theirs.astype(ours.dtype)))
    return bool(np.allclose(ours, theirs, rtol=1e-5, atol=1e-3))


def run_case(case: Case, timer: Timer) -> dict:
    x = _input(case.dtype, np.random.default_rng(0))
    layout = "(n,m)->(n,m)" if case.weights is None else "(n,m),(p,q)->(n,m)"
    f = stencil_ufunc(layout, boundary="reflect", out_dtype=case.out_dtype,
                      fastmath=case.fastmath,
                      standard_indexing=() if case.weights is None else ["w"])(case.kernel)
    args = (x,) if case.weights is None else (x, case.weights)
    began = time.perf_counter()
    ours = f(*args)
    compile_s = time.perf_counter() - began
    theirs = case.scipy(x)
    schedule = str(f.schedule(*(a.dtype for a in args))).splitlines()[1:]
    stencilc_s = timer.median(lambda: f(*args), cold=False)
    scipy_s = timer.median(lambda: case.scipy(x), cold=False)
    speedup = scipy_s / stencilc_s
    return {"case": case.name, "stencilc_s": stencilc_s, "scipy_s": scipy_s,
            "speedup": speedup, "goal": case.goal, "met": speedup >= case.goal,
            "same_values": _agrees(ours, theirs, case.exact), "compile_s": compile_s,
            "schedule": [line.strip() for line in schedule]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--output", type=Path, default=DOCS / "bench-windows.json")
    parser.add_argument("--only", help="run the cases whose name contains this text")
    args = parser.parse_args()
    timer = Timer(repeats=3 if args.quick else 7, min_seconds=0.2 if args.quick else 1.0)
    rows = []
    print(f"{'case':<22}{'stencilc':>11}{'scipy':>11}{'speed-up':>10}{'goal':>7}  values")
    for case in CASES:
        if args.only and args.only not in case.name:
            continue
        row = run_case(case, timer)
        rows.append(row)
        verdict = "PASS" if row["met"] else "FAIL"
        print(f"{row['case']:<22}{row['stencilc_s'] * 1e3:>9.1f}ms{row['scipy_s'] * 1e3:>9.1f}ms"
              f"{row['speedup']:>9.2f}x{row['goal']:>6.1f}x  "
              f"{'same' if row['same_values'] else 'DIFFERENT'}  {verdict}")
        for line in row["schedule"]:
            print(f"    {line}")
    if not all(r["same_values"] for r in rows):
        sys.exit("stencilc and scipy.ndimage disagree on some case: no figures written")
    record = {"machine": {"processor": cpu_model(),
                          "python": platform.python_version(), "cores_used": 1},
              "shape": list(SHAPE), "cases": rows}
    if not args.only:
        args.output.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
