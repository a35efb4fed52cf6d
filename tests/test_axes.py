"""``axes=``/``axis=`` with NumPy's generalized-ufunc meaning, on NumPy, Dask and (in
tests/test_cuda_sim.py) GPU arrays. Oracles: scipy.ndimage per channel, and a NumPy gufunc
built by numba.guvectorize for what NumPy accepts and how it refuses."""
from __future__ import annotations

import dask.array as da
import numba
import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given
from hypothesis import strategies as st

from conftest import load_source

CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.int32)

SUM5 = load_source("""
from stencilc import stencil_ufunc

@stencil_ufunc(boundary="nearest")
def sum5(x):
    return x[-1, 0] + x[0, -1] + x[0, 0] + x[0, 1] + x[1, 0]
""").sum5

DIFF = load_source("""
from stencilc import stencil_ufunc

@stencil_ufunc("(n)->(n)", boundary="wrap")
def diff(x):
    return x[1] - x[-1]
""").diff


@numba.guvectorize(["void(int32[:, :], int32[:, :])"], "(n,m)->(n,m)")
def _numpy_gufunc(x, out):   # only asked what NumPy accepts for axes= and how it refuses
    out[:] = x


def _per_slice(x: np.ndarray, core: tuple[int, int]) -> np.ndarray:
    """scipy.ndimage on every 2-D slice along ``core``, the other axes looped over."""
    moved = np.moveaxis(x, core, (-2, -1))
    out = np.empty_like(moved)
    for index in np.ndindex(moved.shape[:-2]):
        out[index] = ndi.correlate(moved[index], CROSS, mode="nearest")
    return np.moveaxis(out, (-2, -1), core)


def test_rgb_stack_per_channel():
    rgb = np.random.default_rng(0).integers(0, 1000, size=(3, 17, 23, 3), dtype=np.int32)
    expected = np.stack([_per_slice(rgb[..., c], (1, 2)) for c in range(3)], axis=-1)
    np.testing.assert_array_equal(SUM5(rgb, axes=[(1, 2), (1, 2)]), expected)
    np.testing.assert_array_equal(SUM5(rgb, axes=[(-3, -2), (1, 2)]), expected)
    assert rgb.flags.writeable and SUM5(rgb).shape == rgb.shape   # input untouched


@st.composite
def arrays_and_axes(draw):
    ndim = draw(st.integers(2, 4))
    shape = tuple(draw(st.integers(1, 7)) for _ in range(ndim))
    core_in = tuple(draw(st.permutations(range(ndim)))[:2])
    core_out = tuple(draw(st.permutations(range(ndim)))[:2])
    seed = draw(st.integers(0, 2**32 - 1))
    x = np.random.default_rng(seed).integers(-999, 999, size=shape, dtype=np.int32)
    chunks = tuple(draw(st.sampled_from([n, max(1, n // 2), 1])) for n in shape)
    return x, core_in, core_out, chunks


@given(arrays_and_axes())
def test_any_axes_match_moving_them_by_hand(case):
    x, core_in, core_out, chunks = case
    expected = np.moveaxis(_per_slice(x, core_in), core_in, (-2, -1))
    expected = np.moveaxis(expected, (-2, -1), core_out)
    assert NUMPY_SHAPE(x, core_in, core_out) == expected.shape
    axes = [core_in, core_out]
    np.testing.assert_array_equal(SUM5(x, axes=axes), expected)
    lazy = SUM5(da.from_array(x, chunks=chunks), axes=axes)
    assert isinstance(lazy, da.Array)
    np.testing.assert_array_equal(lazy.compute(), expected)
    out = np.full(expected.shape, -1, np.int32)
    assert SUM5(x, axes=axes, out=out) is out
    np.testing.assert_array_equal(out, expected)


def NUMPY_SHAPE(x, core_in, core_out):
    return _numpy_gufunc.ufunc(x, axes=[core_in, core_out]).shape


def test_axis_for_one_core_dimension():
    x = np.arange(60, dtype=np.int64).reshape(3, 4, 5) ** 2
    for axis in (0, 1, -1):
        expected = np.roll(x, -1, axis) - np.roll(x, 1, axis)
        np.testing.assert_array_equal(DIFF(x, axis=axis), expected)
        np.testing.assert_array_equal(DIFF(da.from_array(x, chunks=2), axis=axis).compute(),
                                      expected)


BAD_AXES = [
    dict(axes=[(1, 2)]),                      # an entry missing
    dict(axes=(1, 2)),                        # not a list
    dict(axes=[(1,), (1, 2)]),                # too few axes for the operand
    dict(axes=[1, (1, 2)]),                   # an integer for two core dimensions
    dict(axes=[(1, 5), (1, 2)]),              # out of bounds
    dict(axes=[(1, 1), (1, 2)]),              # repeated
    dict(axes=[(1, "a"), (1, 2)]),            # not an integer
    dict(axes=[(1, 2), (1, 2)], axis=1),      # both
    dict(axis=1),                             # axis= needs one shared core dimension
]


@pytest.mark.parametrize("kwargs", BAD_AXES, ids=[str(k) for k in BAD_AXES])
def test_bad_axes_are_refused_as_numpy_refuses_them(kwargs):
    x = np.zeros((2, 5, 6), np.int32)
    with pytest.raises(Exception) as numpy_error:
        _numpy_gufunc.ufunc(x, **kwargs)
    with pytest.raises(type(numpy_error.value)) as ours:
        SUM5(x, **kwargs)
    theirs = str(numpy_error.value).split(": ", 1)[-1]   # NumPy names its ufunc, we ours
    assert str(ours.value).split(": ", 1)[-1] == theirs
    with pytest.raises(type(numpy_error.value)):
        SUM5(da.zeros((2, 5, 6), np.int32), **kwargs)


def test_dims_is_for_xarray_only():
    with pytest.raises(TypeError, match="dims= names xarray dimensions.*use axes="):
        SUM5(np.zeros((4, 4)), dims=("y", "x"))
