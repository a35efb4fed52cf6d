"""Time stepping: ``f.iterate`` against the plain loop of single stencilc calls, in one run.

CPU cases (targets ``cpu`` and ``parallel``), each also against ``np.copyto`` of the state
once per step (the memory roofline of a step that streams the array):

* 2-D heat, 5-point, float32, 4096x4096, ``nearest``, 100 steps;
* Game of Life, uint8, 4096x4096, ``wrap``, 100 steps;
* 3-D 7-point Laplacian step, float64, 256^3, ``nearest``, 20 steps.

Dask: 2-D heat on 8192x8192 float32 in 1024x1024 chunks, 100 steps, ``iterate`` against the
loop of single calls on the Dask array: wall time of ``.compute()`` and the graph's task
count. Every result is checked bit for bit against the loop's. CPU times are medians of
three runs; the Dask ones single runs.

The size sweep (issue 24): heat and Life at 256² to 8192², the 3-D Laplacian at 64³ to 256³,
both CPU targets, quiet and with a second process spinning on one core, the loop and iterate
timed in turn (five pairs; a speed-up is the median of the pairs' ratios); it prints issue 24's
goals as PASS/FAIL lines for this run (iterate never slower than the loop; 2-D heat >= 2x
past the last-level cache; bit for bit).

Writes docs/bench-iterate.json and docs/bench-iterate.png (speed-up against state size).

    python benchmarks/iterate.py              # everything (about 12 minutes on 2 cores)
    python benchmarks/iterate.py --sweep-only # the size sweep and its plot
    python benchmarks/iterate.py --quick      # small sizes: a smoke run
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import numba
import numpy as np

from stencilc import stencil_ufunc
from stencilc.demo import busy_core, cpu_model
from stencilc.stepping.plan import cache_bytes

DOCS = Path(__file__).resolve().parents[1] / "docs"
#: CPU cases are timed this many times (median): single runs on a shared VM spread by 30 %+
REPEATS = 3
#: the sweep times the loop and iterate in turn this many times; its speed-ups are the medians
#: of the pairs' ratios
SWEEP_REPEATS = 5


def heat_kernel(target: str):
    @stencil_ufunc(boundary="nearest", target=target)
    def heat(u, alpha):
        return u[0, 0] + alpha * (u[-1, 0] + u[1, 0] + u[0, -1] + u[0, 1] - 4 * u[0, 0])
    return heat


def life_kernel(target: str):
    @stencil_ufunc(boundary="wrap", target=target)
    def life(x):
        n = (x[-1, -1] + x[-1, 0] + x[-1, 1] + x[0, -1] + x[0, 1] +
             x[1, -1] + x[1, 0] + x[1, 1])
        return 1 if n == 3 or (n == 2 and x[0, 0] == 1) else 0
    return life


def laplace3d_kernel(target: str):
    @stencil_ufunc(boundary="nearest", target=target)
    def laplace3d(u, alpha):
        return u[0, 0, 0] + alpha * (u[-1, 0, 0] + u[1, 0, 0] + u[0, -1, 0] + u[0, 1, 0] +
                                     u[0, 0, -1] + u[0, 0, 1] - 6 * u[0, 0, 0])
    return laplace3d


def cases(quick: bool):
    rng = np.random.default_rng(0)
    n2, n3 = (512, 64) if quick else (4096, 256)
    return [
        ("heat 2-D float32", heat_kernel, (rng.random((n2, n2), dtype=np.float32),
                                           np.float32(0.1)), 20 if quick else 100),
        ("Life uint8 wrap", life_kernel, ((rng.random((n2, n2)) < 0.3).astype(np.uint8),),
         20 if quick else 100),
        ("Laplacian 3-D float64", laplace3d_kernel, (rng.random((n3, n3, n3)), 0.1),
         5 if quick else 20),
    ]


def timed(call: Callable[[], object], repeats: int = 1) -> tuple[float, object]:
    """The median wall time of ``repeats`` calls, and the last call's result."""
    times = []
    for _ in range(repeats):
        begin = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - begin)
    return statistics.median(times), result


