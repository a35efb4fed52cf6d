"""stencilc.ndimage against scipy.ndimage, function by function, measured in the same run.

Every function runs the same call through both modules on a 2048x2048 float32 image and on a
(16, 1000, 1000) uint8 stack (filtered per image: ``axes=(1, 2)``), ``mode="reflect"``. Each
result is checked against scipy's first (bit for bit, except the float64-free moving means,
which are; see docs/ndimage.md), then both are timed: median of repeated calls, one thread
(the ``cpu`` target; scipy is single-threaded). ``generic_filter`` runs two functions on a
512x512 image against scipy with the Python function and with the LowLevelCallable recipe
users copy (the same function in a ``numba.cfunc``). Goals (issue 23): >= 1x for every function, >= 3x for the 3x3 and 5x5
ones and for generic_filter. Figures: docs/bench-ndimage.json, quoted in docs/performance.md.

    python benchmarks/ndimage.py [--quick] [--only TEXT] [--output docs/bench-ndimage.json]
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy.ndimage as ndi

from stencilc import ndimage as snd
from stencilc.demo import cpu_model

sys.path.insert(0, str(Path(__file__).parent))
from cpu_suite import Timer  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs"
rng = np.random.default_rng(3)
W3 = rng.standard_normal((3, 3))
W5 = rng.standard_normal((5, 5))
PLUS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)

#: (name, goal, call(module, x, axes)); a goal of 3 marks the 3x3 and 5x5 filters
CASES = [
    ("correlate 3x3", 3, lambda m, x, a: m.correlate(x, W3, axes=a)),
    ("correlate 5x5", 3, lambda m, x, a: m.correlate(x, W5, axes=a)),
    ("convolve 3x3", 3, lambda m, x, a: m.convolve(x, W3, axes=a)),
    ("correlate1d 5", 3, lambda m, x, a: m.correlate1d(x, [1, 4, 6, 4, 1], axis=-1)),
    ("convolve1d 5", 3, lambda m, x, a: m.convolve1d(x, [1, 2, 0, -2, -1], axis=-1)),
    ("uniform_filter 3", 3, lambda m, x, a: m.uniform_filter(x, 3, axes=a)),
    ("uniform_filter 5", 3, lambda m, x, a: m.uniform_filter(x, 5, axes=a)),
    ("uniform_filter 15", 1, lambda m, x, a: m.uniform_filter(x, 15, axes=a)),
    ("uniform_filter1d 5", 3, lambda m, x, a: m.uniform_filter1d(x, 5, axis=-1)),
    ("gaussian_filter 1", 1, lambda m, x, a: m.gaussian_filter(x, 1.0, axes=a)),
    ("gaussian_filter1d 2", 1, lambda m, x, a: m.gaussian_filter1d(x, 2.0, axis=-1)),
    ("sobel", 3, lambda m, x, a: m.sobel(x, axis=-1)),
    ("prewitt", 3, lambda m, x, a: m.prewitt(x, axis=-1)),
    ("laplace", 3, lambda m, x, a: m.laplace(x, axes=a)),
    ("gaussian_laplace 1", 1, lambda m, x, a: m.gaussian_laplace(x, 1.0, axes=a)),
    ("gaussian_gradient_magnitude 1", 1,
     lambda m, x, a: m.gaussian_gradient_magnitude(x, 1.0, axes=a)),
    ("minimum_filter 3", 3, lambda m, x, a: m.minimum_filter(x, 3, axes=a)),
    ("maximum_filter 5", 3, lambda m, x, a: m.maximum_filter(x, 5, axes=a)),
    ("minimum_filter 15", 1, lambda m, x, a: m.minimum_filter(x, 15, axes=a)),
    ("maximum_filter footprint", 3, lambda m, x, a: m.maximum_filter(x, footprint=PLUS, axes=a)),
    ("minimum_filter1d 5", 3, lambda m, x, a: m.minimum_filter1d(x, 5, axis=-1)),
    ("median_filter 3", 3, lambda m, x, a: m.median_filter(x, 3, axes=a)),
    ("median_filter 5", 3, lambda m, x, a: m.median_filter(x, 5, axes=a)),
    ("percentile_filter 3", 3, lambda m, x, a: m.percentile_filter(x, 25, size=3, axes=a)),
    ("rank_filter footprint", 3,
     lambda m, x, a: m.rank_filter(x, 1, footprint=PLUS, axes=a)),
]

INPUTS = {"2048x2048 float32": ((2048, 2048), "float32", None),
          "16x1000x1000 uint8": ((16, 1000, 1000), "uint8", (1, 2))}


def _input(shape, dtype) -> np.ndarray:
    if np.dtype(dtype).kind == "f":
        return rng.random(shape, dtype=np.float32) * 100
    return rng.integers(0, 256, shape, dtype=np.uint8)


def _agrees(ours, theirs) -> bool:
    ours = np.asarray(ours)
    if ours.dtype != theirs.dtype:
        return False
    return bool(np.array_equal(ours, theirs) or
                (ours.dtype.kind == "f" and np.allclose(ours, theirs, rtol=1e-6, atol=1e-5)))


def _lowlevel(function):
    """The LowLevelCallable recipe users copy: ``function`` compiled by numba, wrapped in a
    ``numba.cfunc`` with scipy's generic_filter signature."""
    import numba
    from numba import types
    from scipy import LowLevelCallable
    jitted = numba.njit(function)

    @numba.cfunc(types.intc(types.CPointer(types.float64), types.intp,
                            types.CPointer(types.float64), types.voidptr))
    def wrapped(values_ptr, n, result, user_data):
        result[0] = jitted(numba.carray(values_ptr, (n,), dtype=types.float64))
        return 1
    return LowLevelCallable(wrapped.ctypes,
                            signature="int (double *, npy_intp, double *, void *)")


