"""``boundary=``/``cval=`` given at call time (``f(x, boundary="wrap")``) against NumPy's
``np.pad`` of the same rule, on NumPy, Dask and xarray inputs and through ``iterate``."""
from __future__ import annotations

import inspect

import dask.array as da
import numpy as np
import pytest

from stencilc import stencil_ufunc

#: stencilc's mode -> np.pad's name for the same rule
PAD = {"nearest": "edge", "reflect": "symmetric", "mirror": "reflect", "wrap": "wrap",
       "constant": "constant"}


@stencil_ufunc
def laplacian(u):
    return u[-1, 0] + u[1, 0] + u[0, -1] + u[0, 1] - 4 * u[0, 0]


def padded_laplacian(x, modes, cval):
    p = x
    for axis, mode in enumerate(modes):
        width = [(0, 0)] * x.ndim
        width[axis] = (1, 1)
        extra = {"constant_values": cval} if mode == "constant" else {}
        p = np.pad(p, width, mode=PAD[mode], **extra)
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * p[1:-1, 1:-1]


x = np.random.default_rng(5).integers(-50, 50, (7, 9)).astype(np.int32)


@pytest.mark.parametrize("boundary, modes", [
    ("nearest", ("nearest",) * 2), ("reflect", ("reflect",) * 2),
    ("mirror", ("mirror",) * 2), ("wrap", ("wrap",) * 2), ("constant", ("constant",) * 2),
    ("grid-wrap", ("wrap",) * 2), (("wrap", "constant"), ("wrap", "constant")),
])
def test_call_time_boundary_matches_np_pad(boundary, modes):
    expected = padded_laplacian(x, modes, 3)
    np.testing.assert_array_equal(laplacian(x, boundary=boundary, cval=3), expected)
    lazy = laplacian(da.from_array(x, chunks=(3, 4)), boundary=boundary, cval=3)
    np.testing.assert_array_equal(lazy.compute(), expected)
    assert laplacian.boundary is None            # the kernel itself is unchanged


def test_call_time_cval_with_the_decorators_boundary():
    got = laplacian(x, cval=-7)                  # boundary=None: the border is cval
    assert (got[0] == -7).all() and (got[:, -1] == -7).all()
    np.testing.assert_array_equal(got[1:-1, 1:-1], padded_laplacian(x, ("wrap",) * 2, 0)[1:-1, 1:-1])


def test_variants_are_built_once_and_kept():
    assert laplacian.with_options(boundary="wrap") is laplacian.with_options(boundary="grid-wrap")
    assert laplacian.with_options(boundary=None, cval=0) is laplacian
    wrapped = laplacian.with_options(boundary="wrap", cval=2)
    assert (wrapped.boundary, wrapped.cval) == ("wrap", 2)


def test_iterate_and_trajectory_take_the_options():
    once = laplacian(x, boundary="mirror")
    twice = laplacian(once, boundary="mirror")
    np.testing.assert_array_equal(laplacian.iterate(x, steps=2, boundary="mirror"), twice)
    states = list(laplacian.trajectory(x, steps=2, every=1, boundary="mirror"))
    np.testing.assert_array_equal(states[-1][1], twice)


def test_xarray_call_with_a_boundary_by_dimension_name():
    xr = pytest.importorskip("xarray")
    a = xr.DataArray(x, dims=("lat", "lon"))
    got = laplacian(a, boundary={"lon": "wrap", "lat": "nearest"})
    np.testing.assert_array_equal(got.values, padded_laplacian(x, ("nearest", "wrap"), 0))


def test_signature_shows_the_options():
    params = inspect.signature(laplacian).parameters
    assert params["boundary"].default is None and params["cval"].default == 0


@pytest.mark.parametrize("options, error, match", [
    (dict(boundary="edge"), ValueError, "did you mean boundary='nearest'"),
    (dict(boundary=("wrap",) * 3), ValueError, "3 modes, but the kernel has 2 core axes"),
    (dict(boundary={"a": "wrap"}), ValueError, "names 1 dimension"),
    (dict(cval="1"), TypeError, "cval must be a number"),
    (dict(cval=float("nan")), ValueError, "cannot be stored"),
])
def test_bad_call_time_options(options, error, match):
    with pytest.raises(error, match=match):
        laplacian(x, **options)
