"""Steady-state CPU speed: stencilc `cpu` and `parallel` against the seed, scipy.ndimage, a
hand-written numba loop and `np.copyto` (the memory roofline), all measured in this run.

Every contender writes into a preallocated output of the case's shape, and is checked to give
the same numbers as stencilc (integers bit for bit; floats to float32 rounding, since scipy
sums in another order). Each timing is the median of several calls. Two regimes:

* ``cold`` (the headline): a buffer twice the size of the last-level cache is written before
  every call, so inputs and outputs come from memory, as when a pipeline streams large stacks;
* ``warm``: back-to-back calls, data in cache where it fits.

Writes docs/bench-cpu.json; `benchmarks/plot.py` draws docs/bench-cpu.png from it.

    python benchmarks/cpu_suite.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numba
import numpy as np
from scipy import ndimage

from stencilc import stencil_ufunc
from stencilc.demo import cpu_model

DOCS = Path(__file__).resolve().parents[1] / "docs"


# --- the kernels, written once for stencilc -------------------------------------------------

def smooth(x):
    return (x[-1, -1] + x[-1, 0] + x[-1, 1] +
            x[0, -1] + x[0, 0] + x[0, 1] +
            x[1, -1] + x[1, 0] + x[1, 1]) // 9


def mean3(x):
    return (x[-1, -1] + x[-1, 0] + x[-1, 1] +
            x[0, -1] + x[0, 0] + x[0, 1] +
            x[1, -1] + x[1, 0] + x[1, 1]) / 9


BINOMIAL = np.array([1, 4, 6, 4, 1], np.float32) / 16
GAUSS5 = np.outer(BINOMIAL, BINOMIAL).astype(np.float32)


def gauss5(x):
    acc = 0.0
    for a in range(-2, 3):
        for b in range(-2, 3):
            acc += GAUSS5[a + 2, b + 2] * x[a, b]
    return acc


def laplace7(u):
    return (u[-1, 0, 0] + u[1, 0, 0] + u[0, -1, 0] + u[0, 1, 0] +
            u[0, 0, -1] + u[0, 0, 1] - 6 * u[0, 0, 0])


# --- the seed of the reference post (numba.stencil inside guvectorize) ----------------------

@numba.stencil
def _seed_stencil(x):
    return (x[-1, -1] + x[-1, 0] + x[-1, 1] +
            x[0, -1] + x[0, 0] + x[0, 1] +
            x[1, -1] + x[1, 0] + x[1, 1]) // 9


@numba.guvectorize([(numba.int8[:, :], numba.int8[:, :])], "(n, m) -> (n, m)")
def seed_smooth(x, out):
    out[:] = _seed_stencil(x)


# --- hand-written numba loops: what a person writes in a few minutes -------------------------

@numba.njit
def hand_smooth(x, out):
    out[:] = 0
    for k in range(x.shape[0]):
        for i in range(1, x.shape[1] - 1):
            for j in range(1, x.shape[2] - 1):
                out[k, i, j] = (x[k, i - 1, j - 1] + x[k, i - 1, j] + x[k, i - 1, j + 1] +
                                x[k, i, j - 1] + x[k, i, j] + x[k, i, j + 1] +
                                x[k, i + 1, j - 1] + x[k, i + 1, j] + x[k, i + 1, j + 1]) // 9


@numba.njit
def _reflect(i, n):
    if i < 0:
        return -i - 1
    if i >= n:
        return 2 * n - i - 1
    return i


@numba.njit
def hand_mean3(x, out):
    n, m = x.shape[1], x.shape[2]
    for k in range(x.shape[0]):
        for i in range(n):
            for j in range(m):
                acc = x.dtype.type(0)
                for a in range(-1, 2):
                    for b in range(-1, 2):
                        acc += x[k, _reflect(i + a, n), _reflect(j + b, m)]
                out[k, i, j] = acc / 9


@numba.njit
def hand_gauss5(x, out, weights):
    n, m = x.shape[1], x.shape[2]
    for k in range(x.shape[0]):
        for i in range(n):
            for j in range(m):
                acc = 0.0
                for a in range(-2, 3):
                    for b in range(-2, 3):
                        acc += weights[a + 2, b + 2] * \
                            x[k, min(max(i + a, 0), n - 1), min(max(j + b, 0), m - 1)]
                out[k, i, j] = acc


@numba.njit
def hand_laplace7(u, out):
    n0, n1, n2 = u.shape
    for i in range(n0):
        im, ip = max(i - 1, 0), min(i + 1, n0 - 1)
        for j in range(n1):
            jm, jp = max(j - 1, 0), min(j + 1, n1 - 1)
            for k in range(n2):
                km, kp = max(k - 1, 0), min(k + 1, n2 - 1)
                out[i, j, k] = (u[im, j, k] + u[ip, j, k] + u[i, jm, k] + u[i, jp, k] +
                                u[i, j, km] + u[i, j, kp] - 6 * u[i, j, k])


# --- scipy.ndimage calls that give the same numbers -----------------------------------------

def _zero_border(r: np.ndarray) -> np.ndarray:
    r[..., [0, -1], :] = 0
    r[..., :, [0, -1]] = 0
    return r


def scipy_smooth_correlate(x, out):
    total = ndimage.correlate(x.astype(np.int16), np.ones((1, 3, 3), np.int16), mode="constant")
    np.copyto(out, _zero_border(total // 9).astype(np.int8, casting="unsafe"))


def scipy_smooth_uniform(x, out):
    total = np.rint(ndimage.uniform_filter(x.astype(np.float64), (1, 3, 3), mode="constant") * 9)
    quotient = (total // 9).astype(np.int16)
    np.copyto(out, _zero_border(quotient).astype(np.int8, casting="unsafe"))


CASES_SCIPY = {
    "smooth": {"correlate": scipy_smooth_correlate, "uniform_filter": scipy_smooth_uniform},
    "mean3": {
        "uniform_filter": lambda x, out: ndimage.uniform_filter(x, (1, 3, 3), out, mode="reflect"),
        "correlate": lambda x, out: ndimage.correlate(
            x, np.full((1, 3, 3), 1 / 9, np.float64), out, mode="reflect"),
    },
    "gauss5": {
        "correlate": lambda x, out: ndimage.correlate(x, GAUSS5[None], out, mode="nearest"),
        "correlate1d x2": lambda x, out: ndimage.correlate1d(
            ndimage.correlate1d(x, BINOMIAL, axis=1, mode="nearest"), BINOMIAL, axis=2,
            output=out, mode="nearest"),
    },
    "laplace7": {
        "laplace": lambda u, out: ndimage.laplace(u, out, mode="nearest"),
        "correlate": lambda u, out: ndimage.correlate(u, _LAPLACE_WEIGHTS, out, mode="nearest"),
    },
}
def _laplace_weights() -> np.ndarray:
    weights = np.zeros((3, 3, 3))
    weights[1, 1, 1] = -6
    for axis in range(3):
        for side in (0, 2):
            index = [1, 1, 1]
            index[axis] = side
            weights[tuple(index)] = 1
    return weights


_LAPLACE_WEIGHTS = _laplace_weights()


# --- the cases -------------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    title: str
    kernel: Callable
    layout: str
    boundary: str | None
    make_input: Callable[[np.random.Generator], np.ndarray]
    seed: Callable | None = None
    hand: Callable | None = None
    scipy: dict[str, Callable] = field(default_factory=dict)


def _int8_stack(rng):
    return rng.integers(-128, 128, (16, 1000, 1000), dtype=np.int8)


def _float32_stack(rng):
    return rng.standard_normal((16, 1000, 1000), dtype=np.float32)


CASES = [
    Case("smooth", "int8 3x3 smooth (16, 1000, 1000), seed border", smooth, "(n,m)->(n,m)",
         None, _int8_stack, seed=seed_smooth, hand=hand_smooth, scipy=CASES_SCIPY["smooth"]),
    Case("mean3", "float32 3x3 mean (16, 1000, 1000), reflect", mean3, "(n,m)->(n,m)",
         "reflect", _float32_stack, hand=hand_mean3, scipy=CASES_SCIPY["mean3"]),
    Case("gauss5", "float32 5x5 Gaussian (16, 1000, 1000), nearest", gauss5, "(n,m)->(n,m)",
         "nearest", _float32_stack, hand=lambda x, out: hand_gauss5(x, out, GAUSS5),
         scipy=CASES_SCIPY["gauss5"]),
    Case("laplace7", "float64 7-point 3-D Laplacian 256^3, nearest", laplace7,
         "(n,m,p)->(n,m,p)", "nearest", lambda rng: rng.standard_normal((256, 256, 256)),
         hand=hand_laplace7, scipy=CASES_SCIPY["laplace7"]),
    Case("smooth_image", "int8 3x3 smooth, one (8000, 4000) image, seed border", smooth,
         "(n,m)->(n,m)", None, lambda rng: rng.integers(-128, 128, (8000, 4000), np.int8)),
]


# --- timing ----------------------------------------------------------------------------------

def last_level_cache_bytes() -> int:
    sizes = []
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            text = (index / "size").read_text().strip()
        except OSError:
            continue
        scale = {"K": 2**10, "M": 2**20}.get(text[-1], 1)
        sizes.append(int(text.rstrip("KM")) * scale)
    return max(sizes, default=32 * 2**20)


class Timer:
    def __init__(self, repeats: int, min_seconds: float):
        self.repeats = repeats
        self.min_seconds = min_seconds
        self._flush = np.zeros(2 * last_level_cache_bytes() // 8)

    def median(self, call: Callable[[], object], cold: bool) -> float:
        call()   # compile, fault pages in
        times: list[float] = []
        started = time.perf_counter()
        while len(times) < self.repeats or time.perf_counter() - started < self.min_seconds:
            if cold:
                np.add(self._flush, 1.0, out=self._flush)
            begin = time.perf_counter()
            call()
            times.append(time.perf_counter() - begin)
            if len(times) >= 200:
                break
        return statistics.median(times)

    def paired(self, first: Callable[[], object], second: Callable[[], object],
               cold: bool) -> tuple[float, float, float]:
        """Medians of ``first`` and ``second`` timed in turn (A, B, A, B, ...), and the median of
        each pair's ratio first/second. Pairs run a few milliseconds apart, so a change in the
        host's load between two blocks of repeats does not land on one side only."""
        first(), second()   # compile, fault pages in
        pairs: list[tuple[float, float]] = []
        started = time.perf_counter()
        while len(pairs) < self.repeats or time.perf_counter() - started < self.min_seconds:
            pair = []
            for call in (first, second) if len(pairs) % 2 == 0 else (second, first):
                if cold:
                    np.add(self._flush, 1.0, out=self._flush)
                begin = time.perf_counter()
                call()
                pair.append(time.perf_counter() - begin)
            pairs.append(tuple(pair) if len(pairs) % 2 == 0 else tuple(reversed(pair)))
            if len(pairs) >= 200:
                break
        return (statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs),
                statistics.median(a / b for a, b in pairs))


