"""The cuda target's values, in numba-cuda's simulator (``make test-cudasim`` runs this file
with ``NUMBA_ENABLE_CUDASIM=1``; on a machine with a GPU it runs unchanged without it).

Oracle: the ``cpu`` target, itself checked against scipy.ndimage and numba.stencil (integers
bit for bit, floats within a few ULP). Arrays are small: the simulator runs each GPU thread as
a Python thread.
"""
from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from conftest import load_source
from stencilc import StencilSyntaxError, stencil_ufunc
from stencilc.targets import REGISTRY
from test_random_stencils import MODES, stencils

pytestmark = pytest.mark.skipif(not REGISTRY["cuda"].available(),
                                reason="needs a GPU or NUMBA_ENABLE_CUDASIM=1 (make test-cudasim)")

rng = np.random.default_rng(11)
BOUNDARIES = [None, *MODES, ("wrap", "nearest"), (None, "reflect")]


def same(got, expected):
    """Integers and bools bit for bit; floats within a few ULP (a GPU may contract a*b+c)."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    if got.dtype.kind in "fc" and not numba.config.ENABLE_CUDASIM:
        np.testing.assert_allclose(got, expected, rtol=4 * np.finfo(got.dtype).eps, atol=0)
    else:
        np.testing.assert_array_equal(got, expected)


def both(kernel, **options):
    return (stencil_ufunc(target="cuda", **options)(kernel),
            stencil_ufunc(target="cpu", **options)(kernel))


def smooth(x):
    return (x[-1, -1] + x[-1, 0] + x[-1, 1] + x[0, -1] + x[0, 0] + x[0, 1]
            + x[1, -1] + x[1, 0] + x[1, 1]) // 9


@pytest.mark.parametrize("boundary", BOUNDARIES, ids=str)
def test_every_boundary_setting_equals_the_cpu(boundary):
    gpu, cpu = both(smooth, boundary=boundary, cval=7)
    stack = rng.integers(-128, 128, (2, 6, 7)).astype(np.int8)   # int8 sums overflow
    same(gpu(stack), cpu(stack))


def test_integer_promotion_follows_numba_not_numpy_scalars():
    """numba widens int8 * int8 to int64; NumPy scalars (the simulator) would wrap in int8."""
    @stencil_ufunc(target="cuda", out_dtype="kernel")
    def square(x):
        return x[0] * x[0]

    x = np.array([100, 120, -100], np.int8)
    np.testing.assert_array_equal(square(x), np.array([10000, 14400, 10000], np.int64))


@settings(max_examples=max(3, settings().max_examples // 5))
@given(stencils(), st.sampled_from(BOUNDARIES[:6]), st.integers(0, 5))
def test_random_stencils_equal_the_cpu(case, boundary, cval):
    source, _, dtype, x = case
    note(source)
    kernel = load_source(source).kernel
    gpu, cpu = both(kernel, boundary=boundary, cval=cval)
    same(gpu(x), cpu(x))


def test_several_inputs_outputs_scalars_and_weights():
    def flux(u, v, w, k):
        acc = 0.0
        for i in range(-1, 2):
            acc += w[i + 1] * u[i, 0]
        return acc * k + v[0, 1], u[0, 0] - v[0, -1]

    gpu, cpu = both(flux, boundary="nearest", standard_indexing=["w"])
    u = rng.normal(size=(3, 5, 6)).astype(np.float32)
    v = rng.normal(size=(5, 6)).astype(np.float32)          # broadcast over the stack
    w = np.array([0.25, 0.5, 0.25])
    k = np.array([1.0, 2.0, -1.0])                          # one scalar per image
    for g, c in zip(gpu(u, v, w, k), cpu(u, v, w, k)):
        same(g, c)


def test_out_and_device_arrays_stay_on_the_device():
    from numba import cuda

    gpu, cpu = both(smooth, boundary="wrap")
    x = rng.integers(0, 100, (5, 8)).astype(np.int16)
    expected = cpu(x)
    out = np.empty_like(expected)
    assert gpu(x, out=out) is out
    same(out, expected)
    on_device = gpu(cuda.to_device(x))
    assert hasattr(on_device, "copy_to_host")
    same(on_device.copy_to_host(), expected)
    device_out = cuda.device_array(x.shape, expected.dtype)
    gpu(cuda.to_device(x), out=device_out)
    same(device_out.copy_to_host(), expected)


def test_empty_and_tiny_arrays():
    gpu, cpu = both(smooth, boundary="mirror")
    for shape in [(0, 4), (1, 1), (2, 0, 3), (1, 3)]:
        x = np.ones(shape, np.float64)
        same(gpu(x), cpu(x))


def test_device_arrays_need_the_cuda_target():
    from numba import cuda
    with pytest.raises(TypeError, match="GPU arrays need a kernel compiled with target='cuda'"):
        stencil_ufunc(smooth)(cuda.to_device(np.ones((4, 4))))


@pytest.mark.parametrize("body, dtype, words, hint", [
    ("return np.median(x[-7:8, -7:8])", "float64", "a relative window", "one by one"),
    # the CPU's running histogram of 8-bit medians is not the GPU's either
    ("return np.median(x[-7:8, -7:8])", "uint8", "a relative window", "one by one"),
    ("return np.sqrt(x[0, 0])", "float64", "np.sqrt has no CUDA implementation", "math.sqrt"),
])
def test_what_cannot_run_on_a_gpu_is_a_located_error(body, dtype, words, hint):
    module = load_source(f"import numpy as np\n\ndef k(x):\n    {body}\n")
    f = stencil_ufunc(target="cuda")(module.k)
    with pytest.raises(StencilSyntaxError, match=words) as info:
        f(np.ones((4, 4), dtype))
    assert (info.value.filename, info.value.lineno) == (module.__file__, 4)
    assert hint in info.value.hint


@pytest.mark.parametrize("reduction, dtype, boundary", [
    ("np.median(x[-1:2, -1:2])", "float32", "reflect"), ("np.median(x[-2:3, -2:3])", "uint8", "wrap"),
    ("np.min(x[-1:2, -2:3])", "float64", "nearest"), ("np.mean(x[-4:5, -4:5])", "float32", "mirror"),
    ("np.max(x[-4:5, -3:4])", "float32", None), ("np.sum(x[-4:5, -4:5])", "int16", "constant")])
def test_window_reductions_equal_the_cpu(reduction, dtype, boundary):
    """The schedule's windows on the GPU: selection networks, selects written out, loops over
    large windows per thread; NaNs included."""
    module = load_source(f"import numpy as np\n\ndef k(x):\n    return {reduction}\n")
    gpu, cpu = both(module.k, boundary=boundary, cval=3, out_dtype="kernel")
    x = (rng.standard_normal((13, 14)) * 50).astype(dtype)
    if x.dtype.kind == "f":
        x[3, 4] = np.nan
        x[9, 2:4] = (0.0, -0.0)
    same(gpu(x), cpu(x))


def test_a_large_weights_nest_equals_the_cpu():
    """81 taps of run-time weights: a row at a time on the CPU, the nest as written per
    thread on the GPU; the same numbers."""
    module = load_source("def k(x, w):\n    acc = 0.0\n    for i in range(-4, 5):\n"
                         "        for j in range(-4, 5):\n"
                         "            acc += w[i + 4, j + 4] * x[i, j]\n    return acc\n")
    gpu, cpu = both(module.k, boundary="reflect", signature="(n,m),(p,q)->(n,m)",
                    standard_indexing=["w"])
    x = rng.standard_normal((13, 14)).astype(np.float32)
    w = rng.standard_normal((9, 9)).astype(np.float32)
    assert "accumulation" in str(cpu.schedule("float32", "float32"))
    same(gpu(x, w), cpu(x, w))


@pytest.mark.parametrize("chunks", [(1, 6, 7), (2, 3, 4)])
def test_dask_arrays_on_the_cuda_target(chunks):
    import dask.array as da

    gpu, cpu = both(smooth, boundary="reflect")
    stack = rng.integers(-128, 128, (2, 6, 7)).astype(np.int8)
    # one thread: numba's simulator keeps its thread state per launching thread
    result = gpu(da.from_array(stack, chunks=chunks)).compute(scheduler="synchronous")
    same(result, cpu(stack))


# --- CuPy (needs a real GPU: CuPy has no simulator) ---------------------------------------------

def test_cupy_in_cupy_out():
    cupy = pytest.importorskip("cupy")
    gpu, cpu = both(smooth, boundary="nearest")
    x = rng.normal(size=(3, 16, 20)).astype(np.float32)
    result = gpu(cupy.asarray(x))
    assert isinstance(result, cupy.ndarray)
    same(cupy.asnumpy(result), cpu(x))


def test_dask_of_cupy_chunks_stays_on_the_device():
    cupy = pytest.importorskip("cupy")
    import dask.array as da

    gpu, cpu = both(smooth, boundary="wrap")
    x = rng.normal(size=(2, 40, 50))
    lazy = da.from_array(cupy.asarray(x), chunks=(1, 20, 25), asarray=False)
    result = gpu(lazy)
    assert isinstance(result._meta, cupy.ndarray)
    same(cupy.asnumpy(result.compute()), cpu(x))


def test_axes_on_the_cuda_target():
    gpu, cpu = both(smooth, boundary="nearest")
    rgb = rng.integers(0, 255, size=(2, 9, 11, 3)).astype(np.uint8)
    axes = [(1, 2), (1, 2)]
    same(gpu(rgb, axes=axes), cpu(rgb, axes=axes))
    from numba import cuda
    with pytest.raises(TypeError, match="axes= needs arrays that can move their axes"):
        gpu(cuda.to_device(rgb), axes=axes)


def test_device_out_of_a_dtype_the_result_cannot_cast_to():
    from numba import cuda
    gpu, cpu = both(smooth)
    x = rng.normal(size=(6, 7))
    with pytest.raises(TypeError) as ours:
        gpu(cuda.to_device(x), out=cuda.device_array((6, 7), np.int32))
    with pytest.raises(TypeError) as theirs:
        np.add(x, x, out=np.empty((6, 7), np.int32))   # NumPy's words for the same refusal
    assert str(ours.value).split("output")[1] == str(theirs.value).split("output")[1]


def test_named_boundary_and_xarray_on_the_cuda_target():
    import xarray as xr

    def lap(u):
        return u[-1, 0] + u[1, 0] + u[0, -1] + u[0, 1] - 4 * u[0, 0]

    gpu = stencil_ufunc("(lat,lon)->(lat,lon)", target="cuda",
                        boundary={"lon": "wrap", "lat": "nearest"})(lap)
    cpu = stencil_ufunc(target="cpu", boundary=("nearest", "wrap"))(lap)
    u = rng.integers(-50, 50, size=(2, 7, 9)).astype(np.int32)
    same(gpu(u), cpu(u))
    field = xr.DataArray(u.transpose(0, 2, 1), dims=("t", "lon", "lat"), attrs={"units": "K"})
    result = gpu(field, dims=("lat", "lon"))
    assert result.dims == field.dims and result.attrs == field.attrs
    same(result.transpose("t", "lat", "lon").values, cpu(u))


@pytest.mark.parametrize("boundary", ["wrap", (None, "reflect")], ids=str)
def test_iterate_keeps_the_state_on_the_device_and_equals_the_cpu(boundary):
    """Several steps equal the CPU loop; device states come back as device arrays, host
    states as host arrays, and the input is left as it was."""
    from numba import cuda

    gpu, cpu = both(smooth, boundary=boundary)
    x = rng.integers(0, 100, (2, 6, 7)).astype(np.int16)
    before = x.copy()
    expected = x
    for _ in range(3):
        expected = cpu(expected)
    same(gpu.iterate(x, steps=3), expected)
    np.testing.assert_array_equal(x, before)
    on_device = gpu.iterate(cuda.to_device(x), steps=3)
    assert hasattr(on_device, "copy_to_host")
    same(on_device.copy_to_host(), expected)
    same(gpu.iterate(x, steps=0), x)


@pytest.mark.parametrize("boundary", ["constant", None, ("wrap", "constant")], ids=str)
def test_a_complex_cval_keeps_both_parts(boundary):
    """Issue 21 bug 0 on the GPU: the cpu target, itself checked against scipy.ndimage."""
    gpu, cpu = both(load_source(
        "def cross(x):\n    return 0.5 * x[-1, 0] + 0.25 * x[0, 1] - x[0, 0]\n").cross,
        boundary=boundary, cval=1 + 2j)
    x = (rng.normal(size=(5, 6)) + 1j * rng.normal(size=(5, 6))).astype(np.complex128)
    got = gpu(x)
    same(got, cpu(x))
    assert np.asarray(got)[0, 0].imag != 0


def test_integer_results_wrap_into_narrow_outputs_as_on_a_gpu():
    """Issue 21 item 11: ``2 * x[0]`` on int8 [70] raised OverflowError in the simulator
    (NumPy refuses -200 into int8); a GPU's store wraps, as the cpu target does."""
    gpu, cpu = both(load_source("def dbl(x):\n    return 2 * x[0] - x[1]\n").dbl,
                    boundary="wrap")
    x = np.array([70, -100, 5, 127, -128], np.int8)
    same(gpu(x), cpu(x))
    same(gpu(x.astype(np.uint8)), cpu(x.astype(np.uint8)))


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "int16", "uint16"])
def test_narrowed_expressions_keep_numbas_values_at_every_extreme(dtype):
    """Issue 22 item 4: the GPU computes provably exact small-integer expressions in int32;
    every combination of extreme and small values in the three taps, against numba computing
    the expression as written on the same scalars (the same type, the same bits)."""
    from test_schedules import NARROWED

    info = np.iinfo(dtype) if dtype != "bool" else None
    values = [False, True] if info is None else sorted(
        {int(info.min), int(info.min) + 1, -1, 0, 1, int(info.max)} & set(
            range(int(info.min), int(info.max) + 1)))
    import itertools
    rows = np.array(list(itertools.product(values, repeat=3)), dtype=dtype)
    body = "\n".join(f"    v{k} = {e}" for k, e in enumerate(NARROWED))
    returned = ", ".join(f"v{k}" for k in range(len(NARROWED)))
    f = stencil_ufunc("(n)->" + ",".join(["(n)"] * len(NARROWED)), target="cuda",
                      out_dtype="kernel")(load_source(f"def k(x):\n{body}\n    return {returned}\n").k)
    assert "computed in int32" in str(f.schedule(dtype))
    got = f(rows)
    for k, expression in enumerate(NARROWED):
        scalar = numba.njit(eval("lambda a, b, c: " + expression.replace("x[-1]", "a")
                                 .replace("x[0]", "b").replace("x[1]", "c")))
        expected = [scalar(*row) for row in rows]
        as_dtype = numba.np.numpy_support.as_dtype(scalar.nopython_signatures[0].return_type)
        same(np.asarray(got[k])[:, 1], np.array(expected, as_dtype))


