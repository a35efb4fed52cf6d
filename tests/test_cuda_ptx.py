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


#: NVVM takes 45-55 s on a 5x5 median or float min (docs/gpu.md): 3x3 here, 5x5 in the
#: simulator (tests/test_cuda_sim.py)
WINDOWS = [("np.median(x[-1:2, -1:2])", "float32"), ("np.median(x[-1:2, -1:2])", "uint8"),
           ("np.max(x[-1:2, -1:2])", "float64"), ("np.mean(x[-4:5, -4:5])", "float32")]


@pytest.mark.parametrize("reduction, dtype", WINDOWS, ids=str)
def test_window_reductions_compile_to_ptx_in_the_cpu_types(reduction, dtype):
    """Window reductions run on the GPU as the schedule writes them: selection networks and
    selects written out, larger windows as loops per thread."""
    kernel = load_source(f"import numpy as np\n\ndef k(x):\n    return {reduction}\n").k
    check(build(kernel, [dtype], boundary="reflect"))


def test_inspect_asm_is_ptx_without_a_gpu():
    ptx = stencil_ufunc(target="gpu")(smooth).inspect_asm("int8")
    assert ".visible .entry smooth" in ptx or ".entry" in ptx
    with pytest.raises(ValueError, match="shows its PTX"):
        stencil_ufunc(target="gpu")(smooth).inspect_llvm("int8")


def test_a_count_compared_with_constants_is_added_in_32_bits(monkeypatch):
    """Issue 22 item 4: Game of Life's neighbour count, which NVVM keeps in 64-bit adds (two
    instructions each on a GPU) as numba types it, is added in 32 bits once narrowed; both
    kernels (one point per thread and the grid-stride twin) lose the 7 adds."""
    from stencilc.targets.cuda import CudaTarget

    life = load_source(
        "def life(x):\n"
        "    n = (x[-1, -1] + x[-1, 0] + x[-1, 1] + x[0, -1] + x[0, 1] + x[1, -1] + x[1, 0]\n"
        "         + x[1, 1])\n"
        "    return 1 if n == 3 or (n == 2 and x[0, 0]) else 0\n").life

    def adds(width):
        ptx = stencil_ufunc(target="cuda", boundary="wrap")(life).inspect_asm("bool")
        return sum(line.split()[0] == f"add.s{width}" for line in ptx.splitlines()
                   if line.strip() and not line.strip().startswith("//"))

    narrow = adds(64), adds(32)
    monkeypatch.setattr(CudaTarget, "narrowing", None)
    wide = adds(64), adds(32)
    assert narrow[0] <= wide[0] - 2 * 7 and narrow[1] >= wide[1] + 2 * 7, (narrow, wide)


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


# --- the assembler's view (issue 21 item 11): registers, spills, loads per point ------------

from stencilc.codegen.cuda import BLOCK_1D, BLOCK_2D  # noqa: E402
from stencilc.ir import RelativeRead, Role  # noqa: E402
from stencilc.targets import ptxas  # noqa: E402

ARCHS = {(8, 0): "sm_80", (9, 0): "sm_90"}
needs_ptxas = pytest.mark.skipif(ptxas.ptxas_path() is None, reason="ptxas not installed")


def threads(ir) -> int:
    block = BLOCK_1D if ir.ndim == 1 else BLOCK_2D
    return block[0] * block[1] * block[2]


def reads_per_point(ir, arg_dtypes) -> int:
    """The loads an interior point needs at most: one per distinct relative read, one per
    distinct read of a standard_indexing array, one per per-image scalar (two for complex
    values: PTX loads the parts one by one)."""
    import ast
    parts = {a.name: 2 if dt.kind == "c" else 1 for a, dt in zip(ir.arguments, arg_dtypes)}
    nodes = [n for s in ir.body for n in ast.walk(s)]
    relative = {(n.array, tuple(ast.dump(o) for o in n.offsets)) for n in nodes
                if isinstance(n, RelativeRead)}
    standard = {a.name for a in ir.arguments if a.role is Role.STANDARD}
    tables = {(n.value.id, ast.dump(n)) for n in nodes if isinstance(n, ast.Subscript)
              and isinstance(n.value, ast.Name) and n.value.id in standard}
    scalars = [a.name for a in ir.arguments if a.role is Role.SCALAR]
    return sum(parts[name] for name, _ in relative | tables) + sum(parts[n] for n in scalars)


