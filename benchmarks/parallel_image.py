"""Why `target="parallel"` is or is not faster than `cpu` on one large image.

On one (8000, 4000) int8 image (the seed's 3x3 smooth), measured in this run:

* memory bandwidth: `np.copyto` (one thread), and a numba copy loop on 1 and on all threads,
  so the figure two cores *can* reach is known;
* the fixed cost of handing bands to threads (empty bands through the parallel target's
  thread pool, `stencilc.targets.bands`), which every split call pays;
* a compute-only loop (no memory traffic) on 1 and on all threads: what the cores themselves
  give, whatever the memory does;
* stencilc `parallel` held to one thread (`numba.set_num_threads(1)`, which it honours): the
  same compiled gufunc as `cpu`, so the ratio shows only the dispatch;
* stencilc `cpu` and `parallel`, cold (last-level cache flushed first) and warm.

Writes docs/bench-parallel-image.json.

    python benchmarks/parallel_image.py
"""
from __future__ import annotations

import json
import platform
from pathlib import Path

import numba
import numpy as np

from cpu_suite import DOCS, Timer, smooth   # the same timer and kernel as make bench
from stencilc import stencil_ufunc
from stencilc.demo import cpu_model
from stencilc.targets import bands

SHAPE = (8000, 4000)


@numba.njit(parallel=True)
def copy_threads(src, dst):
    for i in numba.prange(src.shape[0]):
        dst[i] = src[i]


@numba.njit
def copy_one_thread(src, dst):
    for i in range(src.shape[0]):
        dst[i] = src[i]


@numba.njit(parallel=True)
def compute_only(n):
    """Integer hashing with no memory traffic: how much two threads can gain at most."""
    total = 0
    for i in numba.prange(n):
        h = np.int64(i)   # prange indices are uint64 (numba #5801)
        for _ in range(64):
            h = (h * 1103515245 + 12345) & 0x7FFFFFFF
        total += h
    return total


def empty_bands(threads):
    """One empty band per thread through the parallel target's pool."""
    bands._run([lambda: None] * threads, threads)


def _one_thread(function, *args, **kwargs):
    numba.set_num_threads(1)
    try:
        return function(*args, **kwargs)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def main() -> None:
    timer = Timer(repeats=15, min_seconds=1.0)
    x = np.random.default_rng(0).integers(-128, 128, SHAPE).astype(np.int8)
    out = np.empty_like(x)
    cpu = stencil_ufunc("(n,m)->(n,m)")(smooth)
    parallel = stencil_ufunc("(n,m)->(n,m)", target="parallel")(smooth)
    assert np.array_equal(cpu(x), parallel(x))
    threads = numba.get_num_threads()
    calls = {
        "np.copyto (1 thread)": lambda: np.copyto(out, x),
        "numba copy, 1 thread": lambda: copy_one_thread(x, out),
        f"numba copy, {threads} threads": lambda: copy_threads(x, out),
        "empty bands (thread pool)": lambda: empty_bands(threads),
        "stencilc cpu": lambda: cpu(x, out=out),
        "stencilc parallel": lambda: parallel(x, out=out),
        "compute only, all threads": lambda: compute_only(2_000_000),
        "compute only, 1 thread": lambda: _one_thread(compute_only, 2_000_000),
        "stencilc parallel, 1 thread": lambda: _one_thread(parallel, x, out=out),
    }
    figures = {"machine": cpu_model(), "python": platform.python_version(),
               "numba": numba.__version__, "threading_layer": None, "threads": threads,
               "shape": list(SHAPE), "dtype": "int8", "cold_s": {}, "warm_s": {}}
    for name, call in calls.items():
        figures["cold_s"][name] = timer.median(call, cold=True)
        figures["warm_s"][name] = timer.median(call, cold=False)
        print(f"{name:28s} cold {figures['cold_s'][name] * 1e3:8.3f} ms   "
              f"warm {figures['warm_s'][name] * 1e3:8.3f} ms", flush=True)
    figures["threading_layer"] = numba.threading_layer()
    nbytes = 2 * x.nbytes   # read once, written once
    for regime in ("cold_s", "warm_s"):
        t = figures[regime]
        figures[regime.replace("_s", "_ratios")] = {
            "cpu_over_parallel": t["stencilc cpu"] / t["stencilc parallel"],
            "copy_1_over_copy_all": t["numba copy, 1 thread"] / t[f"numba copy, {threads} threads"],
            "parallel_over_copy_all": t["stencilc parallel"] / t[f"numba copy, {threads} threads"],
            "cpu_over_copy_1": t["stencilc cpu"] / t["numba copy, 1 thread"],
            "cpu_over_copyto": t["stencilc cpu"] / t["np.copyto (1 thread)"],
            "compute_1_over_compute_all": t["compute only, 1 thread"]
            / t["compute only, all threads"],
            "parallel_1_thread_over_cpu": t["stencilc parallel, 1 thread"] / t["stencilc cpu"],
            "copy_1_GBps": nbytes / t["numba copy, 1 thread"] / 1e9,
            "copy_all_GBps": nbytes / t[f"numba copy, {threads} threads"] / 1e9,
        }
        print(regime, json.dumps(figures[regime.replace("_s", "_ratios")], indent=1))
    Path(DOCS, "bench-parallel-image.json").write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