@pytest.mark.parametrize("dtype", ["bool", "uint8"])
def test_game_of_life_keeps_its_count_in_int32_and_equals_numpy(dtype):
    life = load_source(
        "def life(x):\n"
        "    n = (x[-1, -1] + x[-1, 0] + x[-1, 1] + x[0, -1] + x[0, 1] + x[1, -1] + x[1, 0]\n"
        "         + x[1, 1])\n"
        "    return 1 if n == 3 or (n == 2 and x[0, 0]) else 0\n").life
    f = stencil_ufunc(target="cuda", boundary="wrap", out_dtype="kernel")(life)
    assert "computed in int32" in str(f.schedule(dtype)) and "kept in it as 'n'" in \
        str(f.schedule(dtype))
    x = rng.integers(0, 2 if dtype == "bool" else 4, (13, 17)).astype(dtype)
    n = sum(np.roll(x, (a, b), (0, 1)).astype(np.int64) for a in (-1, 0, 1) for b in (-1, 0, 1)
            if (a, b) != (0, 0))
    same(f(x), ((n == 3) | ((n == 2) & (x != 0))).astype(np.int64))


@pytest.mark.parametrize("shape", [(3, 9, 10), (2, 3, 5, 6), (20, 7)], ids=str)
def test_the_grid_stride_twin_computes_the_same(monkeypatch, shape):
    """Past CUDA's 65535 blocks along y or z the grid-stride twin runs; made to run here by
    a grid limit of 1 block."""
    from stencilc.codegen import cuda as codegen
    monkeypatch.setattr(codegen, "MAX_GRID_YZ", 1)
    d = len(shape) - 1 if len(shape) > 2 else 2
    body = " + ".join(f"x[{', '.join('-1' if k == a else '0' for k in range(d))}]"
                      for a in range(d))
    gpu, cpu = both(load_source(f"def k(x):\n    return {body} - x[{', '.join(['0'] * d)}]\n").k,
                    boundary="reflect")
    grid, _, strided = codegen.launch_shape(d, shape[0] if len(shape) > d else 1, shape[-d:])
    assert strided
    x = rng.normal(size=shape)
    same(gpu(x), cpu(x))