def timed_in_turn(first: Callable[[], object], second: Callable[[], object],
                  repeats: int) -> tuple[float, float, float, object, object]:
    """``first`` and ``second`` timed in turn (A B, B A, A B, ...): their median times, the median
    of the pairs' ratios first/second, and each one's last result. The two sides of a pair run
    back to back, so a change in a shared host's load lands on both, not on one block."""
    pairs, results = [], [None, None]
    for r in range(repeats):
        pair = [0.0, 0.0]
        for k in ((0, 1) if r % 2 == 0 else (1, 0)):
            begin = time.perf_counter()
            results[k] = (first, second)[k]()
            pair[k] = time.perf_counter() - begin
        pairs.append(pair)
    return (statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs),
            statistics.median(a / b for a, b in pairs), results[0], results[1])


def loop(f, args, steps: int):
    state = args[0]
    for _ in range(steps):
        state = f(state, *args[1:])
    return state


def copies(state: np.ndarray, steps: int) -> None:
    buffer = np.empty_like(state)
    for _ in range(steps):
        np.copyto(buffer, state)


def warm_up(f, args) -> None:
    """Compile both paths on a small corner of the arguments (not timed)."""
    small = [a[(slice(0, 16),) * a.ndim] if np.ndim(a) else a for a in args]
    f(*small)
    f.iterate(*small, steps=2)


def run_cpu(quick: bool) -> list[dict]:
    rows = []
    for name, make, args, steps in cases(quick):
        for target in ("cpu", "parallel"):
            f = make(target)
            warm_up(f, args)
            copy_s, _ = timed(lambda: copies(args[0], steps), REPEATS)
            loop_s, expected = timed(lambda: loop(f, args, steps), REPEATS)
            iterate_s, result = timed(lambda: f.iterate(*args, steps=steps), REPEATS)
            row = {"case": name, "target": target, "shape": list(args[0].shape),
                   "steps": steps, "loop_s": loop_s, "iterate_s": iterate_s,
                   "copyto_s": copy_s, "speedup_vs_loop": loop_s / iterate_s,
                   "step_vs_copy": iterate_s / copy_s,
                   "bit_identical": bool(np.array_equal(result, expected))}
            rows.append(row)
            print(f"{name:24s} {target:8s} loop {loop_s:6.2f} s  iterate {iterate_s:6.2f} s  "
                  f"({row['speedup_vs_loop']:.2f}x)  copyto x{steps} {copy_s:5.2f} s  "
                  f"identical {row['bit_identical']}", flush=True)
    return rows


def run_dask(quick: bool) -> dict:
    import dask
    import dask.array as da

    n, chunk, steps = (2048, 256, 20) if quick else (8192, 1024, 100)
    heat = heat_kernel("cpu")
    u0 = np.random.default_rng(1).random((n, n), dtype=np.float32)
    alpha = np.float32(0.1)
    warm_up(heat, (u0, alpha))
    state = da.from_array(u0, chunks=chunk)
    looped = loop(heat, (state, alpha), steps)
    iterated = heat.iterate(state, alpha, steps=steps)
    with dask.config.set(scheduler="threads"):
        loop_s, expected = timed(looped.compute)
        iterate_s, result = timed(iterated.compute)
    row = {"case": f"Dask heat 2-D float32 {n}x{n} in {chunk}x{chunk} chunks", "steps": steps,
           "loop_s": loop_s, "iterate_s": iterate_s, "speedup_vs_loop": loop_s / iterate_s,
           "loop_tasks": len(looped.__dask_graph__()),
           "iterate_tasks": len(iterated.__dask_graph__()),
           "bit_identical": bool(np.array_equal(result, expected))}
    row["fewer_tasks"] = row["loop_tasks"] / row["iterate_tasks"]
    print(f"{row['case']}: loop {loop_s:.2f} s ({row['loop_tasks']} tasks)  iterate "
          f"{iterate_s:.2f} s ({row['iterate_tasks']} tasks)  {row['speedup_vs_loop']:.2f}x "
          f"faster, {row['fewer_tasks']:.0f}x fewer tasks, identical {row['bit_identical']}")
    return row