def check_assembly(kernel, dtypes, options, archs=ARCHS, twin=True):
    spec = build(kernel, dtypes, **options)
    for cc, arch in archs.items():
        report = ptxas.assemble(spec.kernel.ptx(cc), arch)
        assert ptxas.problems(report, threads(spec.kernel.ir)) == [], report
        if twin:
            strided = ptxas.assemble(spec.kernel.ptx(cc, strided=True), arch)
            assert strided.spill_stores == strided.spill_loads == 0, strided
    # boundary=None: the border only stores fill values, so every load is an interior one
    interior = build(kernel, dtypes, **{**options, "boundary": None})
    report = ptxas.assemble(interior.kernel.ptx((8, 0)), "sm_80")
    ir = interior.kernel.ir
    assert report.global_loads == reads_per_point(ir, interior.arg_dtypes), report
    has_border = any(lo < 0 or hi > 0 for lo, hi in ir.neighborhood)
    stores = sum(2 if dt.kind == "c" else 1 for dt in interior.out_dtypes)
    assert report.global_stores == stores * (2 if has_border else 1)   # interior (+ fill)


@needs_ptxas
@pytest.mark.parametrize("kernel, dtypes, options", CASES,
                         ids=[f"{k.__name__}-{'-'.join(d)}" for k, d, _ in CASES])
def test_kernels_assemble_without_spills_at_half_occupancy(kernel, dtypes, options):
    """sm_80 and sm_90: no local-memory spills, registers low enough for >= 50 % occupancy
    at the launch's block size, and one global load per distinct read of an interior point
    (the cache does the rest; docs/gpu.md's traffic model)."""
    check_assembly(kernel, dtypes, options)


@needs_ptxas
@settings(max_examples=max(2, settings().max_examples // 10))
@given(stencils())
def test_random_stencils_assemble_without_spills_at_half_occupancy(case):
    source, _, dtype, _ = case
    note(source)
    check_assembly(load_source(source).kernel, [dtype], {"boundary": "reflect"},
                   archs={(8, 0): "sm_80"}, twin=False)


@needs_ptxas
def test_a_kernel_made_to_spill_fails_the_check():
    """The check is no formality: the same assembler, held to 16 registers, spills a 7x7
    float64 table kernel, and :func:`ptxas.problems` says so."""
    kernel = load_source("""
def blur7(x, w):
    acc = 0.0
    for i in range(-3, 4):
        for j in range(-3, 4):
            acc += w[i + 3, j + 3] * x[i, j]
    return acc
""").blur7
    spec = build(kernel, ["float64", "float64"], boundary="reflect", standard_indexing=["w"])
    ptx = spec.kernel.ptx((8, 0))
    squeezed = ptxas.assemble(ptx, "sm_80", max_registers=16)
    assert squeezed.spill_stores > 0 and squeezed.registers < 100   # ptxas floors at 24
    assert any("spill" in p for p in ptxas.problems(squeezed, 256)), squeezed
    with_room = ptxas.assemble(ptx, "sm_80")
    assert with_room.spill_stores == with_room.spill_loads == 0


@needs_ptxas
def test_the_traffic_model_of_docs_gpu():
    """benchmarks/gpu_model.py: the numbers docs/gpu.md quotes, from the tile arithmetic."""
    import importlib.util
    from pathlib import Path
    path = Path(__file__).parent.parent / "benchmarks" / "gpu_model.py"
    spec = importlib.util.spec_from_file_location("gpu_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.traffic(((-1, 1), (-1, 1))) == (34 * 10 / 256 + 1,) * 2
    assert module.traffic(((-1, 1), (-1, 1), (-1, 1))) == (34 * 10 / 256 + 1,
                                                           34 * 10 / 256 + 3)
    rows = {r["case"]: r for r in module.model()}
    assert rows["mean3"]["loads_per_point"] == 9 and rows["laplacian7"]["loads_per_point"] == 7
    assert rows["mean3"]["copy_fraction"] == [0.86, 0.86]
