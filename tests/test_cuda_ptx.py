"""The cuda target through the real CUDA compiler, without a GPU: every kernel compiles to PTX
(``numba.cuda.compile_ptx``, NVVM from numba-cuda's cu12 extra), and the value type the CUDA
compiler infers for the point function equals numba's CPU typing (the simulator does no
typing, so this is what makes a real GPU compute in the CPU's types)."""
from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, note, settings

from conftest import load_source
from stencilc import stencil_ufunc
from stencilc.targets import REGISTRY
from test_random_stencils import stencils

cuda = pytest.importorskip("numba.cuda")
if numba.config.ENABLE_CUDASIM:
    pytest.skip("the simulator has no compile_ptx; make test runs this file without it",
                allow_module_level=True)


def build(kernel, dtypes, **options):
    """The cuda specialization: decorating and compiling need numba-cuda, not a GPU (numba-cuda
    compiles for the device at the first launch)."""
    return stencil_ufunc(target="cuda", **options)(kernel).compile(*dtypes)


def point_type(spec):
    """What the CUDA compiler infers as the device point function's return type."""
    kernel = spec.kernel
    point = kernel.dispatcher.py_func.__globals__["_sc_point"].py_func
    ir = kernel.ir
    args = [numba.types.intp] * ir.ndim + [
        numba.types.Array(numba.from_dtype(dt), a.ndim, "A") if a.ndim else numba.from_dtype(dt)
        for a, dt in zip(ir.arguments, kernel.arg_dtypes)]
    _, returned = cuda.compile_ptx(point, tuple(args), device=True, cc=(8, 0))
    return returned


def check(spec):
    ptx = spec.kernel.ptx()
    assert ".visible .entry" in ptx and ".target sm_80" in ptx
    returned = point_type(spec)
    items = list(returned) if isinstance(returned, numba.types.BaseTuple) else [returned]
    assert tuple(np.dtype(numba.np.numpy_support.as_dtype(t)) for t in items) == \
        spec.kernel_dtypes


def smooth(x):
    return (x[-1, -1] + x[-1, 0] + x[-1, 1] + x[0, -1] + x[0, 0] + x[0, 1]
            + x[1, -1] + x[1, 0] + x[1, 1]) // 9


def laplacian3(u):
    return u[-1, 0, 0] + u[1, 0, 0] + u[0, -1, 0] + u[0, 1, 0] + u[0, 0, -1] + u[0, 0, 1] \
        - 6 * u[0, 0, 0]


def flux(u, v, w, k):
    acc = 0.0
    for i in range(-1, 2):
        acc += w[i + 1] * u[i, 0]
    return acc * k + v[0, 1], u[0, 0] - v[0, -1]


def shifted(x, k):
    return x[k] + x[0]


CASES = [
    (smooth, ["int8"], {}),
    (smooth, ["uint16"], {"boundary": "reflect"}),
    (smooth, ["float32"], {"boundary": ("wrap", None), "cval": 2}),
    (laplacian3, ["float64"], {"boundary": "nearest"}),
    (flux, ["float32", "float32", "float64", "float64"],
     {"boundary": "constant", "standard_indexing": ["w"]}),
    (shifted, ["int32", "int64"], {"neighborhood": ((-2, 2),), "boundary": "mirror"}),
]


@pytest.mark.parametrize("kernel, dtypes, options", CASES,
                         ids=[f"{k.__name__}-{'-'.join(d)}" for k, d, _ in CASES])
def test_kernels_compile_to_ptx_in_the_cpu_types(kernel, dtypes, options):
    check(build(kernel, dtypes, **options))


@settings(max_examples=max(3, settings().max_examples // 5))
@given(stencils())
def test_random_stencils_compile_to_ptx_in_the_cpu_types(case):
    source, _, dtype, _ = case
    note(source)
    check(build(load_source(source).kernel, [dtype], boundary="nearest"))


def test_inspect_asm_is_ptx_without_a_gpu():
    ptx = stencil_ufunc(target="gpu")(smooth).inspect_asm("int8")
    assert ".visible .entry smooth" in ptx or ".entry" in ptx
    with pytest.raises(ValueError, match="shows its PTX"):
        stencil_ufunc(target="gpu")(smooth).inspect_llvm("int8")


def test_bench_gpu_says_plainly_when_no_gpu_is_present(capsys):
    import importlib.util
    from pathlib import Path

    if REGISTRY["cuda"].available():
        pytest.skip("a GPU is present: make bench-gpu measures")
    path = Path(__file__).parent.parent / "benchmarks" / "gpu_suite.py"
    spec = importlib.util.spec_from_file_location("gpu_suite", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([]) == 0
    assert "no CUDA GPU here" in capsys.readouterr().out
