"""Kernel semantics a new user runs into (issue 10): one cval rule, per-axis boundaries, checked
reads of standard_indexing arrays, array-valued locals, scalars in standard_indexing, and
globals bound after the kernel. Oracles: NumPy (np.pad + slicing, astype), numba.stencil."""
from __future__ import annotations

import decimal
import fractions
import pickle
import warnings

import numba
import numpy as np
import pytest

from conftest import load_source
from stencilc import StencilNameError, StencilSyntaxError, stencil_ufunc

rng = np.random.default_rng(10)

#: np.pad's name for each boundary mode
NP_PAD = {"nearest": "edge", "reflect": "symmetric", "mirror": "reflect", "wrap": "wrap",
          "constant": "constant"}


def laplacian(x):
    return x[-1, 0] + x[1, 0] + x[0, -1] + x[0, 1] - 4 * x[0, 0]


def laplacian_of_padded(p):
    """The 5-point Laplacian by NumPy slicing of an array padded by 1 on both axes."""
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * p[1:-1, 1:-1]


def pad_per_axis(x, modes, depth, cval=0):
    """``x`` padded by ``depth`` along each axis with that axis' mode, as np.pad does it."""
    for axis, mode in enumerate(modes):
        width = [(0, 0)] * x.ndim
        width[axis] = (depth, depth)
        extra = {"constant_values": cval} if mode == "constant" else {}
        x = np.pad(x, width, mode=NP_PAD[mode], **extra)
    return x


def numba_stencil(kernel, *args, **options):
    reference = numba.stencil(**options)(kernel)
    return numba.njit(lambda *a: reference(*a))(*args)


# --- 1. one cval rule ---------------------------------------------------------------------------

