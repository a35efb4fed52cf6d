"""Hostile arrays at call time, on every registered target (the `target` fixture): the right
numbers or a clear NumPy-style error, and inputs left exactly as they were. The oracle is
scipy.ndimage.correlate."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi

from stencilc import stencil_ufunc

WEIGHTS = np.zeros((3, 3))
WEIGHTS[0, 1], WEIGHTS[1, 2], WEIGHTS[2, 0] = 1, 2, -1


def edge(x):
    return x[-1, 0] + 2 * x[0, 1] - x[1, -1]


_KERNELS: dict[str, object] = {}


def kernel_for(target: str):
    """One compiled object per target for the whole module (compiling is the slow part)."""
    if target not in _KERNELS:
        _KERNELS[target] = stencil_ufunc(boundary="reflect", target=target)(edge)
    return _KERNELS[target]


def expected(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    weights = WEIGHTS.reshape((1,) * (x.ndim - 2) + WEIGHTS.shape)
    exact = ndi.correlate(x.astype(np.complex128 if x.dtype.kind == "c" else np.float64),
                          weights, mode="reflect")
    return exact.astype(x.dtype.newbyteorder("="))


def check(target: str, x, **call) -> np.ndarray:
    original = np.array(x, copy=True)
    result = kernel_for(target)(x, **call)
    np.testing.assert_array_equal(result, expected(x))
    np.testing.assert_array_equal(np.asarray(x), original)      # input untouched
    return result


def image(shape=(13, 11), dtype=np.float64, seed=0):
    return np.random.default_rng(seed).integers(-50, 50, shape).astype(dtype)


@pytest.mark.parametrize("view", [
    lambda a: a[:, ::2, ::3],            # strided
    lambda a: a[:, ::-1, ::-1],          # negative strides
    lambda a: np.asfortranarray(a),      # Fortran order
    lambda a: a.transpose(0, 2, 1),      # core axes swapped
    lambda a: a[::2],                    # strided loop axis, contiguous cores
    lambda a: np.broadcast_to(a[:1], a.shape),   # zero loop stride
], ids=["strided", "negative", "fortran", "transposed", "loop-strided", "broadcast"])
def test_any_memory_layout(target, view):
    check(target, view(image((4, 13, 11))))


def test_read_only_and_memory_mapped_inputs(target, tmp_path):
    x = image()
    x.flags.writeable = False
    check(target, x)
    mapped = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32,
                                       shape=(3, 12, 10))
    mapped[...] = image((3, 12, 10), np.float32)
    mapped.flush()
    readonly = np.load(tmp_path / "x.npy", mmap_mode="r")
    check(target, readonly)
    out = np.lib.format.open_memmap(tmp_path / "out.npy", mode="w+", dtype=np.float32,
                                    shape=(3, 12, 10))
    assert kernel_for(target)(readonly, out=out) is out
    np.testing.assert_array_equal(out, expected(readonly))


@pytest.mark.parametrize("dtype", [">f8", ">i4", "<u2", ">c16"])
def test_byte_orders(target, dtype):
    x = image(dtype=np.dtype(dtype).newbyteorder("=")).astype(dtype)
    result = check(target, x)
    assert result.dtype.isnative


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 0), (2, 0, 3), (1, 1), (2, 1), (1, 2),
                                   (2, 2), (0, 4, 4)])
def test_empty_and_smaller_than_the_stencil(target, shape):
    result = check(target, image(shape))
    assert result.shape == shape


def test_nan_and_inf_propagate_like_scipy(target):
    x = image()
    x[3, 4], x[7, 7], x[0, 0] = np.nan, np.inf, -np.inf
    original = x.copy()
    result = kernel_for(target)(x)
    exact = ndi.correlate(x, WEIGHTS, mode="reflect")
    np.testing.assert_array_equal(np.isnan(result), np.isnan(exact))
    finite = np.isfinite(exact)
    np.testing.assert_array_equal(result[finite], exact[finite])
    np.testing.assert_array_equal(result[~finite], exact[~finite])
    np.testing.assert_array_equal(x, original)


def test_python_lists_and_scalars(target):
    rows = image((5, 6)).tolist()
    check(target, rows)
    with pytest.raises(ValueError, match="does not have enough dimensions"):
        kernel_for(target)(3.0)
    with pytest.raises(ValueError, match="does not have enough dimensions"):
        kernel_for(target)(np.float64(3.0))
    with pytest.raises(ValueError, match="does not have enough dimensions"):
        kernel_for(target)([1.0, 2.0])


def test_out_that_overlaps_the_input_is_computed_through_a_temporary(target):
    x = image((3, 9, 8))
    want = expected(x)
    f = kernel_for(target)
    assert f(x, out=x) is x                      # in place: the classic stencil hazard
    np.testing.assert_array_equal(x, want)
    y = image((3, 9, 8), seed=1)
    want = expected(y[1:])
    f(y[1:], out=y[:-1])                          # shifted overlap
    np.testing.assert_array_equal(y[:-1], want)
    z = image((9, 8), seed=2)
    want = expected(z)
    f(z, out=z.T.T[::1])                          # same memory through a view
    np.testing.assert_array_equal(z, want)


def test_strided_and_fortran_outputs_are_filled(target):
    x = image((2, 7, 6))
    base = np.full((2, 7, 12), -1.0)
    out = base[:, :, ::2]
    assert kernel_for(target)(x, out=out) is out
    np.testing.assert_array_equal(out, expected(x))
    np.testing.assert_array_equal(base[:, :, 1::2], -1.0)   # nothing written between
    fortran = np.asfortranarray(np.zeros((2, 7, 6)))
    kernel_for(target)(x, out=fortran)
    np.testing.assert_array_equal(fortran, expected(x))


def test_wrong_out_is_refused_and_left_alone(target):
    f = kernel_for(target)
    x = image()
    for out, error, words in [
        (np.zeros((13, 10)), ValueError, "mismatch|shape|dimension"),
        (np.zeros((13, 11), np.int64), TypeError, "Cannot cast"),
        (np.zeros((13, 11), object), TypeError, "not supported"),
        ([[0.0] * 11] * 13, TypeError, "must be a numpy array"),
    ]:
        before = np.array(out, copy=True)
        with pytest.raises(error, match=words):
            f(x, out=out)
        np.testing.assert_array_equal(np.asarray(out), before)
    readonly = np.zeros((13, 11))
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        f(x, out=readonly)


@pytest.mark.parametrize("bad", [
    np.array([["a", "b"], ["c", "d"]]),
    np.array([[1, 2], [3, 4]], dtype=object),
    np.array([["2020-01-01"] * 2] * 2, dtype="datetime64[D]"),
    np.array([[1, 2], [3, 4]], dtype="timedelta64[s]"),
    np.zeros((2, 2), np.float16),
], ids=["str", "object", "datetime", "timedelta", "float16"])
def test_unsupported_dtypes_list_the_supported_ones(target, bad):
    before = bad.copy()
    with pytest.raises(TypeError, match="supported dtypes: bool, int8"):
        kernel_for(target)(bad)
    np.testing.assert_array_equal(bad, before)


NP_PAD = {"nearest": "edge", "reflect": "symmetric", "mirror": "reflect", "wrap": "wrap",
          "constant": "constant"}


@pytest.mark.parametrize("mode", list(NP_PAD))
def test_far_taps_read_through_the_boundary_rule(target, mode):
    """Issue 25 item 2: taps far outside a small array (a box of 3001 x 2001 cells around
    4 x 5 points) read what np.pad puts there, and cost memory in the taps, not the box."""
    from conftest import load_source
    kernel = load_source("def far(x):\n    return x[0, 0] + 2 * x[3000, 0] - x[7, -2000]\n").far
    f = stencil_ufunc(boundary=mode, cval=-3, target=target)(kernel)
    x = np.random.default_rng(3).normal(size=(4, 5))
    extra = {"constant_values": -3} if mode == "constant" else {}
    p = np.pad(x, ((0, 3000), (2000, 0)), mode=NP_PAD[mode], **extra)
    expected = x + 2 * p[3000:3004, 2000:] - p[7:11, :5]
    np.testing.assert_array_equal(f(x), expected)
