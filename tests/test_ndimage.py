"""stencilc.ndimage against scipy.ndimage (the oracle), call by call: integer results bit
for bit, floats bit for bit too where scipy's additions have an order stencilc reproduces
(every filter but the float64 moving mean, whose running sum scipy updates point by point:
checked at scipy's own test tolerance). Each case compiles a kernel or two (1-3 s), so the
table covers every function, mode, dimension count and dtype family once rather than their
product; hypothesis draws random weights, footprints and modes on top."""
from __future__ import annotations

import functools

import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st

from stencilc import ndimage as snd
from stencilc.ndimage import _kernels

rng = np.random.default_rng(23)


def data(shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype) * 10
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), shape, endpoint=True,
                        dtype=dtype)


def same(got, expected, exact=True):
    got = np.asarray(got)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    if exact:
        np.testing.assert_array_equal(got, expected)
        assert np.array_equal(np.signbit(got), np.signbit(expected)) if got.dtype.kind == "f" \
            else True
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


W33 = rng.standard_normal((3, 3))
W23 = rng.standard_normal((2, 3))
PLUS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)
CROSS3D = np.zeros((3, 3, 3), bool)
CROSS3D[1, 1, :] = CROSS3D[1, :, 1] = CROSS3D[:, 1, 1] = True
_yy, _xx = np.mgrid[-7:8, -7:8]
DISK = _yy ** 2 + _xx ** 2 <= 49      # 149 cells: past the written-out compare chain
RING = np.ones((7, 7), bool)
RING[2:5, 2:5] = False       # 40 cells: more than a selection network takes

