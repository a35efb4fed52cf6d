"""`parallel` against `cpu` on every case of benchmarks/cpu_suite.py and the demo's stack, on a
quiet host and with a second process spinning on one core (a shared host), in one run.

Issue 24's goal: `parallel` never clearly slower than `cpu` (parallel speed / cpu speed >=
0.95 for every case, quiet and busy). Cold and warm calls, the two targets timed in turn
(cpu_suite's ``Timer.paired``): each ratio is the median of the pairs' ratios;
prints the goal as a PASS/FAIL line for this run and writes docs/bench-parallel.json.

    python benchmarks/parallel_vs_cpu.py [--quick]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpu_suite import CASES, Timer, bench_options  # noqa: E402

from stencilc import stencil_ufunc  # noqa: E402
from stencilc.demo import busy_core, cpu_model, smooth  # noqa: E402

GOAL = 0.95


def workloads():
    """(name, kernel, layout, boundary, input) for every cpu_suite case and the demo stack."""
    rng = np.random.default_rng(0)
    for case in CASES:
        yield case.title, case.kernel, case.layout, case.boundary, case.make_input(rng)
    stack = rng.integers(0, 256, (24, 512, 512), dtype=np.uint8)
    yield "demo stack: smooth, 24x512x512 uint8", smooth, None, "nearest", stack


def measure(timer: Timer, busy: bool) -> list[dict]:
    rows = []
    with busy_core(busy):
        for name, kernel, layout, boundary, x in workloads():
            cpu = stencil_ufunc(layout, boundary=boundary)(kernel)
            parallel = stencil_ufunc(layout, boundary=boundary, target="parallel")(kernel)
            out = np.empty_like(cpu(x))
            row = {"case": name, "busy": busy}
            for regime, cold in (("cold", True), ("warm", False)):
                c, p, ratio = timer.paired(lambda: cpu(x, out=out),
                                           lambda: parallel(x, out=out), cold)
                row[regime] = {"cpu_s": c, "parallel_s": p, "parallel_speed_over_cpu": ratio}
            rows.append(row)
            print(f"{'busy ' if busy else 'quiet'} {name[:52]:52s} parallel/cpu speed: cold "
                  f"{row['cold']['parallel_speed_over_cpu']:.2f}x, warm "
                  f"{row['warm']['parallel_speed_over_cpu']:.2f}x", flush=True)
    return rows


def main() -> None:
    args, timer = bench_options(__doc__, "bench-parallel.json", repeats=9, min_seconds=0.3)
    print(f"{cpu_model()}, {numba.get_num_threads()} threads")
    rows = measure(timer, busy=False) + measure(timer, busy=True)
    worst = min((r[g]["parallel_speed_over_cpu"], r["case"], g, r["busy"])
                for r in rows for g in ("cold", "warm"))
    goal = (f"{'PASS' if worst[0] >= GOAL else 'FAIL'} parallel >= {GOAL} x cpu's speed "
            f"everywhere: slowest {worst[0]:.2f}x ({worst[1]}, {worst[2]}"
            f"{', busy' if worst[3] else ''})")
    print(goal)
    report = {"machine": cpu_model(), "threads": numba.get_num_threads(),
              "threading_layer": numba.threading_layer(), "rows": rows, "goal": goal}
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
