"""Random stencils, written as source text, against oracles nobody here wrote.

* every scipy.ndimage mode: ``scipy.ndimage.correlate`` with the same weights;
* ``boundary=None`` with ``out_dtype="kernel"``: ``numba.stencil`` on the same source, values
  and output dtype.
"""
from __future__ import annotations

import numba
import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, note
from hypothesis import strategies as st

from conftest import load_source
from stencilc import stencil_ufunc

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
          np.uint64, np.float32, np.float64, np.complex128]
MODES = ["constant", "nearest", "reflect", "mirror", "wrap"]


@st.composite
def stencils(draw):
    """(source, weights array for scipy, dtype, input array)."""
    ndim = draw(st.integers(1, 3))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    radius = 3
    offsets = st.tuples(*[st.integers(-radius, radius)] * ndim)
    taps = draw(st.lists(offsets, min_size=1, max_size=6, unique=True))
    if dtype.kind == "f" and draw(st.booleans()):
        # scipy.ndimage.correlate (the oracle) skips weights of magnitude <= 2**-52 as zeros
        weight = st.floats(-2, 2, allow_nan=False, width=32).filter(
            lambda w: abs(w) > np.finfo(np.float64).eps)
    elif dtype.kind == "u":
        weight = st.integers(1, 3)
    else:
        weight = st.integers(-3, 3).filter(lambda w: w != 0)
    weights = [draw(weight) for _ in taps]
    terms = []
    for tap, w in zip(taps, weights):
        read = f"x[{', '.join(map(str, tap))}]"
        terms.append(read if w == 1 else f"{w!r} * {read}")
    source = "def kernel(x):\n    return " + " + ".join(terms) + "\n"
    table = np.zeros((2 * radius + 1,) * ndim)
    for tap, w in zip(taps, weights):
        table[tuple(t + radius for t in tap)] += w
    max_side = {1: 12, 2: 7, 3: 5}[ndim]
    shape = tuple(draw(st.lists(st.integers(0, max_side), min_size=ndim, max_size=ndim)))
    seed = draw(st.integers(0, 2**32 - 1))
    x = _random_array(np.random.default_rng(seed), shape, dtype)
    return source, table, dtype, x


def _random_array(rng, shape, dtype):
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(dtype)
    if dtype.kind == "u":
        return rng.integers(0, 100, shape).astype(dtype)
    if dtype.kind == "i":
        return rng.integers(-100, 100, shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


def _expected_in(dtype, exact):
    """The exact (float64) result stored in ``dtype`` as a C cast does."""
    if dtype.kind == "b":
        return exact != 0
    if dtype.kind in "iu":
        return exact.astype(np.int64).astype(dtype)
    return exact.astype(dtype)


@given(stencils(), st.sampled_from(MODES), st.integers(0, 5))
def test_modes_match_scipy_correlate(case, mode, cval):
    source, table, dtype, x = case
    note(source)
    cval = min(cval, 1) if dtype.kind == "b" else cval
    kernel = load_source(source).kernel
    f = stencil_ufunc(boundary=mode, cval=cval)(kernel)
    wide = np.complex128 if dtype.kind == "c" else np.float64
    exact = ndi.correlate(x.astype(wide), table, mode=mode, cval=cval)
    original = x.copy()

    into = np.empty(x.shape, wide)
    assert f(x, out=into) is into
    if dtype.kind in "biu":
        np.testing.assert_array_equal(into, exact)
    else:
        scale = np.abs(table).sum() * max(1.0, float(np.abs(x).max(initial=0)))
        np.testing.assert_allclose(into, exact, rtol=1e-6, atol=1e-6 * scale)

    default = f(x)
    assert default.dtype == dtype
    expected = _expected_in(dtype, exact)
    if dtype.kind in "biu":
        np.testing.assert_array_equal(default, expected)
    else:
        tol = 1e-5 if dtype == np.float32 else 1e-6
        np.testing.assert_allclose(default, expected, rtol=tol, atol=tol * scale)
    np.testing.assert_array_equal(x, original)


@given(stencils(), st.integers(0, 5))
def test_no_boundary_matches_numba_stencil(case, cval):
    source, _, dtype, x = case
    note(source)
    cval = min(cval, 1) if dtype.kind == "b" else cval
    kernel = load_source(source).kernel
    ours = stencil_ufunc(out_dtype="kernel", cval=cval)(kernel)
    reference = numba.stencil(cval=cval)(kernel)
    run = numba.njit(lambda a: reference(a))
    expected = run(x)
    got = ours(x)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("n", [1, 2, 3])
def test_offsets_wider_than_the_array(mode, n):
    kernel = load_source("def kernel(x):\n    return x[-7] + 2 * x[5] + 3 * x[0]\n").kernel
    f = stencil_ufunc(boundary=mode, cval=4, out_dtype=np.float64)(kernel)
    x = np.arange(1, n + 1, dtype=np.int32)
    table = np.zeros(15)
    table[[0, 12, 7]] = [1, 2, 3]
    np.testing.assert_array_equal(f(x), ndi.correlate(x.astype(float), table, mode=mode, cval=4))