#: (name, input shape, dtype, call): ``call(module, x)`` runs the same call on scipy.ndimage
#: and on stencilc.ndimage
CASES = [
    ("correlate1d symmetric, float cval on uint8", (17, 23), "uint8",
     lambda m, x: m.correlate1d(x, [1, 2, 1], axis=0, mode="constant", cval=1.5)),
    ("correlate1d antisymmetric", (17, 23), "int16",
     lambda m, x: m.correlate1d(x, [-1, 0, 1], mode="nearest")),
    ("correlate1d general, origin", (40,), "float32",
     lambda m, x: m.correlate1d(x, [0.3, -1, 0.5, 2], mode="mirror", origin=1)),
    ("convolve1d", (9, 11, 13), "float64",
     lambda m, x: m.convolve1d(x, [0.5, 1, -2, 0.25], axis=1, mode="wrap", origin=-1)),
    ("correlate 3x3, origin", (19, 21), "float32",
     lambda m, x: m.correlate(x, W33, mode="reflect", origin=(0, -1))),
    ("convolve 2x3, cval", (19, 21), "uint8",
     lambda m, x: m.convolve(x, W23 * 3, mode="constant", cval=2)),
    ("correlate on two axes of three, grid modes", (5, 12, 14), "int32",
     lambda m, x: m.correlate(x, W23, axes=(0, 2), mode="grid-wrap")),
    ("uniform_filter", (18, 20), "uint8",
     lambda m, x: m.uniform_filter(x, (3, 4), mode="reflect", origin=(1, 0))),
    ("uniform_filter1d float32", (30,), "float32",
     lambda m, x: m.uniform_filter1d(x, 5, mode="grid-mirror")),
    ("gaussian_filter, sigma per axis", (20, 22), "float32",
     lambda m, x: m.gaussian_filter(x, (1.0, 2.0), mode="mirror")),
    ("gaussian_filter derivatives, radius", (20, 22), "float64",
     lambda m, x: m.gaussian_filter(x, 1.5, order=(1, 2), radius=(3, 4))),
    ("gaussian_filter1d integer, truncate", (50,), "uint16",
     lambda m, x: m.gaussian_filter1d(x, 2.0, truncate=2.5, mode="constant", cval=3)),
    ("sobel", (16, 18), "int16", lambda m, x: m.sobel(x, axis=0)),
    ("prewitt 3-D", (6, 8, 10), "uint8", lambda m, x: m.prewitt(x, axis=2, mode="wrap")),
    ("laplace", (16, 18), "float32", lambda m, x: m.laplace(x, mode="nearest")),
    ("gaussian_laplace", (16, 18), "float64", lambda m, x: m.gaussian_laplace(x, 1.2)),
    ("minimum_filter box, origin", (17, 19), "float32",
     lambda m, x: m.minimum_filter(x, (3, 4), mode="constant", cval=7, origin=(1, 0))),
    ("maximum_filter footprint", (17, 19), "uint8",
     lambda m, x: m.maximum_filter(x, footprint=PLUS, mode="wrap")),
    ("minimum_filter1d", (40,), "int16", lambda m, x: m.minimum_filter1d(x, 5, mode="mirror")),
    ("maximum_filter1d 3-D", (6, 7, 8), "float64",
     lambda m, x: m.maximum_filter1d(x, 3, axis=0)),
    ("median_filter 3x3", (17, 19), "uint8", lambda m, x: m.median_filter(x, 3)),
    ("median_filter 2x2 (even: upper median)", (17, 19), "float32",
     lambda m, x: m.median_filter(x, 2, mode="constant", cval=-1)),
    ("median_filter 3-D footprint", (6, 7, 8), "int16",
     lambda m, x: m.median_filter(x, footprint=CROSS3D, mode="wrap")),
    ("rank_filter large footprint", (15, 16), "float32",
     lambda m, x: m.rank_filter(x, -5, footprint=RING, mode="nearest")),
    ("percentile_filter footprint", (15, 16), "uint8",
     lambda m, x: m.percentile_filter(x, 30, footprint=PLUS, mode="mirror")),
    ("rank_filter 1-D", (40,), "float64", lambda m, x: m.rank_filter(x, 2, size=5)),
    ("generic_filter box", (12, 13), "float32",
     lambda m, x: m.generic_filter(x, lambda v: v.max() - v.min(), size=3)),
    ("generic_filter footprint and arguments", (12, 13), "int16",
     lambda m, x: m.generic_filter(x, lambda v, a, k=1.0: v.sum() * a + k, footprint=PLUS,
                                   extra_arguments=(2.0,), extra_keywords={"k": 3.0})),
    ("maximum_filter large disk footprint", (20, 21), "float32",
     lambda m, x: m.maximum_filter(x, footprint=DISK, mode="nearest")),
    ("generic_filter large disk footprint", (20, 21), "int16",
     lambda m, x: m.generic_filter(x, np.mean, footprint=DISK, mode="wrap")),
    ("generic_filter with a NumPy function", (12, 13), "float32",
     lambda m, x: m.generic_filter(x, np.std, footprint=PLUS, mode="nearest")),
    ("output dtype", (14, 15), "uint8",
     lambda m, x: m.correlate(x, W33, output=np.float32)),
    ("gaussian_gradient_magnitude on two axes of three", (3, 14, 15), "uint8",
     lambda m, x: m.gaussian_gradient_magnitude(x, 1.0, axes=(1, 2))),
    ("gaussian_gradient_magnitude int8 (square roots of negative wraps)", (14, 15), "int8",
     lambda m, x: m.gaussian_gradient_magnitude(x, 1.5, mode="mirror")),
    ("gaussian_laplace on two axes of three", (3, 14, 15), "float32",
     lambda m, x: m.gaussian_laplace(x, 1.0, axes=(1, 2), mode="wrap")),
    ("complex input", (12, 13), "complex128",
     lambda m, x: m.correlate(x, W33, mode="nearest")),
]

#: negative and large results stored as scipy's C casts store them (wrapped; a bool is the
#: byte left, so 0.5 and 256 are False)
for _dtype in ["bool", "int8", "uint16", "uint32", "int64", "uint64"]:
    CASES.append((f"signed weights into {_dtype}", (30,), _dtype,
                  lambda m, x: m.correlate1d(x, [0.5, -3.0, 2.0, 0.25], mode="reflect")))


@pytest.mark.parametrize("name, shape, dtype, call", CASES, ids=[c[0] for c in CASES])
def test_matches_scipy(name, shape, dtype, call):
    x = data(shape, dtype)
    before = x.copy()
    expected = call(ndi, x)
    exact = not (name.startswith("uniform") and x.dtype == np.float64)
    same(call(snd, x), expected, exact)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "wrap",
                                  "grid-wrap", "grid-mirror", "grid-constant"])
