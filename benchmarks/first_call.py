"""First call in a new process: the seed's numba.stencil + guvectorize against stencilc with a
cold and a warm disk cache, all measured in this run, imports included.

Each case runs in a fresh interpreter; the time is from the child's first line (before it
imports numpy or numba) to the end of the first call on a (16, 1000, 1000) int8 stack.
Writes docs/bench-first-call.json.

    python benchmarks/first_call.py [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PRELUDE = "import time\nstart = time.perf_counter()\nimport numpy as np\nimport numba\n"
KERNEL_BODY = """
    return (x[-1, -1] + x[-1, 0] + x[-1, 1] +
            x[0, -1] + x[0, 0] + x[0, 1] +
            x[1, -1] + x[1, 0] + x[1, 1]) // 9
"""
SEED = PRELUDE + f"""
@numba.stencil
def _smooth(x):{KERNEL_BODY}
@numba.guvectorize([(numba.int8[:, :], numba.int8[:, :])], "(n, m) -> (n, m)")
def smooth(x, out):
    out[:] = _smooth(x)
smooth(np.ones((16, 1000, 1000), np.int8))
print(time.perf_counter() - start)
"""
STENCILC = PRELUDE + f"""
from stencilc import stencil_ufunc
@stencil_ufunc("(n,m)->(n,m)")
def smooth(x):{KERNEL_BODY}
smooth(np.ones((16, 1000, 1000), np.int8))
print(time.perf_counter() - start)
"""

# The floor under any numba-based library: import numba, load one trivial function from
# numba's own disk cache, call it on the same stack.
NUMBA_FLOOR = PRELUDE + """
@numba.njit(cache=True)
def first(x):
    return x[0, 0, 0]
first(np.ones((16, 1000, 1000), np.int8))
print(time.perf_counter() - start)
"""
# numba's first compile or cache load imports scipy.linalg when scipy is installed (to find a
# BLAS); this variant hides scipy, as in an environment without it. One line, so the kernel
# keeps its line number (part of the cache key) and finds the warm cache.
WITHOUT_SCIPY = "import sys; sys.modules['scipy'] = None; "


def bytecode_env(env) -> dict:
    """``env`` without PYTHONDONTWRITEBYTECODE: installs have compiled bytecode, and a shell
    that forbids writing it would time Python recompiling stencilc's sources on every start."""
    return {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(script: str, folder: Path, env: dict, name: str = "first_call_case") -> float:
    path = folder / f"{name}.py"     # kernels need a real source file
    path.write_text(script)
    env = bytecode_env(env)
    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env,
                          check=True)
    return float(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"seed": [], "stencilc_cold": [], "stencilc_warm": [],
                                     "stencilc_warm_without_scipy": [], "numba_floor": [],
                                     "numba_floor_without_scipy": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for k in range(args.repeat):
            env = dict(os.environ, STENCILC_CACHE_DIR=str(folder / f"cache{k}"))
            times["seed"].append(run(SEED, folder, env))
            times["stencilc_cold"].append(run(STENCILC, folder, env))   # empty cache folder
            times["stencilc_warm"].append(run(STENCILC, folder, env))   # filled by the cold run
            times["stencilc_warm_without_scipy"].append(run(WITHOUT_SCIPY + STENCILC, folder, env))
            run(NUMBA_FLOOR, folder, env, f"floor{k}")                     # fills numba's cache
            times["numba_floor"].append(run(NUMBA_FLOOR, folder, env, f"floor{k}"))
            times["numba_floor_without_scipy"].append(
                run(WITHOUT_SCIPY + NUMBA_FLOOR, folder, env, f"floor{k}"))
    median = {case: statistics.median(values) for case, values in times.items()}
    figures = {
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "repeats": args.repeat, "median_s": median, "all_s": times,
        "seed_over_cold": median["seed"] / median["stencilc_cold"],
        "seed_over_warm": median["seed"] / median["stencilc_warm"],
        "warm_minus_numba_floor_s": median["stencilc_warm"] - median["numba_floor"],
    }
    print(json.dumps(figures, indent=2))
    Path(__file__).resolve().parents[1].joinpath("docs", "bench-first-call.json").write_text(
        json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
