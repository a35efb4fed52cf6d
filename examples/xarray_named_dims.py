"""A stencil on xarray data by dimension name: a Laplacian on a latitude-longitude grid,
periodic in longitude and clamped at the poles, on a chunked Dask-backed DataArray.

``boundary={"lon": "wrap", "lat": "nearest"}`` gives the mode by dimension name, so it holds
whatever the order of the dimensions; the result is a lazy DataArray with the coordinates and
attributes of the input. Checked against np.pad and NumPy slicing.
"""
import dask.array as da
import numpy as np
import xarray as xr

from stencilc import stencil_ufunc


@stencil_ufunc(boundary={"lon": "wrap", "lat": "nearest"})
def laplacian(u):
    return u[-1, 0] + u[1, 0] + u[0, -1] + u[0, 1] - 4 * u[0, 0]


def main() -> None:
    values = np.random.default_rng(0).normal(size=(3, 60, 80))
    field = xr.DataArray(da.from_array(values, chunks=(1, 20, 40)),
                         dims=("time", "lat", "lon"), name="temperature",
                         coords={"time": [0, 1, 2], "lat": np.linspace(-88.5, 88.5, 60),
                                 "lon": np.arange(80) * 4.5}, attrs={"units": "K"})
    result = laplacian(field, dims=("lat", "lon"))
    print(result)
    assert isinstance(result.data, da.Array) and result.attrs == field.attrs
    p = np.pad(np.pad(values, ((0, 0), (1, 1), (0, 0)), mode="edge"),
               ((0, 0), (0, 0), (1, 1)), mode="wrap")
    expected = p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:] \
        - 4 * p[:, 1:-1, 1:-1]
    np.testing.assert_array_equal(result.values, expected)
    # xr.apply_ufunc hands over bare arrays, so name the dimensions for the boundary first
    via_apply_ufunc = xr.apply_ufunc(laplacian.for_dims(("lat", "lon")), field,
                                     input_core_dims=[["lat", "lon"]],
                                     output_core_dims=[["lat", "lon"]], dask="allowed")
    np.testing.assert_array_equal(via_apply_ufunc.values, expected)
    print("lazy DataArray with its coordinates; equal to np.pad + slicing; "
          "xr.apply_ufunc gives the same")


if __name__ == "__main__":
    main()