def test_every_mode(mode):
    x = data((11, 12), "float64")
    same(snd.correlate(x, W23, mode=mode, cval=-1.25), ndi.correlate(x, W23, mode=mode,
                                                                        cval=-1.25))
    y = data((11, 12), "int32")
    same(snd.maximum_filter(y, footprint=PLUS, mode=mode, cval=5),
         ndi.maximum_filter(y, footprint=PLUS, mode=mode, cval=5))


def test_moving_mean_float64_within_scipy_tolerance():
    x = data((25, 26), "float64")
    same(snd.uniform_filter(x, 5, mode="wrap"), ndi.uniform_filter(x, 5, mode="wrap"),
         exact=False)


def _value_range(values):
    """generic_filter's function most users write (one object: one kernel for every call)."""
    return values.max() - values.min()


@pytest.mark.parametrize("name, call", [
    ("gaussian_filter", lambda m, x: m.gaussian_filter(x, 1.3, mode="nearest")),
    ("median_filter", lambda m, x: m.median_filter(x, (1, 3, 3))),
    ("sobel", lambda m, x: m.sobel(x, axis=1)),
    ("maximum_filter", lambda m, x: m.maximum_filter(x, 4, mode="mirror")),
    ("correlate", lambda m, x: m.correlate(x, W33, axes=(1, 2), mode="wrap")),
    ("gradient magnitude, constant: pass by pass",
     lambda m, x: m.gaussian_gradient_magnitude(x, 1.0, axes=(1, 2), mode="constant")),
    ("generic_filter (stencilc's max/min)",
     lambda m, x: m.generic_filter(x, _value_range, size=(1, 3, 3), mode="reflect")),
])
def test_dask_any_chunking_matches_numpy(name, call):
    x = data((4, 23, 29), "uint8")
    expected = call(ndi, x)
    for chunks in [(1, 5, 7), (4, 23, 29), (3, 11, 2)]:
        lazy = call(snd, da.from_array(x, chunks=chunks))
        assert isinstance(lazy, da.Array)
        # one overlap for the whole filter, however many passes (docs/ndimage.md), except
        # where mode constant needs one per pass
        overlaps = len([name for name in lazy.dask.layers if name.startswith("overlap")])
        assert overlaps <= 1 or "constant" in name
        same(lazy.compute(), expected)


def test_parallel_target_gives_the_same_values():
    x = data((40, 33), "float32")
    same(snd.gaussian_filter(x, 1.5, target="parallel"), ndi.gaussian_filter(x, 1.5))


def test_xarray_dims_by_name():
    xr = pytest.importorskip("xarray")
    x = data((3, 16, 18), "float32")
    a = xr.DataArray(x, dims=("t", "y", "x"), coords={"t": [1, 2, 3]}, attrs={"units": "K"})
    got = snd.uniform_filter(a, 3, axes=("y", "x"))
    assert isinstance(got, xr.DataArray) and got.dims == a.dims and got.attrs == a.attrs
    same(got.values, ndi.uniform_filter(x, 3, axes=(1, 2)))
    spread = snd.generic_filter(a, _value_range, size=3, axes=("y", "x"))
    assert isinstance(spread, xr.DataArray) and spread.dims == a.dims
    same(spread.values, ndi.generic_filter(x, _value_range, size=(1, 3, 3)))
    with pytest.raises(ValueError, match="not a dimension"):
        snd.uniform_filter(a, 3, axes=("lat",))


def test_output_array_is_filled_and_returned():
    x = data((12, 13), "int16")
    out = np.zeros((12, 13), np.float32)
    assert snd.sobel(x, output=out) is out
    same(out, ndi.sobel(x, output=np.float32))


def _compiled() -> int:
    return sum(k.compile_count + sum(v.compile_count for v in k._variants.values())
               for k in list(_kernels._KERNELS.values()))


