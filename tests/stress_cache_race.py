"""Stress check for numba issue #10128 (not collected by pytest; run it by hand).

Each round: a fresh cache folder, two processes compiling the same stencil at once, then a
third loading from the cache. Before stencilc's compile lock, 2 of 12 rounds segfaulted (and
the cache stayed poisoned for every later process); with it, 0 of 20.

    python tests/stress_cache_race.py [rounds]
"""
import os
import subprocess
import sys
import tempfile

KERNEL = """
import numpy as np
from stencilc import stencil_ufunc
def k(x):
    return (x[-1, 0] + 2 * x[1, 1] - x[0, -1] + x[2, -2] * x[0, 0]) // 3
f = stencil_ufunc(boundary="mirror")(k)
print(int(f(np.arange(48, dtype=np.int32).reshape(6, 8)).sum()))
"""


def main(rounds: int) -> int:
    broken = 0
    for r in range(rounds):
        folder = tempfile.mkdtemp(prefix="stencilc-race-")
        script = os.path.join(folder, "race_kernel.py")   # kernels need a real source file
        with open(script, "w") as handle:
            handle.write(KERNEL)
        env = dict(os.environ, STENCILC_CACHE_DIR=os.path.join(folder, "cache"))
        racers = [subprocess.Popen([sys.executable, script], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL) for _ in range(2)]
        codes = [p.wait() for p in racers]
        later = subprocess.run([sys.executable, script], env=env, capture_output=True)
        outputs = {p.stdout.read() for p in racers} | {later.stdout}
        if any(codes) or later.returncode or len(outputs) != 1:
            broken += 1
            print(f"round {r}: exit codes {codes} then {later.returncode}")
    print(f"{broken}/{rounds} rounds broke")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
