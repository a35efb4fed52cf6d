"""xarray natively: DataArray in, DataArray out (coordinates, attributes and dimension order
kept), lazy for Dask data, core dimensions by name, boundaries per named dimension, Datasets.
Oracles: scipy.ndimage per slice and np.pad with NumPy slicing."""
from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import scipy.ndimage as ndi
import xarray as xr

from conftest import load_source

CROSS = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float64)

KERNELS = load_source("""
from stencilc import stencil_ufunc

@stencil_ufunc(boundary="reflect")
def lap(u):
    return u[-1, 0] + u[1, 0] + u[0, -1] + u[0, 1] - 4 * u[0, 0]

@stencil_ufunc(boundary={"lon": "wrap", "lat": "nearest"})
def lap_globe(u):
    return u[-1, 0] + u[1, 0] + u[0, -1] + u[0, 1] - 4 * u[0, 0]

@stencil_ufunc(boundary="nearest")
def grad(u):
    return u[1, 0] - u[-1, 0], u[0, 1] - u[0, -1]
""")


def _field(chunks=None) -> xr.DataArray:
    values = np.random.default_rng(1).normal(size=(3, 12, 16))
    data = da.from_array(values, chunks=chunks) if chunks else values
    return xr.DataArray(data, dims=("time", "lat", "lon"), name="t2m",
                        coords={"time": [10, 20, 30], "lat": np.linspace(-60, 60, 12),
                                "lon": np.arange(16) * 22.5},
                        attrs={"units": "K"})


def _per_slice(values: np.ndarray, mode: str) -> np.ndarray:
    return np.stack([ndi.correlate(v, CROSS, mode=mode) for v in values])


def test_dataarray_in_dataarray_out():
    field = _field()
    result = KERNELS.lap(field)
    assert isinstance(result, xr.DataArray)
    assert result.dims == field.dims and result.attrs == field.attrs
    for name in field.coords:
        xr.testing.assert_identical(result[name], field[name])
    np.testing.assert_allclose(result.values, _per_slice(field.values, "reflect"),
                               rtol=0, atol=1e-12)


def test_dask_backed_stays_lazy_and_equal():
    field = _field(chunks=(1, 5, 7))
    with dask.config.set(scheduler=_refuse_compute):
        result = KERNELS.lap(field)                 # no compute while building
    assert isinstance(result.data, da.Array)
    np.testing.assert_array_equal(result.values, KERNELS.lap(field.compute()).values)


def _refuse_compute(*args, **kwargs):
    raise AssertionError("computed while building the lazy result")


def test_dims_picks_core_dimensions_by_name():
    field = _field().transpose("lat", "time", "lon")   # core dims not last
    result = KERNELS.lap(field, dims=("lat", "lon"))
    assert result.dims == ("lat", "time", "lon")
    expected = _per_slice(field.transpose("time", "lat", "lon").values, "reflect")
    np.testing.assert_allclose(result.transpose("time", "lat", "lon").values, expected,
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("chunks", [None, (1, 4, 5)])
def test_boundary_per_named_dimension(chunks):
    field = _field(chunks).transpose("time", "lon", "lat")   # names, not positions, count
    result = KERNELS.lap_globe(field, dims=("lon", "lat"))
    u = field.transpose("time", "lat", "lon").values
    padded = np.pad(np.pad(u, ((0, 0), (1, 1), (0, 0)), mode="edge"),
                    ((0, 0), (0, 0), (1, 1)), mode="wrap")
    c = padded[:, 1:-1, 1:-1]
    # the kernel's first core axis is lon here: its sum in the kernel's order
    expected = padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:] + padded[:, :-2, 1:-1] \
        + padded[:, 2:, 1:-1] - 4 * c
    np.testing.assert_array_equal(result.transpose("time", "lat", "lon").values, expected)


def test_named_boundary_with_plain_arrays_needs_the_signatures_names():
    with pytest.raises(ValueError, match=r"names the dimensions \['lat', 'lon'\].*signature"):
        KERNELS.lap_globe(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"this call's core dimensions are \('time', 'lat'\)"):
        KERNELS.lap_globe(_field(), dims=("time", "lat"))


def test_several_outputs_and_apply_ufunc_still_work():
    field = _field(chunks=(1, 6, 8))
    gy, gx = KERNELS.grad(field)
    assert gy.dims == field.dims and isinstance(gy.data, da.Array)
    values = field.values
    padded = np.pad(values, ((0, 0), (1, 1), (1, 1)), mode="edge")
    np.testing.assert_array_equal(gy.values, padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1])
    np.testing.assert_array_equal(gx.values, padded[:, 1:-1, 2:] - padded[:, 1:-1, :-2])
    via = xr.apply_ufunc(KERNELS.lap, field, input_core_dims=[["lat", "lon"]],
                         output_core_dims=[["lat", "lon"]], dask="allowed")
    np.testing.assert_array_equal(via.values, KERNELS.lap(field).values)