def test_new_weights_of_the_same_shape_compile_nothing():
    x = data((20, 21), "float32")
    snd.correlate(x, rng.standard_normal((4, 4)), mode="mirror")
    before = _compiled()
    for _ in range(3):
        w = rng.standard_normal((4, 4))
        same(snd.correlate(x, w, mode="mirror"), ndi.correlate(x, w, mode="mirror"))
    assert _compiled() == before


@pytest.mark.parametrize("call, error, match", [
    (lambda x: snd.correlate(x, W33, mode="edge"), ValueError, "not a mode"),
    (lambda x: snd.correlate(x, W33, origin=2), ValueError, "origin=2 is invalid"),
    (lambda x: snd.correlate(x, W23[0]), ValueError, "one dimension per filtered axis"),
    (lambda x: snd.correlate(x, W33 * 1j), TypeError, "complex weights"),
    (lambda x: snd.correlate1d(x, []), ValueError, "no filter weights"),
    (lambda x: snd.minimum_filter(x), ValueError, "no footprint or filter size"),
    (lambda x: snd.median_filter(x, footprint=np.zeros((3, 3))), ValueError, "selects no"),
    (lambda x: snd.rank_filter(x, 9, size=3), ValueError, "rank=9 is outside"),
    (lambda x: snd.percentile_filter(x, 120, size=3), ValueError, "percentile=120"),
    (lambda x: snd.uniform_filter(x, (3, 3, 3)), ValueError, "3 entries, but 2 axes"),
    (lambda x: snd.uniform_filter(x, 0), ValueError, "at least 1"),
    (lambda x: snd.sobel(x, axis=2), ValueError, "out of bounds"),
    (lambda x: snd.laplace(x, axes=("y",)), ValueError, "need an xarray input"),
    (lambda x: snd.generic_filter(x, 3, size=3), TypeError, "Python function"),
    (lambda x: snd.generic_filter(x, type("Summing", (), {"__call__": lambda s, v: v.sum()})(),
                                  size=3), TypeError, "numba can compile or a NumPy function"),
    (lambda x: snd.gaussian_filter(x, 1, order=-1), ValueError, "order=-1"),
    (lambda x: snd.correlate(x, W33, output=np.zeros((2, 2))), ValueError, "output has shape"),
])
def test_bad_arguments_are_numpy_style_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(data((8, 9), "float32"))


MODE_NAMES = ["reflect", "constant", "nearest", "mirror", "wrap", "grid-wrap", "grid-mirror",
              "grid-constant"]


@settings(max_examples=max(4, settings.default.max_examples // 5))
@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 4)),
       modes=st.tuples(st.sampled_from(MODE_NAMES), st.sampled_from(MODE_NAMES)),
       dtype=st.sampled_from(["uint8", "float32"]), seed=st.integers(0, 2**32 - 1),
       chunks=st.tuples(st.integers(1, 9), st.integers(1, 9)))
