"""Heat diffusion on a latitude-longitude grid: clamped at the poles, periodic in longitude.

One mode per core axis, ``boundary=("nearest", "wrap")``, which neither numba.stencil nor
scipy.ndimage's N-D filters offer; the same numbers on NumPy and on a chunked Dask array.
"""
import dask.array as da
import numpy as np

from stencilc import stencil_ufunc


@stencil_ufunc(boundary=("nearest", "wrap"))
def diffuse(u, alpha):
    return u[0, 0] + alpha * (u[-1, 0] + u[1, 0] + u[0, -1] + u[0, 1] - 4 * u[0, 0])


def main(nlat: int = 90, nlon: int = 180, steps: int = 20) -> np.ndarray:
    lat = np.linspace(-89, 89, nlat)[:, None]
    lon = np.linspace(0, 360, nlon, endpoint=False)[None, :]
    u = np.cos(np.radians(lat)) * (lon < 20)          # a warm strip across the date line

    numpy_state = u
    dask_state = da.from_array(u, chunks=(nlat // 3, nlon // 4))
    for _ in range(steps):
        numpy_state = diffuse(numpy_state, 0.2)
        dask_state = diffuse(dask_state, 0.2)
    result = dask_state.compute()
    np.testing.assert_array_equal(result, numpy_state)
    west, east = result[nlat // 2, -3:], result[nlat // 2, :3]
    print(f"heat crossed the date line westwards: {np.round(west, 3)} | {np.round(east, 3)}")
    print(f"{steps} steps on {nlat}x{nlon}: Dask ({dask_state.numblocks} blocks) equals NumPy")
    return result


if __name__ == "__main__":
    main()