@pytest.mark.parametrize("mode", ["nearest", "mirror", "constant"])
def test_far_taps_equal_the_cpu(mode):
    """Issue 25 item 2 on the GPU: a box of 3001 x 2001 cells around a 4 x 5 array (each
    thread reads its taps through the rule; the cpu target is checked against np.pad)."""
    gpu, cpu = both(load_source("def far(x):\n    return x[0, 0] + 2 * x[3000, 0] - x[7, -2000]\n"
                                ).far, boundary=mode, cval=-3)
    x = rng.normal(size=(4, 5))
    same(gpu(x), cpu(x))


@pytest.mark.parametrize("name", ["correlate", "gaussian_filter", "median_filter",
                                  "maximum_filter", "laplace", "gaussian_gradient_magnitude"])
def test_ndimage_on_device_arrays(name):
    """stencilc.ndimage on a numba device array runs the cuda target and returns a device
    array, with scipy.ndimage's values (the oracle here: scipy itself)."""
    import scipy.ndimage as ndi
    from numba import cuda

    from stencilc import ndimage as snd
    x = rng.standard_normal((9, 11)).astype(np.float32)
    w = rng.standard_normal((3, 3))
    calls = {"correlate": lambda m, a: m.correlate(a, w, mode="wrap"),
             "gaussian_filter": lambda m, a: m.gaussian_filter(a, 1.0, mode="nearest"),
             "median_filter": lambda m, a: m.median_filter(a, 3, mode="constant", cval=0.5),
             "maximum_filter": lambda m, a: m.maximum_filter(a, (2, 3)),
             "laplace": lambda m, a: m.laplace(a, mode="mirror"),
             "gaussian_gradient_magnitude":    # its square, sum and root as pointwise kernels
                 lambda m, a: m.gaussian_gradient_magnitude(a, 1.0)}
    got = calls[name](snd, cuda.to_device(x))
    assert not isinstance(got, np.ndarray)
    same(got.copy_to_host(), calls[name](ndi, x))