def test_random_weights_footprints_and_modes(shape, modes, dtype, seed, chunks):
    r = np.random.default_rng(seed)
    x = data((9, 10), dtype)
    weights = r.standard_normal(shape) * (r.random(shape) < 0.8)
    origin = tuple(int(r.integers(-(n // 2), (n - 1) // 2, endpoint=True)) for n in shape)
    expected = ndi.correlate(x, weights, mode=modes[0], cval=2.5, origin=origin)
    same(snd.correlate(x, weights, mode=modes[0], cval=2.5, origin=origin), expected)
    lazy = snd.correlate(da.from_array(x, chunks=chunks), weights, mode=modes[0], cval=2.5,
                         origin=origin)
    same(lazy.compute(), expected)
    footprint = weights != 0
    if footprint.any():
        rank = int(r.integers(0, footprint.sum()))
        same(snd.rank_filter(x, rank, footprint=footprint, mode=modes[1], origin=origin),
             ndi.rank_filter(x, rank, footprint=footprint, mode=modes[1], origin=origin))


def _window_reductions(values):
    return (values.max(), values.min(), np.max(values), np.min(values), np.amax(values),
            np.amin(values), np.ptp(values))


@functools.lru_cache(maxsize=None)
def _reductions_compiled():
    """The reductions compiled by numba for plain arrays and for generic_filter's values (one
    dispatcher each: every example of a size reuses its compiled code)."""
    import numba

    from stencilc.runtime.values import stack_values
    plain = numba.njit(_window_reductions)
    return plain, numba.njit(lambda t: plain(stack_values(t)))


@settings(max_examples=max(10, settings.default.max_examples))
@given(values=st.sampled_from([1, 2, 9]).flatmap(lambda size: st.lists(
    st.sampled_from([0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan, -np.nan, 3.0]),
    min_size=size, max_size=size)))
def test_window_reductions_are_numbas_bit_for_bit(values):
    """generic_filter's values have their own numba type whose max/min/ptp skip numba's
    per-value branch; their results must be numba's own on a plain array, bit for bit (which
    NaN, which zero), and NumPy's where NumPy agrees on the value."""
    plain, window = _reductions_compiled()
    # each NaN with a payload of its own, so "which NaN" is visible in the bits
    bits = np.array(values).view(np.uint64)
    nans = np.isnan(bits.view(np.float64))
    bits[nans] |= np.arange(1, nans.sum() + 1, dtype=np.uint64)
    array = bits.view(np.float64)
    ours = np.array(window(tuple(array)))
    numbas = np.array(plain(array))
    np.testing.assert_array_equal(ours.view(np.uint64), numbas.view(np.uint64))
    np.testing.assert_array_equal(ours[:2], [np.max(array), np.min(array)])


def test_window_reductions_resolve_to_the_branch_free_ones():
    """numba types np.max/amax/min/amin/ptp and the methods of generic_filter's values with
    stencilc's implementations (else the test above compares numba with itself)."""
    from numba.core.registry import cpu_target

    from stencilc.runtime.values import WindowValues
    context = cpu_target.typing_context
    context.refresh()
    values = WindowValues(9)
    for function in (np.max, np.amax, np.min, np.amin, np.ptp):
        typed = context.resolve_value_type(function)
        signature = typed.get_call_type(context, (values,), {})
        # stencilc's are inlined into the caller (numba's own are called: impl_max, ...)
        assert "always inlined" in repr(typed.get_impl_key(signature)), function
    for method in ("max", "min"):
        assert context.resolve_getattr(values, method).typing_key[0] is WindowValues


def test_generic_filter_reductions_of_any_footprint_size():
    """max/min/ptp of footprints of 1 to 25 cells with NaNs: scipy's values."""
    x = data((11, 12), "float32")
    x[3, 4] = x[7, 1] = np.nan
    spread = lambda v: v.max() - np.amin(v)      # noqa: E731
    for size, function in [(1, np.ptp), (2, spread), (5, np.ptp), (5, spread)]:
        same(snd.generic_filter(x, function, size=size, mode="mirror"),
             ndi.generic_filter(x, function, size=size, mode="mirror"))


@pytest.mark.parametrize("dtype, size, mode", [
    ("uint8", 15, "reflect"), ("uint16", (5, 9), "constant"), ("int16", 7, "wrap"),
    ("int8", (3, 3, 5), "mirror"), ("uint8", 6, "nearest")], ids=str)
def test_large_medians_of_small_integers_equal_scipy(dtype, size, mode):
    """An odd box of 8- or 16-bit integers past the selection network runs as the schedule's
    running histogram (np.median's middle is scipy's rank count // 2); an even box (scipy's
    upper middle) still partitions per point. The whole value range of the type, NumPy and
    Dask."""
    info = np.iinfo(dtype)
    ndim = len(size) if isinstance(size, tuple) else 2
    shape = (40, 53) if ndim == 2 else (9, 11, 13)
    x = np.random.default_rng(ndim).integers(info.min, info.max, shape, endpoint=True)
    x = x.astype(dtype)
    expected = ndi.median_filter(x, size=size, mode=mode, cval=3)
    got = snd.median_filter(x, size=size, mode=mode, cval=3)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    lazy = snd.median_filter(da.from_array(x, chunks=[s // 2 + 1 for s in shape]), size=size,
                             mode=mode, cval=3)
    np.testing.assert_array_equal(lazy.compute(), expected)