@pytest.mark.parametrize("dims", [("lat", "lon"), None])
def test_dataset_applies_to_each_variable_with_the_dims(dims):
    field = _field()
    ds = xr.Dataset({"t2m": field, "sst": field * 2, "index": ("time", [1.0, 2.0, 3.0]),
                     "station": (("time", "lat"), np.ones((3, 12)))}, attrs={"source": "test"})
    result = KERNELS.lap(ds, dims=dims)
    assert isinstance(result, xr.Dataset) and result.attrs == ds.attrs
    for kept in ("index", "station"):     # without both core dimensions: as they were
        xr.testing.assert_identical(result[kept], ds[kept])
    for name in ("t2m", "sst"):
        np.testing.assert_allclose(result[name].values, _per_slice(ds[name].values, "reflect"),
                                   rtol=0, atol=1e-12)
    with pytest.raises(TypeError, match="with a Dataset, name the core dimensions"):
        KERNELS.lap(ds, axes=[(1, 2), (1, 2)])


def test_axes_translate_to_names():
    field = _field().transpose("lat", "time", "lon")
    result = KERNELS.lap(field, axes=[(0, 2), (0, 2)])
    assert result.dims == field.dims                 # the input's order, as documented
    expected = _per_slice(field.transpose("time", "lat", "lon").values, "reflect")
    np.testing.assert_allclose(result.transpose("time", "lat", "lon").values, expected,
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(dims=("lat",)), ValueError, "names 1 dimension"),
    (dict(dims=("lat", "depth")), ValueError, "'depth', which is not a dimension"),
    (dict(dims=("lat", "lon"), axes=[(1, 2), (1, 2)]), TypeError, "both 'dims' and 'axes'"),
    (dict(out=np.zeros((3, 12, 16))), TypeError, "out= is not supported with xarray"),
])
def test_bad_calls(kwargs, error, match):
    with pytest.raises(error, match=match):
        KERNELS.lap(_field(), **kwargs)


def test_named_boundary_needs_one_name_per_core_axis_and_lists_its_types():
    from stencilc import stencil_ufunc
    with pytest.raises(ValueError, match="names 1 dimension.*2 core axes"):
        stencil_ufunc(boundary={"lat": "wrap"})(KERNELS.lap.py_func)
    KERNELS.lap_globe(_field(), dims=("lat", "lon"))
    assert "d->d" in KERNELS.lap_globe.types


def test_iterate_keeps_labels_and_equals_the_loop_numpy_and_dask():
    field = _field()
    expected = field.values
    for _ in range(4):
        expected = _per_slice(expected, "reflect")
    for data in (field, _field(chunks=(1, 5, 7))):
        result = KERNELS.lap.iterate(data, steps=4)
        assert isinstance(result, xr.DataArray)
        assert result.dims == field.dims and result.attrs == field.attrs
        for name in field.coords:
            xr.testing.assert_identical(result[name], field[name])
        np.testing.assert_allclose(result.values, expected, rtol=1e-12, atol=1e-9)
        looped = data
        for _ in range(4):
            looped = KERNELS.lap(looped)
        np.testing.assert_array_equal(result.values, looped.values)


def test_iterate_by_dimension_name_on_transposed_data():
    field = _field().transpose("lat", "time", "lon")     # core dimensions not last
    result = KERNELS.lap.iterate(field, steps=3, dims=("lat", "lon"))
    looped = field
    for _ in range(3):
        looped = KERNELS.lap(looped, dims=("lat", "lon"))
    assert result.dims == field.dims
    np.testing.assert_array_equal(result.values, looped.values)
    with pytest.raises(TypeError, match="not a Dataset"):
        KERNELS.lap.iterate(field.to_dataset(name="u"), steps=1)


@pytest.mark.parametrize("written", [{"lat": "nearest", "lon": "wrap"},
                                     {"lon": "wrap", "lat": "nearest"}])
def test_compile_works_on_a_boundary_keyed_by_name(written):
    """Issue 21 bug 4: ``f.compile("float32")`` failed on such a kernel. It compiles for the
    dimensions in the order the boundary names them (or ``dims=``), as a call would."""
    from stencilc import stencil_ufunc
    f = stencil_ufunc(boundary=written)(KERNELS.lap.py_func)
    x = np.random.default_rng(4).normal(size=(6, 7)).astype(np.float32)
    order = tuple(written)
    pad = {"nearest": "edge", "wrap": "wrap"}
    p = np.pad(x, ((1, 1), (0, 0)), mode=pad[written[order[0]]])
    p = np.pad(p, ((0, 0), (1, 1)), mode=pad[written[order[1]]])
    expected = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4 * p[1:-1, 1:-1]
    got = f.compile("float32")(x)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got, f(xr.DataArray(x, dims=order)).values)
    np.testing.assert_array_equal(f.compile("float32", dims=order[::-1])(x.T.copy()),
                                  f(xr.DataArray(x.T, dims=order[::-1])).values)
