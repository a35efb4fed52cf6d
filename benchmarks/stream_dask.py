"""Streaming at scale: the seed smooth over a lazy (4000, 1000, 1000) int8 stack, reduced.

The stack (4 GB) is never materialized: each task makes its chunk, smooths it and sums it.
The baseline, measured in the same run, does the same per-chunk work (make, smooth with
NumPy-input stencilc, sum) in one thread. Prints throughput, the ratio and peak RSS, and
writes docs/bench-stream.json.

    python benchmarks/stream_dask.py [--images 4000]
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

import dask
import dask.array as da
import numpy as np
from dask.diagnostics import ProgressBar

from stencilc import stencil_ufunc


@stencil_ufunc("(n,m)->(n,m)")
def smooth(x):
    return (x[-1, -1] + x[-1, 0] + x[-1, 1] +
            x[0, -1] + x[0, 0] + x[0, 1] +
            x[1, -1] + x[1, 0] + x[1, 1]) // 9


_PATTERNS = np.random.default_rng(0).integers(-128, 128, (7, 1000, 1000), dtype=np.int8)


def make_chunk(k: int, size: int) -> np.ndarray:
    """A chunk of random-looking images at memcpy cost, so the stencil dominates the time."""
    chunk = np.empty((size, 1000, 1000), np.int8)
    for i in range(size):
        chunk[i] = _PATTERNS[(k * size + i) % 7]
    return chunk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--chunk", type=int, default=16)
    args = parser.parse_args()
    n_chunks = args.images // args.chunk
    smooth(make_chunk(0, 1))   # compile outside the timings

    start = time.perf_counter()
    serial = 0
    for k in range(n_chunks):
        serial += int(smooth(make_chunk(k, args.chunk)).sum(dtype=np.int64))
    serial_s = time.perf_counter() - start

    blocks = [da.from_delayed(dask.delayed(make_chunk)(k, args.chunk),
                              shape=(args.chunk, 1000, 1000), dtype=np.int8)
              for k in range(n_chunks)]
    stack = da.concatenate(blocks)
    total = smooth(stack).sum(dtype=np.int64)
    start = time.perf_counter()
    with ProgressBar(dt=2.0):
        lazy_total = int(total.compute(scheduler="threads"))
    dask_s = time.perf_counter() - start
    assert lazy_total == serial, (lazy_total, serial)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gb = args.images * 1e6 / 1e9
    figures = {
        "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores",
        "images": args.images, "stack_gb": gb,
        "serial_numpy_stencilc_s": serial_s, "dask_threads_s": dask_s,
        "serial_gb_per_s": gb / serial_s, "dask_gb_per_s": gb / dask_s,
        "speedup_vs_serial": serial_s / dask_s, "peak_rss_mb": peak_mb,
    }
    print(json.dumps(figures, indent=2))
    Path(__file__).resolve().parents[1].joinpath("docs", "bench-stream.json").write_text(
        json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
