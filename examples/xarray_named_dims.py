"""A stencil applied to an xarray DataArray with named dims, backed by a chunked Dask array."""
import dask.array as da
import numpy as np
import xarray as xr

from stencilc import stencil_ufunc


@stencil_ufunc(boundary="nearest")
def laplacian(u):
    return u[-1, 0] + u[1, 0] + u[0, -1] + u[0, 1] - 4 * u[0, 0]


def main() -> None:
    values = np.random.default_rng(0).normal(size=(3, 60, 80))
    field = xr.DataArray(da.from_array(values, chunks=(1, 20, 40)), dims=("time", "y", "x"),
                         coords={"time": [0, 1, 2]}, name="temperature")
    result = xr.apply_ufunc(laplacian, field, input_core_dims=[["y", "x"]],
                            output_core_dims=[["y", "x"]], dask="allowed")
    print(result)
    np.testing.assert_array_equal(result.values, laplacian(values))
    print("xarray + dask result equals the NumPy result")


if __name__ == "__main__":
    main()