SWEEP_2D = (256, 1024, 2048, 4096, 8192)
SWEEP_3D = (64, 128, 256)
#: fewest steps of a 2-D sweep case. A run pays a fixed cost besides its steps: two buffers'
#: first page faults (on this project's VMs 25-650 ms for 2 x 256 MiB, as the host's memory
#: allows) and one plain step that times the choice; under 16 steps of 8192² heat that was
#: half of what tiles save (1.4-1.7x the loop, against 2.1-2.3x from 64 steps: docs/iterate.md)
#: and says more about the host's page faults than about tiles. Time stepping runs hundreds.
MIN_STEPS_2D = 64


def sweep_cases(quick: bool):
    """The size sweep of issue 24: every case at every size, steps chosen so that a loop runs
    a fraction of a second, 2-D runs at least :data:`MIN_STEPS_2D` steps (3-D: 16)."""
    rng = np.random.default_rng(2)
    sizes_2d, sizes_3d = ((256, 512), (32, 64)) if quick else (SWEEP_2D, SWEEP_3D)
    for n in sizes_2d:
        steps = max(MIN_STEPS_2D, min(400, int(4e8 / n**2)))
        yield "heat 2-D float32", heat_kernel, (rng.random((n, n), dtype=np.float32),
                                                np.float32(0.1)), steps
        yield "Life uint8 wrap", life_kernel, ((rng.random((n, n)) < 0.3).astype(np.uint8),), \
            steps
    for n in sizes_3d:
        steps = max(16, min(200, int(1e8 / n**3)))
        yield "Laplacian 3-D float64", laplace3d_kernel, (rng.random((n, n, n)), 0.1), steps


def run_sweep(quick: bool, busy: bool) -> list[dict]:
    """iterate / loop for every size, both CPU targets; with ``busy``, a second process spins
    on one core all the while (a shared host)."""
    rows = []
    with busy_core(busy):
        for name, make, args, steps in sweep_cases(quick):
            for target in ("cpu", "parallel"):
                f = make(target)
                warm_up(f, args)
                loop_s, iterate_s, speedup, expected, result = timed_in_turn(
                    lambda: loop(f, args, steps), lambda: f.iterate(*args, steps=steps),
                    SWEEP_REPEATS)
                row = {"case": name, "target": target, "busy": busy,
                       "shape": list(args[0].shape), "state_bytes": int(args[0].nbytes),
                       "steps": steps, "loop_s": loop_s, "iterate_s": iterate_s,
                       "speedup_vs_loop": speedup,
                       "bit_identical": bool(np.array_equal(result, expected))}
                rows.append(row)
                print(f"{'busy ' if busy else 'quiet'} {name:22s} {str(row['shape']):16s} "
                      f"{target:8s} x{steps:<4d} loop {loop_s:6.3f} s  iterate "
                      f"{iterate_s:6.3f} s  {row['speedup_vs_loop']:5.2f}x  identical "
                      f"{row['bit_identical']}", flush=True)
    return rows


