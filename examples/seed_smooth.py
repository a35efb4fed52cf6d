"""The seed workflow of the reference post, rewritten with stencilc.

The post needed a numba.stencil, a numba.guvectorize with hard-coded int8 types and an
``out`` argument, and one-chunk-per-image Dask plumbing. Here one decorator does it, and the
result is checked against the post's own code. Run with ``make demo``.
"""
import time

import dask.array as da
import numba
import numpy as np

from stencilc import stencil_ufunc


@stencil_ufunc("(n,m)->(n,m)")
def smooth(x):
    return (x[-1, -1] + x[-1, 0] + x[-1, 1] +
            x[ 0, -1] + x[ 0, 0] + x[ 0, 1] +
            x[ 1, -1] + x[ 1, 0] + x[ 1, 1]) // 9


def seed_smooth():
    """The post's code, verbatim: the reference stencilc must match."""
    @numba.stencil
    def _smooth(x):
        return (x[-1, -1] + x[-1, 0] + x[-1, 1] +
                x[ 0, -1] + x[ 0, 0] + x[ 0, 1] +
                x[ 1, -1] + x[ 1, 0] + x[ 1, 1]) // 9

    @numba.guvectorize([(numba.int8[:, :], numba.int8[:, :])], "(n, m) -> (n, m)")
    def smooth(x, out):
        out[:] = _smooth(x)

    return smooth


def main() -> None:
    rng = np.random.default_rng(0)
    stack = rng.integers(-128, 128, size=(16, 500, 500), dtype=np.int8)   # a synthetic stack

    start = time.perf_counter()
    y = smooth(stack)                       # compiled for int8 on this first call
    print(f"stencilc, NumPy input : {y.dtype} {y.shape}, first call "
          f"{time.perf_counter() - start:.2f} s (includes compilation or the disk cache)")

    lazy = da.from_array(stack, chunks=(4, -1, -1))
    z = smooth(lazy)                        # Dask array in, lazy Dask array out
    print(f"stencilc, Dask input  : {type(z).__name__} chunks {z.chunksize}")
    np.testing.assert_array_equal(z.compute(), y)

    start = time.perf_counter()
    reference = seed_smooth()(stack)
    print(f"seed numba.stencil + guvectorize compiled and ran in "
          f"{time.perf_counter() - start:.2f} s")
    np.testing.assert_array_equal(y, reference)
    print("stencilc equals the seed's result bit for bit.")


if __name__ == "__main__":
    main()