def _same_numbers(result: np.ndarray, reference: np.ndarray) -> tuple[bool, float]:
    if reference.dtype.kind in "iub":
        return bool(np.array_equal(result, reference)), 0.0
    scale = float(np.max(np.abs(reference))) or 1.0
    worst = float(np.max(np.abs(result.astype(np.float64) - reference))) / scale
    return worst <= 8 * float(np.finfo(np.float32).eps), worst


def run_case(case: Case, timer: Timer) -> dict:
    rng = np.random.default_rng(0)
    x = case.make_input(rng)
    cpu = stencil_ufunc(case.layout, boundary=case.boundary)(case.kernel)
    parallel = stencil_ufunc(case.layout, boundary=case.boundary, target="parallel")(case.kernel)
    reference = cpu(x)
    out = np.empty_like(reference)
    contenders: dict[str, tuple[str, Callable]] = {
        "copy": ("roofline", lambda: np.copyto(out, x)),
        "stencilc cpu": ("stencilc", lambda: cpu(x, out=out)),
        "stencilc parallel": ("stencilc", lambda: parallel(x, out=out)),
    }
    if case.seed is not None:
        contenders["seed"] = ("seed", lambda: case.seed(x, out))
    if case.hand is not None:
        contenders["hand numba loop"] = ("hand", lambda: case.hand(x, out))
    for name, function in case.scipy.items():
        contenders[f"scipy {name}"] = ("scipy", lambda f=function: f(x, out))

    figures = {"title": case.title, "shape": list(x.shape), "dtype": x.dtype.name,
               "boundary": case.boundary, "contenders": {}}
    for name, (kind, call) in contenders.items():
        out[...] = 0
        call()
        same, error = (True, 0.0) if kind == "roofline" else _same_numbers(out, reference)
        entry = {"kind": kind, "same_numbers": same, "max_rel_error": error,
                 "cold_s": timer.median(call, cold=True),
                 "warm_s": timer.median(call, cold=False)}
        figures["contenders"][name] = entry
        print(f"  {name:22s} cold {entry['cold_s'] * 1e3:9.2f} ms   warm "
              f"{entry['warm_s'] * 1e3:9.2f} ms   same numbers: {same}", flush=True)
    return figures