def value_range(values):
    return values.max() - values.min()


def spread_about_centre(values):
    centre = values[values.size // 2]
    total = 0.0
    for v in values:
        total += (v - centre) * (v - centre)
    return total


def run(name, goal, call, x, axes, timer) -> dict:
    began = time.perf_counter()
    ours = call(snd, x, axes)
    first_s = time.perf_counter() - began
    same = _agrees(ours, call(ndi, x, axes))
    ours_s = timer.median(lambda: call(snd, x, axes), cold=False)
    theirs_s = timer.median(lambda: call(ndi, x, axes), cold=False)
    return {"case": name, "stencilc_s": ours_s, "scipy_s": theirs_s,
            "speedup": theirs_s / ours_s, "goal": goal, "met": theirs_s / ours_s >= goal,
            "same_values": same, "first_call_s": first_s}


def generic_rows(timer, quick: bool) -> list[dict]:
    """generic_filter with two functions (numba's array methods; a loop), each against scipy
    with the Python function (timed once: seconds a call) and with the LowLevelCallable."""
    x = _input((512, 512), "float32")
    rows = []
    for function in [value_range, spread_about_centre]:
        ours = snd.generic_filter(x, function, size=3)
        lowlevel = _lowlevel(function)
        same = _agrees(ours, ndi.generic_filter(x, function, size=3)) and \
            _agrees(ours, ndi.generic_filter(x, lowlevel, size=3))
        ours_s = timer.median(lambda: snd.generic_filter(x, function, size=3), cold=False)
        for label, scipy_function in [("Python", function), ("LowLevelCallable", lowlevel)]:
            if label == "Python":
                began = time.perf_counter()
                ndi.generic_filter(x, scipy_function, size=3)
                theirs_s = time.perf_counter() - began
            else:
                theirs_s = timer.median(lambda: ndi.generic_filter(x, scipy_function, size=3),
                                        cold=False)
            rows.append({"case": f"generic {function.__name__} vs {label}",
                         "stencilc_s": ours_s, "scipy_s": theirs_s,
                         "speedup": theirs_s / ours_s, "goal": 3,
                         "met": theirs_s / ours_s >= 3, "same_values": same,
                         "input": "512x512 float32"})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--only", help="run the cases whose name contains this text")
    parser.add_argument("--output", type=Path, default=DOCS / "bench-ndimage.json")
    args = parser.parse_args()
    timer = Timer(repeats=3 if args.quick else 5, min_seconds=0.1 if args.quick else 0.5)
    rows = []
    print(f"{'case':<34}{'stencilc':>11}{'scipy':>11}{'speed-up':>10}{'goal':>6}  values")

    def show(row):
        rows.append(row)
        print(f"{row['case']:<34}{row['stencilc_s'] * 1e3:>9.1f}ms{row['scipy_s'] * 1e3:>9.1f}ms"
              f"{row['speedup']:>9.2f}x{row['goal']:>5}x  "
              f"{'same' if row['same_values'] else 'DIFFERENT'}  "
              f"{'PASS' if row['met'] else 'FAIL'}", flush=True)
    for label, (shape, dtype, axes) in INPUTS.items():
        print(f"-- {label}")
        x = _input(shape, dtype)
        for name, goal, call in CASES:
            if args.only and args.only not in name:
                continue
            row = run(name, goal, call, x, axes, timer)
            row["input"] = label
            show(row)
    if not args.only or "generic" in args.only:
        print("-- 512x512 float32")
        for row in generic_rows(timer, args.quick):
            show(row)
    if not all(r["same_values"] for r in rows):
        sys.exit("stencilc.ndimage and scipy.ndimage disagree on some case: no figures written")
    record = {"machine": {"processor": cpu_model(), "python": platform.python_version(),
                          "cores_used": 1}, "cases": rows}
    if not args.only:
        args.output.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
