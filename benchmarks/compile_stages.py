"""Where a cold compile's time goes, step by step through ``pipeline.build`` (disk cache off):
frontend + simplify, generate, type the point function, compile the gufunc, the parallel
target's rows gufunc, and what a first chunked Dask call adds. One kernel per
process, so each pays numba's start-up once (in "type point"), as a user's first call does.

    python benchmarks/compile_stages.py K TARGET      (a K x K window; cpu or parallel)
"""
import importlib.util
import os
import sys
import tempfile
import time

import numpy as np

from stencilc import pipeline, stencil_ufunc
from stencilc.cache import load_module
from stencilc.targets import REGISTRY

k = int(sys.argv[1]); target = sys.argv[2]
W = np.arange(k * k, dtype=np.float32).reshape(k, k) / k**2
lo = -(k // 2)
src = f'''
def window(x):
    acc = np.float32(0)
    for i in range({lo}, {lo + k}):
        for j in range({lo}, {lo + k}):
            acc += W[i - ({lo}), j - ({lo})] * x[i, j]
    return acc
'''
path = os.path.join(tempfile.mkdtemp(), "kmod.py")     # kernels need a real source file
with open(path, "w") as handle:
    handle.write("import numpy as np\n" + src)
spec = importlib.util.spec_from_file_location("kmod", path)
m = importlib.util.module_from_spec(spec)
m.W = W
spec.loader.exec_module(m)
t0 = time.perf_counter()
f = stencil_ufunc(boundary="nearest", target=target, cache=False)(m.window)
ir, opts, tg = f.ir, f.options, REGISTRY[target]
dts = (np.dtype(np.float32),)
t1 = time.perf_counter(); gen = pipeline.generate(ir, opts, tg, dts)
t2 = time.perf_counter(); mod = load_module(gen.source, ir.env, on_disk=False)
t3 = time.perf_counter(); vd = tg.value_dtypes(mod, gen, ir, dts)
t4 = time.perf_counter(); kern = tg.compile(mod, gen, ir, opts, dts, vd, False)
t5 = time.perf_counter()
if target == "parallel": kern.get("rows")
t6 = time.perf_counter()
import dask.array as da  # noqa: E402
x = np.random.default_rng(0).random((64, 64)).astype(np.float32)
t7 = time.perf_counter(); f(da.from_array(x, chunks=(32, 32))).compute()
t8 = time.perf_counter()
print(f"{k}x{k} {target}: understand {t1-t0:.2f}  generate {t2-t1:.2f}  load {t3-t2:.2f}  type point {t4-t3:.2f}  compile nest {t5-t4:.2f}  rows gufunc {t6-t5:.2f}  first Dask call {t8-t7:.2f}  source lines {gen.source.count(chr(10))}")