def ratios(figures: dict) -> dict:
    """The issue's goals, as ratios of cold medians measured in this run."""
    c = figures["contenders"]
    cpu, par, copy = (c[k]["cold_s"] for k in ("stencilc cpu", "stencilc parallel", "copy"))
    scipy = [v["cold_s"] for k, v in c.items() if v["kind"] == "scipy" and v["same_numbers"]]
    found = {"cpu_over_copy": cpu / copy, "parallel_over_copy": par / copy,
             "cpu_over_parallel": cpu / par}
    if scipy:
        found["fastest_scipy_over_best_stencilc"] = min(scipy) / min(cpu, par)
        found["fastest_scipy_over_cpu"] = min(scipy) / cpu
    if "seed" in c:
        found["seed_over_cpu"] = c["seed"]["cold_s"] / cpu
    if "hand numba loop" in c:
        found["hand_over_cpu"] = c["hand numba loop"]["cold_s"] / cpu
    return found


def bench_options(doc: str, output: str, repeats: int, min_seconds: float
                  ) -> tuple[argparse.Namespace, Timer]:
    """The command line every timing benchmark shares (``--quick``: a smoke run, fewer
    repeats; ``--output``: its JSON, ``docs/<output>`` by default) and its timer."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--output", type=Path, default=DOCS / output)
    args = parser.parse_args()
    timer = Timer(repeats=3 if args.quick else repeats,
                  min_seconds=0.0 if args.quick else min_seconds)
    return args, timer


def main() -> None:
    args, timer = bench_options(__doc__, "bench-cpu.json", repeats=9, min_seconds=0.5)
    results = {"machine": f"{platform.machine()} {platform.processor() or ''}".strip()
               + f", {len(os.sched_getaffinity(0))} cores",
               "cpu_model": cpu_model(), "numba_threads": numba.get_num_threads(),
               "numba_threading_layer": None, "versions": _versions(), "cases": {}}
    for case in CASES:
        print(case.title, flush=True)
        figures = run_case(case, timer)
        figures["ratios"] = ratios(figures)
        results["cases"][case.name] = figures
        print("  " + ", ".join(f"{k} {v:.2f}" for k, v in figures["ratios"].items()), flush=True)
    results["numba_threading_layer"] = numba.threading_layer()
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.output}")


def _versions() -> dict[str, str]:
    import scipy
    import stencilc
    return {"python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "scipy": scipy.__version__,
            "stencilc": stencilc.__version__}


if __name__ == "__main__":
    main()