def sweep_goals(rows: list[dict], last_level_cache: int) -> list[str]:
    """Issue 24's goals, checked on this run's sweep: one line each, PASS or FAIL."""
    slowest = min(rows, key=lambda r: r["speedup_vs_loop"])
    big_heat = [r for r in rows if r["case"].startswith("heat")
                and r["state_bytes"] > last_level_cache]
    lines = [f"{'PASS' if slowest['speedup_vs_loop'] >= 1.0 else 'FAIL'} iterate >= loop "
             f"everywhere: slowest {slowest['speedup_vs_loop']:.2f}x ({slowest['case']} "
             f"{slowest['shape']} {slowest['target']}{' busy' if slowest['busy'] else ''})"]
    if big_heat:
        least = min(big_heat, key=lambda r: r["speedup_vs_loop"])
        lines.append(f"{'PASS' if least['speedup_vs_loop'] >= 2.0 else 'FAIL'} 2-D heat "
                     f">= 2x the loop past the last-level cache: least "
                     f"{least['speedup_vs_loop']:.2f}x ({least['shape']} {least['target']}"
                     f"{' busy' if least['busy'] else ''})")
    lines.append(f"{'PASS' if all(r['bit_identical'] for r in rows) else 'FAIL'} bit for bit")
    return lines


def plot_sweep(rows: list[dict], last_level_cache: int, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5))
    for case in dict.fromkeys(r["case"] for r in rows):
        for target, colour in (("cpu", "tab:blue"), ("parallel", "tab:orange")):
            for busy, style in ((False, "-"), (True, "--")):
                mine = sorted((r for r in rows if r["case"] == case and r["target"] == target
                               and r["busy"] == busy), key=lambda r: r["state_bytes"])
                if not mine:
                    continue
                marker = {"heat": "o", "Life": "s", "Laplacian": "^"}[case.split()[0]]
                axes.plot([r["state_bytes"] / 2**20 for r in mine],
                          [r["speedup_vs_loop"] for r in mine], style, marker=marker,
                          color=colour, label=f"{case}, {target}{', busy' if busy else ''}")
    axes.axhline(1.0, color="black", linewidth=0.8)
    axes.axvline(last_level_cache / 2**20, color="grey", linestyle=":", linewidth=1)
    axes.text(last_level_cache / 2**20, axes.get_ylim()[1], " last-level cache", va="top",
              fontsize=8, color="grey")
    axes.set_xscale("log")
    axes.set_xlabel("state size (MiB)")
    axes.set_ylabel("iterate speed / loop of calls")
    axes.set_title("f.iterate against the loop it replaces (same run, timed in turn, "
                   "medians of 5 pairs)")
    axes.legend(fontsize=6, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--output", type=Path, default=DOCS / "bench-iterate.json")
    parser.add_argument("--sweep-only", action="store_true",
                        help="only the size sweep (quiet and busy) and its plot")
    options = parser.parse_args()
    machine = {"cpu": cpu_model(), "cores": numba.config.NUMBA_NUM_THREADS,
               "python": platform.python_version(), "numba": numba.__version__,
               "cache_bytes_per_core": cache_bytes()}
    print(f"{machine['cpu']}, {machine['cores']} threads, "
          f"{machine['cache_bytes_per_core'] >> 20} MiB cache per core")
    from cpu_suite import last_level_cache_bytes
    llc = last_level_cache_bytes()
    report = {"machine": {**machine, "last_level_cache_bytes": llc}, "quick": options.quick}
    if not options.sweep_only:
        report["cpu"] = run_cpu(options.quick)
        report["dask"] = run_dask(options.quick)
    sweep = run_sweep(options.quick, busy=False) + run_sweep(options.quick, busy=True)
    report["sweep"] = sweep
    report["sweep_goals"] = sweep_goals(sweep, llc)
    print("\n".join(report["sweep_goals"]))
    if not options.quick or options.output != DOCS / "bench-iterate.json":
        if options.sweep_only and options.output.exists():   # keep the other cases' figures
            report = {**json.loads(options.output.read_text()), **report}
        options.output.write_text(json.dumps(report, indent=1) + "\n")
        picture = options.output.with_suffix(".png")
        plot_sweep(sweep, llc, picture)
        print(f"wrote {options.output} and {picture}")


if __name__ == "__main__":
    main()
