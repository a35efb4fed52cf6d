"""Migrating from scipy.ndimage (and dask-image, cupyx): the same calls through
``stencilc.ndimage``, checked against scipy.ndimage on a photograph-sized array, then on a
chunked Dask stack, with one new keyword: ``target="parallel"`` for every core.

Also: a hand-written kernel's boundary chosen per call (``f(x, boundary="wrap")``).
"""
import dask.array as da
import numpy as np
import scipy.ndimage as ndi

from stencilc import ndimage as snd
from stencilc import stencil_ufunc


@stencil_ufunc                                   # boundary chosen at each call below
def laplacian(u):
    return u[-1, 0] + u[1, 0] + u[0, -1] + u[0, 1] - 4 * u[0, 0]


def main(shape=(120, 160), planes: int = 4) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    calls = {
        "gaussian_filter(sigma=2, mode='nearest')":
            lambda m, x: m.gaussian_filter(x, 2.0, mode="nearest"),
        "sobel(axis=0)": lambda m, x: m.sobel(x, axis=0),
        "median_filter(size=3)": lambda m, x: m.median_filter(x, size=3),
        "correlate(weights, mode='wrap')":
            lambda m, x: m.correlate(x, np.outer([1, 2, 1], [1, 0, -1]) / 8, mode="wrap"),
        "generic_filter(max - min, size=3)":
            lambda m, x: m.generic_filter(x, lambda v: v.max() - v.min(), size=3),
    }
    for name, call in calls.items():
        ours = call(snd, image)
        np.testing.assert_array_equal(ours, call(ndi, image))        # scipy's values
        print(f"{name:<40} {ours.dtype}  equals scipy.ndimage")

    stack = da.from_array(rng.integers(0, 256, (planes, *shape), dtype=np.uint8),
                          chunks=(1, shape[0] // 2, shape[1] // 3))
    lazy = snd.uniform_filter(stack, size=5, axes=(1, 2))           # one overlap, lazy
    np.testing.assert_array_equal(lazy.compute(),
                                  ndi.uniform_filter(stack.compute(), size=5, axes=(1, 2)))
    print(f"uniform_filter on a Dask stack of {stack.numblocks} blocks equals scipy.ndimage")

    u = rng.integers(-1000, 1000, shape).astype(np.int32)   # integers: exact in any order
    periodic = laplacian(u, boundary="wrap")
    clamped = laplacian(u, boundary="nearest")
    np.testing.assert_array_equal(periodic, ndi.correlate(u, [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
                                                          mode="wrap"))
    print(f"laplacian: wrap and nearest differ at {np.count_nonzero(periodic != clamped)} "
          "border points, equal inside")


if __name__ == "__main__":
    main()
