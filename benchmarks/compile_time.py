"""Compile time, measured in one run (issue 14's baseline and goals):

* cold disk cache: the first call of a k x k weighted window (k = 3, 5, 7, 10; weights a
  global table, so every tap is unrolled), on a NumPy image, then the first call on a chunked
  Dask array of it, for the ``cpu`` and ``parallel`` targets; each case in a fresh interpreter with an empty cache folder;
* warm cache: the same first NumPy call again in a new process (the cache filled), against the
  numba floor (import numba, load one trivial cached function) from benchmarks/first_call.py;
* ``--unroll``: the unrolling budget's evidence instead (stencilc.passes.UNROLL_BUDGET): the
  same windows with the budget as shipped and with every loop unrolled, cold compile (cache
  off) and run time on a 2048x2048 float32 image, and whether the numbers are bit-identical.

Writes docs/bench-compile-time.json (``--unroll``: docs/bench-unroll.json).

    python benchmarks/compile_time.py [--sizes 3 5 7 10] [--unroll]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from first_call import NUMBA_FLOOR, PRELUDE, bytecode_env, run  # noqa: E402

#: the k x k weighted window every case compiles (the weights a global table)
WINDOW = """
W = np.arange({k} * {k}, dtype=np.float32).reshape({k}, {k}) / {k}**2

def window(x):
    acc = np.float32(0)
    for i in range({lo}, {hi}):
        for j in range({lo}, {hi}):
            acc += W[i - ({lo}), j - ({lo})] * x[i, j]
    return acc
"""

CASE = PRELUDE + """
from stencilc import stencil_ufunc
{window}
window = stencil_ufunc(boundary="nearest", target="{target}")(window)

x = np.random.default_rng(0).random((512, 512)).astype(np.float32)
{preimport}
t0 = time.perf_counter()
window(x)
t1 = time.perf_counter()
{dask}
t2 = time.perf_counter()
print(t1 - t0, t2 - t1, t1 - start)
"""
DASK_CALL = "window(da.from_array(x, chunks=(256, 256))).compute()"
# dask is imported (untimed) only where it is used: its import alone (~0.9 s) would hide the
# warm first call, which the floor is measured against
DASK_IMPORT = "import dask.array as da"


def window_source(k: int) -> str:
    lo = -(k // 2)
    return WINDOW.format(k=k, lo=lo, hi=lo + k)


def case_script(k: int, target: str, dask: bool) -> str:
    return CASE.format(window=window_source(k), target=target,
                       dask=DASK_CALL if dask else "", preimport=DASK_IMPORT if dask else "")


def run_all(script: str, folder: Path, env: dict, name: str) -> list[float]:
    path = folder / f"{name}.py"
    path.write_text(script)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env,
                          check=True)
    return [float(v) for v in done.stdout.split()[-3:]]


UNROLL_CASE = """
import hashlib, statistics, sys, time
import numpy as np
import stencilc.passes
if "{mode}" == "all unrolled":
    stencilc.passes.UNROLL_BUDGET = 10**6
elif "{mode}" == "all rolled":
    stencilc.passes.MAX_TRIP_COUNT = 0
from stencilc import stencil_ufunc
{window}
f = stencil_ufunc(boundary="nearest", cache=False)(window)
x = np.random.default_rng(0).random((2048, 2048)).astype(np.float32)
t0 = time.perf_counter()
f(x[:16, :16])
compile_s = time.perf_counter() - t0
out = f(x)
times = []
for _ in range(7):
    t0 = time.perf_counter()
    f(x, out=out)
    times.append(time.perf_counter() - t0)
print(hashlib.sha256(out.tobytes()).hexdigest()[:16], compile_s, statistics.median(times))
"""


UNROLL_MODES = ("as shipped", "all unrolled", "all rolled")


def unroll_evidence(sizes: list[int], folder: Path) -> list[dict]:
    """Compile and run time of k x k windows: the budget as shipped, every loop unrolled, and
    every loop kept."""
    rows = []
    for k in sizes:
        found = {}
        for number, label in enumerate(UNROLL_MODES):
            script = folder / f"unroll{k}_{number}.py"
            script.write_text(UNROLL_CASE.format(window=window_source(k), mode=label))
            done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                                  check=True, env=bytecode_env(os.environ))
            digest, compile_s, run_s = done.stdout.split()[-3:]
            found[label] = {"compile_s": float(compile_s), "run_s": float(run_s),
                            "digest": digest}
        row = {"window": f"{k}x{k}", **found,
               "bit_identical": len({v["digest"] for v in found.values()}) == 1}
        rows.append(row)
        print(f"{k}x{k}: " + "; ".join(f"{label} compile {v['compile_s']:.2f} s, run "
                                       f"{v['run_s'] * 1e3:.1f} ms" for label, v in found.items())
              + f"; bit-identical {row['bit_identical']}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 5, 7, 10])
    parser.add_argument("--unroll", action="store_true",
                        help="the unrolling budget's evidence instead (see the docstring)")
    args = parser.parse_args(argv)
    if args.unroll:
        with tempfile.TemporaryDirectory() as tmp:
            rows = unroll_evidence(args.sizes, Path(tmp))
        figures = {"machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
                   "image": "2048x2048 float32, boundary='nearest'", "cases": rows}
        Path(__file__).resolve().parents[1].joinpath("docs", "bench-unroll.json").write_text(
            json.dumps(figures, indent=2) + "\n")
        return
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for k in args.sizes:
            for target in ("cpu", "parallel"):
                name = f"window{k}_{target}"
                env = dict(bytecode_env(os.environ),
                           STENCILC_CACHE_DIR=str(folder / f"cache_{name}"))
                numpy_s, dask_s, _ = run_all(case_script(k, target, True), folder, env, name)
                _, _, warm_s = run_all(case_script(k, target, False), folder, env, name)
                results.append({"taps": k * k, "window": f"{k}x{k}", "target": target,
                                "cold_first_numpy_call_s": numpy_s,
                                "then_first_dask_call_s": dask_s,
                                "warm_first_call_in_new_process_s": warm_s})
                print(f"{k}x{k} {target:<8} cold numpy {numpy_s:6.2f} s, then dask "
                      f"{dask_s:6.2f} s; warm new process {warm_s:5.2f} s", flush=True)
        env = bytecode_env(os.environ)
        run(NUMBA_FLOOR, folder, env, "floor")
        floor = run(NUMBA_FLOOR, folder, env, "floor")
    print(f"numba floor (import numba, load one cached function): {floor:.2f} s")
    figures = {"machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
               "cases": results, "numba_floor_s": floor}
    Path(__file__).resolve().parents[1].joinpath("docs", "bench-compile-time.json").write_text(
        json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