@pytest.mark.parametrize("cval", [300, 300.0, -1.5, -129.75, 1000, True])
def test_boundary_none_fills_with_cval_cast_as_numpy_casts(cval, target, xp):
    f = stencil_ufunc(cval=cval, target=target)(laplacian)
    x = rng.integers(-20, 20, (9, 11)).astype(np.int8)
    got = np.asarray(f(xp(x)))
    expected = np.full(x.shape, np.array(cval).astype(np.int8))
    expected[1:-1, 1:-1] = laplacian_of_padded(x)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("cval", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("boundary", [None, "constant", ("constant", "wrap"), (None, "wrap")])
def test_cval_that_an_integer_dtype_cannot_hold_is_a_value_error(cval, boundary, xp):
    f = stencil_ufunc(cval=cval, boundary=boundary)(laplacian)
    x = np.ones((6, 7), np.int16)
    with pytest.raises(ValueError, match=r"cval=(nan|inf|-inf) cannot be stored in an integer "
                                         r"dtype int16"):
        f(xp(x))
    with warnings.catch_warnings():   # nothing computed on pad cells holding cval (Dask)
        warnings.simplefilter("error")
        floats = np.asarray(f(xp(x.astype(np.float32))))   # a float dtype holds it
    reference = stencil_ufunc(cval=cval, boundary=boundary)(laplacian)(x.astype(np.float32))
    np.testing.assert_array_equal(floats, reference)


@pytest.mark.parametrize("cval", [-1.5, 300.0, 7])
def test_constant_mode_reads_cval_as_np_pad_stores_it(cval, xp):
    f = stencil_ufunc(boundary="constant", cval=cval)(laplacian)
    x = rng.integers(-50, 50, (8, 10)).astype(np.int16)
    expected = laplacian_of_padded(np.pad(x, 1, constant_values=cval))
    np.testing.assert_array_equal(np.asarray(f(xp(x))), expected)


def cross(x):
    return 0.5 * x[-1, 0] + 0.25 * x[0, 1] - x[0, 0]


@pytest.mark.parametrize("boundary", ["constant", None])
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_a_complex_cval_keeps_both_parts(boundary, dtype, target, xp):
    """Issue 21 bug 0: ``cval=1+2j`` into a complex image lost its imaginary part."""
    import scipy.ndimage as ndi
    f = stencil_ufunc(boundary=boundary, cval=1 + 2j, target=target)(cross)
    x = (rng.normal(size=(6, 7)) + 1j * rng.normal(size=(6, 7))).astype(dtype)
    weights = np.zeros((3, 3))
    weights[0, 1], weights[1, 2], weights[1, 1] = 0.5, 0.25, -1
    got = np.asarray(f(xp(x)))
    if boundary == "constant":
        expected = ndi.correlate(x.astype(np.complex128), weights, mode="constant", cval=1 + 2j)
    else:
        expected = np.full(x.shape, 1 + 2j)   # the points whose window leaves the array
        expected[1:, :-1] = ndi.correlate(x.astype(np.complex128), weights)[1:, :-1]
    np.testing.assert_allclose(got, expected, rtol=4 * np.finfo(dtype).eps, atol=1e-6)
    assert got[0, 0].imag != 0


@pytest.mark.parametrize("cval", [np.longdouble("inf"), decimal.Decimal("Infinity"),
                                  decimal.Decimal("-1.5"), fractions.Fraction(7, 2),
                                  np.float16(2.5), np.clongdouble(3), 10**400])
def test_every_kind_of_number_is_a_cval(cval, xp):
    """Issue 25 item 14: ``np.longdouble``, ``Decimal`` and ``Fraction`` cvals compile (they
    raised StencilInternalError) and fill as NumPy's pad with their float value does."""
    value = complex(cval).real if isinstance(cval, np.complexfloating) else float(cval) \
        if not isinstance(cval, int) else np.inf
    f = stencil_ufunc(boundary="constant", cval=cval)(laplacian)
    g = stencil_ufunc(cval=cval)(laplacian)
    x = rng.normal(size=(6, 7))
    with np.errstate(invalid="ignore"):
        expected = laplacian_of_padded(np.pad(x, 1, constant_values=value))
    np.testing.assert_array_equal(np.asarray(f(xp(x))), expected)
    filled = np.full(x.shape, value)
    filled[1:-1, 1:-1] = laplacian_of_padded(x)
    np.testing.assert_array_equal(np.asarray(g(xp(x))), filled)


def test_a_complex_cval_into_a_real_float_output_says_so():
    f = stencil_ufunc(boundary="constant", cval=1 + 2j)(laplacian)
    with pytest.raises(ValueError, match=r"cval=\(1\+2j\) cannot be stored in a real "
                                         r"floating-point dtype float64.*complex output"):
        f(np.ones((4, 4)))


def test_nan_cval_fills_float_outputs_with_nan(xp):
    f = stencil_ufunc(cval=np.nan)(laplacian)
    x = rng.normal(size=(6, 6))
    got = np.asarray(f(xp(x)))
    assert np.isnan(got[0]).all() and np.isnan(got[:, -1]).all()
    np.testing.assert_array_equal(got[1:-1, 1:-1], laplacian_of_padded(x))


# --- 8. per-axis boundaries ---------------------------------------------------------------------

MODES = ["nearest", "reflect", "mirror", "wrap", "constant"]


@pytest.mark.parametrize("first", MODES)
@pytest.mark.parametrize("second", MODES)
def test_per_axis_boundaries_match_np_pad_per_axis(first, second):
    import dask.array as da

    f = stencil_ufunc(boundary=(first, second), cval=2.5)(laplacian)
    x = rng.normal(size=(7, 9))
    expected = laplacian_of_padded(pad_per_axis(x, (first, second), 1, cval=2.5))
    np.testing.assert_array_equal(f(x), expected)
    np.testing.assert_array_equal(f(da.from_array(x, chunks=(3, 4))).compute(), expected)


def test_per_axis_boundaries_on_every_target_and_chunking(target):
    import dask.array as da

    @stencil_ufunc(boundary=("nearest", "wrap", "reflect"), target=target)
    def blur3(x):
        return (x[-1, 0, 0] + x[1, 0, 0] + x[0, -2, 0] + x[0, 2, 0] + x[0, 0, -1]
                + x[0, 0, 1]) / 6

    x = rng.normal(size=(2, 6, 10, 8))     # a loop axis, then three core axes
    p = np.pad(x, [(0, 0), (1, 1), (0, 0), (0, 0)], mode="edge")
    p = np.pad(p, [(0, 0), (0, 0), (2, 2), (0, 0)], mode="wrap")
    p = np.pad(p, [(0, 0), (0, 0), (0, 0), (1, 1)], mode="symmetric")
    expected = (p[:, :-2, 2:-2, 1:-1] + p[:, 2:, 2:-2, 1:-1] + p[:, 1:-1, :-4, 1:-1]
                + p[:, 1:-1, 4:, 1:-1] + p[:, 1:-1, 2:-2, :-2] + p[:, 1:-1, 2:-2, 2:]) / 6
    np.testing.assert_array_equal(blur3(x), expected)
    for chunks in [(1, 3, 5, 4), (2, 6, 3, 8), (1, 2, 10, 3)]:
        np.testing.assert_array_equal(blur3(da.from_array(x, chunks=chunks)).compute(), expected)


def test_a_none_axis_fills_the_points_whose_window_leaves_it(target, xp):
    """("wrap", None): periodic along axis 0; along axis 1 numba.stencil's rule, so points
    whose window leaves the array along axis 1 are cval, the others wrap along axis 0."""
    f = stencil_ufunc(boundary=("wrap", None), cval=-7.0, target=target)(laplacian)
    x = rng.normal(size=(8, 9))
    expected = laplacian_of_padded(pad_per_axis(x, ("wrap", "wrap"), 1))
    expected[:, [0, -1]] = -7.0
    np.testing.assert_array_equal(np.asarray(f(xp(x))), expected)
    import dask.array as da
    for chunks in [(8, 3), (3, 9), (2, 2)]:
        np.testing.assert_array_equal(f(da.from_array(x, chunks=chunks)).compute(), expected)


def test_per_axis_boundary_errors():
    with pytest.raises(ValueError, match=r"gives 3 modes, but the kernel has 2 core axes"):
        stencil_ufunc(boundary=("wrap", "wrap", "wrap"))(laplacian)
    with pytest.raises(ValueError, match=r"boundary\[1\]='edge' is not a mode.*did you mean "
                                         r"boundary\[1\]='nearest'"):
        stencil_ufunc(boundary=("wrap", "edge"))(laplacian)
    with pytest.raises(ValueError, match=r"boundary=\(\) names no mode"):
        stencil_ufunc(boundary=())(laplacian)
    with pytest.raises(TypeError, match=r"boundary\[0\] must be a string or None, not int"):
        stencil_ufunc(boundary=(1, "wrap"))(laplacian)


def test_a_tuple_of_one_mode_is_that_mode():
    x = rng.normal(size=(6, 7))
    same = stencil_ufunc(boundary=("reflect", "reflect"))(laplacian)
    np.testing.assert_array_equal(same(x), stencil_ufunc(boundary="reflect")(laplacian)(x))


# --- 2. reads of standard_indexing arrays stay inside them ---------------------------------------

def weighted(x, w):
    acc = 0.0
    for i in range(-1, 2):
        for j in range(-1, 2):
            acc += w[i + 1, j + 1] * x[i, j]
    return acc


def test_weights_too_small_for_constant_reads_raise_before_running(xp):
    f = stencil_ufunc(standard_indexing=["w"], boundary="nearest")(weighted)
    x = rng.normal(size=(6, 6))
    with pytest.raises(IndexError, match=r"reads w\[2, 0\] \(line \d+\), but argument 'w' has "
                                         r"core shape \(2, 2\).*axis 0 with size 2"):
        f(xp(x), xp(np.ones((2, 2))))
    w = rng.normal(size=(3, 3))
    expected = sum(w[i + 1, j + 1] * pad_per_axis(x, ("nearest",) * 2, 1)[1 + i:7 + i, 1 + j:7 + j]
                   for i in (-1, 0, 1) for j in (-1, 0, 1))
    np.testing.assert_allclose(np.asarray(f(xp(x), xp(w))), expected, rtol=1e-14)


def test_negative_constant_indices_need_that_many_elements():
    @stencil_ufunc(standard_indexing=["w"])
    def f(x, w):
        return x[0] * w[-3]

    np.testing.assert_array_equal(f(np.arange(4.0), np.array([2.0, 0, 0])), np.arange(4.0) * 2)
    with pytest.raises(IndexError, match=r"w\[-3\].*axis 0 with size 2"):
        f(np.arange(4.0), np.ones(2))


def test_reads_at_indices_known_only_at_run_time_are_checked(target):
    @stencil_ufunc(standard_indexing=["w"], target=target)
    def f(x, w, k):
        return x[0] * w[k]

    x = np.arange(5.0)
    np.testing.assert_array_equal(f(x, np.arange(3.0), 2), x * 2)
    np.testing.assert_array_equal(f(x, np.arange(3.0), -3), x * 0)
    for k in (3, -4):
        with pytest.raises(IndexError, match=r"kernel 'f': w\[k\] \(line \d+\) indexes 'w' out of"):
            f(x, np.arange(3.0), k)


def test_constant_reads_cost_nothing_in_the_interior():
    f = stencil_ufunc(standard_indexing=["w"])(weighted)
    source = f.inspect_source("float64", "float64")
    assert "_sc_index" not in source       # every index is constant after unrolling
    assert "w[2, 2]" in source


# --- 4-5. array-valued locals and scalars from standard_indexing (as numba.stencil) --------------

def row_local(a, b):
    c = b[0]
    return a[0, 1] + c[1]


def row_local_plus(a, b):
    c = b[0] + 1
    return a[0, 1] + c[1]


def row_loop(a, b):
    acc = 0.0
    for k in b[0, :]:
        acc += k
    return a[0, 1] + acc


def rows_loop(a, b):
    acc = 0.0
    for row in b:
        acc += row[2] * a[0, -1]
    return acc


@pytest.mark.parametrize("kernel", [row_local, row_local_plus, row_loop, rows_loop])
def test_array_valued_locals_match_numba_stencil(kernel, target):
    f = stencil_ufunc(standard_indexing=["b"], target=target)(kernel)
    a = rng.normal(size=(6, 7))
    b = rng.normal(size=(2, 3))
    np.testing.assert_array_equal(f(a, b), numba_stencil(kernel, a, b, standard_indexing=["b"]))
    assert f.signature == "(n,m),(b_0,b_1)->(n,m)"


def test_array_valued_locals_are_checked_as_they_are_read():
    f = stencil_ufunc(standard_indexing=["b"])(rows_loop)
    with pytest.raises(IndexError, match=r"row\[2\] \(line \d+\) indexes 'row' \(part of 'b'\)"):
        f(np.ones((4, 4)), np.ones((2, 2)))


def scalar_in_standard(a, b, c):
    return a[0, 1] + b[0, 1] * c


def test_a_scalar_in_standard_indexing_works_as_in_numba(xp):
    f = stencil_ufunc(standard_indexing=["b", "c"])(scalar_in_standard)
    a = rng.normal(size=(5, 6))
    b = rng.normal(size=(2, 3))
    expected = numba_stencil(scalar_in_standard, a, b, 2.5, standard_indexing=["b", "c"])
    np.testing.assert_array_equal(np.asarray(f(xp(a), xp(b), 2.5)), expected)
    with pytest.raises(ValueError, match="'c' is in standard_indexing but the kernel never "
                                         "indexes it, so it is a scalar"):
        f(a, b, np.ones(3))


def test_a_loop_over_a_relative_array_is_refused():
    module = load_source("def k(x):\n    acc = 0\n    for v in x:\n        acc += v\n"
                         "    return acc + x[0]\n")
    with pytest.raises(StencilSyntaxError, match="over a standard_indexing array") as info:
        stencil_ufunc(module.k)
    assert (info.value.lineno, info.value.offset) == (3, 14)


# --- 3. globals bound after the kernel ----------------------------------------------------------

LATE = """
from stencilc import stencil_ufunc

@stencil_ufunc
def shifted(x):
    return W0 * x[0, -1] + x[0, 0]

W0 = 0.25
"""


def test_a_global_bound_after_the_kernel_is_read_at_first_call():
    module = load_source(LATE)
    x = rng.normal(size=(4, 6))
    expected = np.zeros_like(x)
    expected[:, 1:] = 0.25 * x[:, :-1] + x[:, 1:]
    np.testing.assert_array_equal(module.shifted(x), expected)
    module.W0 = 100.0             # frozen at first use, as numba freezes globals
    np.testing.assert_array_equal(module.shifted(x), expected)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(module.shifted))(x), expected)


def test_a_global_never_bound_is_a_located_error_at_first_call():
    module = load_source(LATE.replace("W0 = 0.25", ""))
    with pytest.raises(StencilNameError, match="name 'W0' is not defined") as info:
        module.shifted(np.ones((3, 3)))
    assert info.value.filename == module.__file__
    assert (info.value.lineno, info.value.offset) == (6, 12)
    assert info.value.name == "W0"
    assert isinstance(info.value, StencilSyntaxError)
